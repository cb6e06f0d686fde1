"""One open document checked from the editor's buffer: its diagnostics, checked program and index.

Takes a spec's path, the buffer's text and the other open buffers (a sibling the spec imports may be
unsaved too); gives ``Analysis``: the diagnostics ``agqc check`` would print for that text, the
checked ``Program`` when there was no error (annotated on first use, for parameter counts), and,
on first use, the ``Index`` of what the spec can name (blocks, constants, imports, the model) with
where each is defined.  Nothing here knows of LSP.
"""
from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .. import ast
from ..diagnostics import AgqcError, Diagnostic, Reporter, Span
from ..errorcodes import Code
from ..frontend import check
from ..ir import Program
from ..kinds import Severity
from ..loader import STDLIB, Scope, load, parse_cached
from ..policy import MAX_FILE_BYTES, MAX_PROGRAM_TOKENS


@dataclass
class Index:
    """What a spec can name, and where each name is defined (read from the loader's scope)."""

    blocks: dict[str, ast.Block] = field(default_factory=dict)
    consts: dict[str, Span] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)  # each constant's value
    imports: list[tuple[ast.Import, Path | None]] = field(default_factory=list)  # the main file's, resolved
    module: ast.Module | None = None  # the main file, parsed (None on a syntax error)


@dataclass
class Analysis:
    path: Path
    text: str
    buffers: dict[str, str]
    parsed: dict | None = None  # the server's cache of syntax trees, by (file, text): unchanged imports parse once
    diagnostics: list[Diagnostic] = field(default_factory=list)
    program: Program | None = None
    _index: Index | None = None

    @property
    def index(self) -> Index:
        if self._index is None:
            self._index = build_index(self.path, self.buffers, self.parsed)
        return self._index

    def annotated(self) -> Program | None:
        """The checked program with the annotate pass's facts (parameter counts), or None after an error."""
        if self.program is not None and not self.program.annotated:
            from ..passes.annotate import annotate
            try:
                annotate(self.program)
            except Exception:  # a fact we cannot compute must not take hover down
                return None
        return self.program


def analyse(path: Path, text: str, others: dict[str, str] | None = None, parsed: dict | None = None) -> Analysis:
    """Check ``text`` as the spec at ``path`` (with ``others``: resolved path -> other open buffers).

    ``parsed``: a dict kept between calls, where the loader keeps the syntax tree of each file's text.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as the loader reads files
    buffers = dict(others or {})
    buffers[str(path.resolve())] = text
    result = Analysis(path, text, buffers, parsed)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:  # the loader's limit, which a buffer skips
        result.diagnostics = [Diagnostic(Severity.ERROR, Code.LIMIT, f"{path.name} is larger than "
                                         f"{MAX_FILE_BYTES:,} bytes", Span(str(path), 1, 1, 1, 2))]
        return result
    try:
        result.program = check(path, buffers=buffers, parsed=parsed)
        result.diagnostics = list(result.program.diagnostics)
    except AgqcError as err:
        result.diagnostics = list(err.diagnostics)
    except Exception as exc:  # agqc's own bug: shown in the editor rather than killing the server
        last = traceback.format_exception_only(exc)[-1].strip()
        result.diagnostics = [Diagnostic(Severity.ERROR, Code.SYNTAX, f"agqc internal error: {last}",
                                         Span(str(path), 1, 1, 1, 2), ("please report it with this spec",))]
    return result


def build_index(path: Path, buffers: dict[str, str], parsed: dict | None = None) -> Index:
    """The names a spec defines and imports, as far as its files parse."""
    index = Index()
    text = buffers.get(str(path.resolve()), "")
    try:
        index.module = parse_cached(text, str(path), MAX_PROGRAM_TOKENS, parsed)
    except AgqcError:
        return index
    for item in index.module.items:
        if isinstance(item, ast.Import):
            index.imports.append((item, _resolve(item, path)))
    scope: Scope | None = None
    try:
        scope = load(path, Reporter(), buffers=buffers, parsed=parsed)
    except (AgqcError, RecursionError):
        pass
    if scope is not None:
        index.blocks = dict(scope.blocks)
        index.consts = dict(scope.const_spans)
        index.values = dict(scope.consts)
    else:  # an import is broken: at least the main file's own names
        for item in index.module.items:
            if isinstance(item, ast.Block):
                index.blocks.setdefault(item.name, item)
            elif isinstance(item, ast.Const):
                index.consts.setdefault(item.name, item.name_span)
    return index


def _resolve(item: ast.Import, importer: Path) -> Path | None:
    if item.is_std:
        parts = item.target.split(".")
        target = STDLIB.joinpath(*parts[1:]).with_suffix(".agq") if parts[0] == "std" and len(parts) > 1 else None
    else:
        target = importer.parent / item.target
    return target.resolve() if target is not None and target.is_file() else None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def word_at(text: str, line: int, col: int) -> tuple[str, int, int] | None:
    """The name under a 1-based (line, col) (or just before it): (name, first col, end col), or None."""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return None
    for m in _WORD.finditer(lines[line - 1]):
        if m.start() + 1 <= col <= m.end() + 1:
            return m[0], m.start() + 1, m.end() + 1
    return None
