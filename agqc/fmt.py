"""``agqc fmt``: .agq files -> the same programs in the one canonical layout.

Takes spec paths (or, through ``format_source``, a text and its file name);
gives the formatted text, with every comment kept, made by
``agqc.fmt_layout``.  ``cmd_fmt`` prints it, checks it (``--check``: exit 1
and a short diff for each file that would change) or writes it in place
(``--write``, atomically), and returns the exit status.  A spec with a syntax
error gets the usual located diagnostic and exit 1.  Every result is parsed
again and must give the same program as the input, or agqc stops with an
internal error rather than write it.  Imports neither torch nor the checker.
"""
from __future__ import annotations

import difflib
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path

from .diagnostics import AgqcError, Diagnostic, Span, decode_error_span, render
from .fmt_layout import Layout
from .parse import parse_source

DIFF_LINES = 40  # a --check diff longer than this is cut, with a count of what was left out


def format_source(text: str, file: str = "<string>") -> str:
    """The canonical layout of one file's text. Raises AgqcError on a syntax error."""
    module = parse_source(text, file)
    try:
        out = Layout(text, module).render()
        same = erase_spans(parse_source(out, file)) == erase_spans(module)
    except RecursionError:  # the parser has its own limit; formatting and comparing recurse a little deeper
        raise AgqcError([Diagnostic("error", "limit", "an expression is nested too deeply to format",
                                    Span(file, 1, 1, 1, 2), ("split it with constants or intermediate names",))]) \
            from None
    if not same:
        raise RuntimeError(f"agqc fmt changed the meaning of {file}; nothing was written")
    return out


def erase_spans(node):
    """An AST as nested tuples without its spans: equal for the same program however laid out."""
    if is_dataclass(node):
        return (type(node).__name__,) + tuple(erase_spans(getattr(node, f.name)) for f in fields(node)
                                              if not isinstance(getattr(node, f.name), Span))
    if isinstance(node, tuple):
        return tuple(erase_spans(x) for x in node)
    return node


def cmd_fmt(args) -> int:
    if args.check and args.write:
        print("agqc fmt: give --check (change nothing) or --write (rewrite), not both", file=sys.stderr)
        return 1
    status, changed = 0, []
    for name in args.specs:
        text = None
        try:
            text = _read(Path(name), name)
            out = format_source(text, name)
        except AgqcError as err:
            for d in err.diagnostics:
                print(render(d, {name: text} if text is not None else None), file=sys.stderr)
            status = 1
            continue
        if args.check:
            if out != text:
                changed.append(name)
                print(f"{name}: not formatted", file=sys.stderr)
                sys.stdout.write(_short_diff(text, out, name))
        elif args.write:
            if out != text:
                from .build import write_atomically
                write_atomically({Path(name): out})
                print(f"formatted {name}", file=sys.stderr)
        else:
            sys.stdout.write(out)
    if changed:
        n = len(changed)
        print(f"agqc fmt: {n} file{'s' if n != 1 else ''} would change; run `agqc fmt --write` to fix",
              file=sys.stderr)
        status = 1
    return status


def _read(path: Path, name: str) -> str:
    from .loader import MAX_FILE_BYTES
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise AgqcError([Diagnostic("error", "limit", f"{path.name} is larger than {MAX_FILE_BYTES:,} bytes",
                                        Span(name, 1, 1, 1, 2))])
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        where = decode_error_span(name, path.read_bytes(), exc)
        raise AgqcError([Diagnostic("error", "syntax", f"{path.name} is not UTF-8 text: byte "
                                    f"0x{exc.object[exc.start]:02x} at line {where.line}, column {where.col}",
                                    where, ("save the file as UTF-8",))]) from None
    except OSError as exc:
        raise AgqcError([Diagnostic("error", "import-not-found", f"cannot read {name}: {exc.strerror or exc}",
                                    Span(name, 1, 1, 1, 2))]) from None


def _short_diff(old: str, new: str, name: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                      fromfile=name, tofile=f"{name} (formatted)"))
    lines = [line if line.endswith("\n") else line + "\n" for line in lines]
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"... {len(lines) - DIFF_LINES} more diff lines\n"]
    return "".join(lines)
