"""Formatting and quick fixes.

Takes a document's text (and, for quick fixes, the diagnostics the editor sends back); gives LSP
``TextEdit`` s that turn the document into ``agqc fmt``'s layout (none when it already is, or does
not parse), and ``CodeAction`` s that replace a misspelt name with what a "did you mean `X`?" note
suggests.
"""
from __future__ import annotations

import re

from lsprotocol import types as lsp

from ..diagnostics import AgqcError
from ..fmt import format_source

_SUGGESTION = re.compile(r"did you mean (?:the network )?`([^`]+)`(?: or `([^`]+)`)*\?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def formatting(text: str, file: str) -> list[lsp.TextEdit]:
    """One edit replacing the whole document with its formatted text; none when unchanged or not parseable."""
    try:
        out = format_source(text, file)
    except (AgqcError, RuntimeError):  # a syntax error is already a diagnostic; fmt refusing is its own check
        return []
    if out == text:
        return []
    lines = text.split("\n")
    end = lsp.Position(len(lines) - 1, len(lines[-1]))
    return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), out)]


def suggestions(message: str) -> list[str]:
    """The names a diagnostic's "did you mean" notes offer, in order."""
    out: list[str] = []
    for m in _SUGGESTION.finditer(message):
        out += re.findall(r"`([^`]+)`", m[0])
    return [s for s in dict.fromkeys(out) if _NAME.fullmatch(s)]


def quick_fixes(text: str, uri: str, diagnostics: list[lsp.Diagnostic]) -> list[lsp.CodeAction]:
    """A "replace with X" action for each suggestion of each agqc diagnostic given."""
    actions = []
    lines = text.split("\n")
    for d in diagnostics:
        if d.source != "agqc" or d.range.start.line != d.range.end.line or d.range.start.line >= len(lines) \
                or d.message.split("\n")[-1].startswith("(in "):  # shown here, but the mistake is in another file
            continue
        line = lines[d.range.start.line]
        m = _NAME.search(line, d.range.start.character, max(d.range.end.character, d.range.start.character + 1))
        if m is None:
            continue
        target = lsp.Range(lsp.Position(d.range.start.line, m.start()), lsp.Position(d.range.start.line, m.end()))
        for i, name in enumerate(n for n in suggestions(d.message) if n != m[0]):
            edit = lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(target, name)]})
            actions.append(lsp.CodeAction(title=f"Replace `{m[0]}` with `{name}`", kind=lsp.CodeActionKind.QuickFix,
                                          diagnostics=[d], edit=edit, is_preferred=i == 0))
    return actions
