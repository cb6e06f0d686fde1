"""``agqc fmt``: .agq files -> the same programs in the one canonical layout.

Takes spec paths (or, through ``format_source``, a text and its file name);
gives the formatted text, with every comment kept, made by
``agqc.fmt_layout``, and ``short_diff`` (what ``agqc fmt --check`` shows).
A spec with a syntax error gets the usual located diagnostic.  The CLI prints,
checks or writes the result.  Every result is parsed again and must give the
same program as the input, with the same comments in the same order, or agqc
stops with an internal error rather than write it.  Imports neither torch nor
the checker.
"""
from __future__ import annotations

import difflib
from dataclasses import fields, is_dataclass
from pathlib import Path

from .diagnostics import AgqcError, Diagnostic, Span, decode_error_span
from .errorcodes import Code
from .fmt_layout import Layout, scan
from .kinds import Severity
from .parse import parse_source

DIFF_LINES = 40  # a --check diff longer than this is cut, with a count of what was left out


def format_source(text: str, file: str = "<string>") -> str:
    """The canonical layout of one file's text. Raises AgqcError on a syntax error."""
    module = parse_source(text, file)
    try:
        out = Layout(text, module).render()
        same = erase_spans(parse_source(out, file)) == erase_spans(module)
    except RecursionError:  # the parser has its own limit; formatting and comparing recurse a little deeper
        raise AgqcError([Diagnostic(Severity.ERROR, Code.LIMIT, "an expression is nested too deeply to format",
                                    Span(file, 1, 1, 1, 2), ("split it with constants or intermediate names",))]) \
            from None
    if not same:
        raise RuntimeError(f"agqc fmt changed the meaning of {file}; nothing was written")
    if [c.text for c in scan(out)[0]] != [c.text for c in scan(text)[0]]:
        raise RuntimeError(f"agqc fmt lost or reordered a comment in {file}; nothing was written")
    return out


def erase_spans(node):
    """An AST as nested tuples without its spans (or token counts): equal for the same program however laid out."""
    if is_dataclass(node):
        return (type(node).__name__,) + tuple(erase_spans(getattr(node, f.name)) for f in fields(node)
                                              if f.compare and not isinstance(getattr(node, f.name), Span))
    if isinstance(node, tuple):
        return tuple(erase_spans(x) for x in node)
    return node


def read_spec(path: Path, name: str) -> str:
    """A spec's text; a file too large, unreadable or not UTF-8 is a located AgqcError."""
    from .loader import SourceTooLarge, read_source
    from .policy import MAX_FILE_BYTES
    try:
        return read_source(path)
    except SourceTooLarge:
        raise AgqcError([Diagnostic(Severity.ERROR, Code.LIMIT, f"{path.name} is larger than {MAX_FILE_BYTES:,} bytes",
                                    Span(name, 1, 1, 1, 2))]) from None
    except UnicodeDecodeError as exc:
        where = decode_error_span(name, exc.object, exc)
        raise AgqcError([Diagnostic(Severity.ERROR, Code.SYNTAX, f"{path.name} is not UTF-8 text: byte "
                                    f"0x{exc.object[exc.start]:02x} at line {where.line}, column {where.col}",
                                    where, ("save the file as UTF-8",))]) from None
    except OSError as exc:
        raise AgqcError([Diagnostic(Severity.ERROR, Code.IMPORT_NOT_FOUND, f"cannot read {name}: {exc.strerror or exc}",
                                    Span(name, 1, 1, 1, 2))]) from None


def short_diff(old: str, new: str, name: str) -> str:
    """A unified diff of what formatting would change, cut after ``DIFF_LINES`` lines."""
    lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                      fromfile=name, tofile=f"{name} (formatted)"))
    lines = [line if line.endswith("\n") else line + "\n" for line in lines]
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"... {len(lines) - DIFF_LINES} more diff lines\n"]
    return "".join(lines)
