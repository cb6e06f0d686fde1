"""Completion: the words a spec can use at the cursor.

Takes an ``Analysis`` and a 1-based (line, col); gives LSP ``CompletionItem`` s.  After ``@``: the
precisions (from ``types.PRECISIONS``).  Elsewhere: ops from the registry (inserted as a snippet with
their required arguments, the signature as detail and the summary as documentation), the blocks and
constants the spec can name (its own, imported and standard-library), network roles and keywords.
"""
from __future__ import annotations

from lsprotocol import types as lsp

from ..model import ROLES
from ..ops.registry import REQUIRED, OpDef, all_ops
from ..types import PRECISIONS
from .analysis import Analysis
from .hover import block_signature, op_signature

KEYWORDS = ("import", "const", "block", "model", "return", "repeat", "as", "input", "true", "false", "train")


def completions(analysis: Analysis, line: int, col: int) -> list[lsp.CompletionItem]:
    """What may be written at a 1-based (line, col)."""
    lines = analysis.text.split("\n")
    before = lines[line - 1][:col - 1] if 0 < line <= len(lines) else ""
    stem = before.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
    if stem.endswith("@"):
        return [lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.EnumMember,
                                   detail=f"{info.bits}-bit", documentation=info.description)
                for name, info in PRECISIONS.items()]
    items = [_op(op) for op in sorted(all_ops().values(), key=lambda o: o.name)]
    index = analysis.index
    items += [lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Class, detail=block_signature(block),
                                 insert_text=f"{name}($0)", insert_text_format=lsp.InsertTextFormat.Snippet)
              for name, block in sorted(index.blocks.items())]
    items += [lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Constant,
                                 detail=f"const {name} = {index.values.get(name, '?')!r}")
              for name in sorted(index.consts)]
    items += [lsp.CompletionItem(label=role, kind=lsp.CompletionItemKind.Keyword, detail="network role")
              for role in ROLES]
    items += [lsp.CompletionItem(label=word, kind=lsp.CompletionItemKind.Keyword) for word in KEYWORDS]
    return items


def _op(op: OpDef) -> lsp.CompletionItem:
    required = [a for a in op.args if a.default is REQUIRED and not a.variadic]
    snippet = ", ".join(f"${{{i}:{a.name}}}" for i, a in enumerate(required, 1))
    return lsp.CompletionItem(label=op.name, kind=lsp.CompletionItemKind.Function, detail=op_signature(op),
                              documentation=op.summary, insert_text=f"{op.name}({snippet})$0",
                              insert_text_format=lsp.InsertTextFormat.Snippet)
