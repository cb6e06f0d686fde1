"""Go to definition and document symbols, read from a document's ``Index``.

Takes an ``Analysis`` (and a 1-based position, for definitions); gives LSP ``Location`` s and
``DocumentSymbol`` s.  A block or constant leads to where it is defined, in this file, an imported
sibling or the standard library (``agqc/stdlib``); an import leads to the file it imports.
"""
from __future__ import annotations

from lsprotocol import types as lsp

from .. import ast
from .analysis import Analysis, word_at
from .convert import contains, to_range, uri_of
from .hover import block_signature


def definition(analysis: Analysis, line: int, col: int) -> list[lsp.Location]:
    """Where the name (or import) at a 1-based (line, col) is defined; empty when nowhere known."""
    index = analysis.index
    for item, target in index.imports:
        if contains(item.span, line, col):
            if target is None:
                return []
            start = lsp.Position(0, 0)
            return [lsp.Location(uri_of(str(target)), lsp.Range(start, start))]
    found = word_at(analysis.text, line, col)
    if found is None:
        return []
    word = found[0]
    if word in index.blocks:
        span = index.blocks[word].name_span
    elif word in index.consts:
        span = index.consts[word]
    else:
        return []
    return [lsp.Location(uri_of(span.file), to_range(span))]


def symbols(analysis: Analysis) -> list[lsp.DocumentSymbol]:
    """The document's outline: imports, constants, blocks (with their signature) and the model (with its networks)."""
    module = analysis.index.module
    if module is None:
        return []
    out = []
    for item in module.items:
        if isinstance(item, ast.Import):
            out.append(_symbol(item.target, lsp.SymbolKind.Module, item.span, item.span, "import"))
        elif isinstance(item, ast.Const):
            out.append(_symbol(item.name, lsp.SymbolKind.Constant, item.span, item.name_span, "const"))
        elif isinstance(item, ast.Block):
            out.append(_symbol(item.name, lsp.SymbolKind.Function, item.span, item.name_span,
                               block_signature(item).removeprefix(f"block {item.name}")))
        elif isinstance(item, ast.Model):
            networks = [_symbol(s.name, lsp.SymbolKind.Field, s.span, s.name_span, s.role)
                        for s in item.body if isinstance(s, ast.NetworkDecl)]
            out.append(_symbol(item.name, lsp.SymbolKind.Class, item.span, item.name_span, "model", networks))
    return out


def _symbol(name: str, kind: lsp.SymbolKind, span, selection, detail: str,
            children: list[lsp.DocumentSymbol] | None = None) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(name=name, kind=kind, range=to_range(span), selection_range=to_range(selection),
                              detail=detail, children=children or None)
