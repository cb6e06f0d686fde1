"""Conversions between agqc's locations and diagnostics and the Language Server Protocol's.

Takes ``Span`` s (1-based lines and columns, end exclusive) and agqc ``Diagnostic`` s; gives LSP
``Range`` s (0-based), ``Location`` s and ``Diagnostic`` s grouped by the URI of the file they lie in.
A diagnostic inside another file (an imported spec, a standard-library block) is published for that
file and, at the call in the checked file that led there, for the checked file too, related to the
real place.  Columns count characters, as agqc does (LSP counts UTF-16 units: the same for text in
the Basic Multilingual Plane).
"""
from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp
from pygls import uris

from ..diagnostics import Diagnostic, Span
from ..kinds import Severity

SOURCE = "agqc"
# a note's reference to a place: "called at /path/x.agq:12:5", "first defined at x.agq:3:1"
_PLACE = re.compile(r"(?P<file>[^\s`'\"(]+\.agq):(?P<line>\d+):(?P<col>\d+)")


def uri_of(file: str) -> str:
    """The file URI of a spec path (made absolute and resolved, as the loader's keys are)."""
    return uris.from_fs_path(str(Path(file).resolve())) or file


def path_of(uri: str) -> Path | None:
    """The file path of a ``file:`` URI, or None for other schemes (``untitled:``)."""
    path = uris.to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path) if path else None


def to_range(span: Span) -> lsp.Range:
    """An LSP range (0-based) for a span; a span with no place is the file's start."""
    if span.line <= 0:
        return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    return lsp.Range(lsp.Position(span.line - 1, max(span.col - 1, 0)),
                     lsp.Position(max(span.end_line - 1, 0), max(span.end_col - 1, 0)))


def contains(span: Span, line: int, col: int) -> bool:
    """Whether a 1-based (line, col) lies in the span; its end counts too (a cursor just after a word)."""
    return (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col)


def place_in(note: str) -> tuple[str, int, int] | None:
    """The (file, line, col) a note points at, or None."""
    m = _PLACE.search(note)
    return (m["file"], int(m["line"]), int(m["col"])) if m else None


def _location(file: str, line: int, col: int) -> lsp.Location:
    pos = lsp.Position(line - 1, col - 1)
    return lsp.Location(uri_of(file), lsp.Range(pos, pos))


def to_lsp(d: Diagnostic) -> lsp.Diagnostic:
    """One agqc diagnostic as the CLI words it: the message, its notes as further lines and as related places."""
    related = [lsp.DiagnosticRelatedInformation(_location(*p), note)
               for note in d.notes if (p := place_in(note)) is not None]
    message = "\n".join([d.message, *(f"note: {n}" for n in d.notes)])
    return lsp.Diagnostic(range=to_range(d.span), message=message, source=SOURCE, code=str(d.code),
                          severity=lsp.DiagnosticSeverity.Error if d.severity == Severity.ERROR
                          else lsp.DiagnosticSeverity.Warning,
                          related_information=related or None)


def by_uri(diagnostics: list[Diagnostic], main: str, text: str) -> dict[str, list[lsp.Diagnostic]]:
    """Each file's LSP diagnostics; the checked file ``main`` (a URI, holding ``text``) always has an entry.

    A diagnostic in another file is also shown in ``main`` at the call that led into that file (the
    outermost trail note that points into ``main``), saying where it lies.
    """
    out: dict[str, list[lsp.Diagnostic]] = {main: []}
    for d in diagnostics:
        converted = to_lsp(d)
        uri = uri_of(d.span.file) if d.span.line > 0 else main
        out.setdefault(uri, []).append(converted)
        if uri == main:
            continue
        calls = [p for n in d.notes if (p := place_in(n)) is not None and uri_of(p[0]) == main]
        if calls:
            file, line, col = calls[-1]  # the outermost: the user's own call
            pos = lsp.Position(line - 1, col - 1)
            end = lsp.Position(line - 1, col - 1 + word_length(text, line, col))
            where = f"{Path(d.span.file).name}:{d.span.line}:{d.span.col}"
            out[main].append(lsp.Diagnostic(
                range=lsp.Range(pos, end), message=f"{converted.message}\n(in {where})", source=SOURCE,
                code=str(d.code), severity=converted.severity,
                related_information=[lsp.DiagnosticRelatedInformation(
                    lsp.Location(uri, converted.range), f"{d.message} ({where})")]))
    return out


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def word_length(text: str, line: int, col: int) -> int:
    """The length of the name that starts at a 1-based (line, col) of ``text``; 0 when none does."""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return 0
    m = _WORD.match(lines[line - 1], col - 1)
    return len(m[0]) if m else 0
