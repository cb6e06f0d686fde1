"""Checking the editor's unsaved text as ``agqc check`` would check the file.

Takes the served folder, the spec's path relative to it and the editor's text; gives a dict for
the page: ``diagnostics`` (each with ``file``, ``line``, ``col``, ``end_line``, ``end_col``,
``severity``, ``code``, ``message``, ``notes``, ``text``: the CLI's rendering, and ``here``: in
the edited file), ``summary`` (``Summary.text()``, or None), ``drawing_html`` (``Spec.to_html()``,
or None) and ``drawing_note`` (why there is no drawing, or what the drawing warns about).

The checker reads files, so the text is written into a fresh temporary folder beside copies of
the ``.agq`` files under the spec's own folder (imports cannot leave it), keeping their layout:
``import "cnn_tf_best.agq"`` then finds its file.  File names in what comes back are mapped from
the copy to the spec's path in the served folder.  Nothing in the text is run: checking and
drawing are what the CLI does with a file from anyone (docs/security.md).  One check at a time.
"""
from __future__ import annotations

import tempfile
import threading
import warnings
from pathlib import Path

from ..diagnostics import AgqcError, Diagnostic, render
from .files import MAX_FILE_BYTES, Refused, list_specs, read_spec, resolve_spec

MIRRORED_BYTES = 50 * MAX_FILE_BYTES  # the copies one check makes, at most
_ONE_AT_A_TIME = threading.Lock()  # checking sets process-wide state (the recursion limit, warning filters)


def check_source(root: Path, relative: str, text: str) -> dict:
    """The page's view of ``text`` as the spec ``relative`` (which need not exist yet)."""
    folder = resolve_spec(root, relative, must_exist=False).parent
    prefix = folder.relative_to(root).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    name = Path(relative).name
    with _ONE_AT_A_TIME, tempfile.TemporaryDirectory(prefix="agqc-serve-") as scratch:
        mirror = Path(scratch).resolve()
        _copy_specs(root, folder, mirror)
        copy = mirror / name
        copy.write_text(text, encoding="utf-8")

        def real(s: str) -> str:
            return s.replace(f"{mirror}/", prefix)

        return _check(copy, real, prefix + name)


def _copy_specs(root: Path, folder: Path, mirror: Path) -> None:
    """Copies of the ``.agq`` files under ``folder``, laid out under ``mirror`` as they are there."""
    copied = 0
    for relative in list_specs(root, under=folder):
        try:
            text = read_spec(root, relative)
        except (Refused, OSError):
            continue  # the checker will say the import is missing, as it would for the file
        copied += len(text)
        if copied > MIRRORED_BYTES:
            return
        target = mirror / (root / relative).relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _check(copy: Path, real, shown: str) -> dict:
    import agqc
    result: dict = {"diagnostics": [], "summary": None, "drawing_html": None, "drawing_note": None}
    try:
        spec = agqc.load(copy)
    except AgqcError as err:
        result["diagnostics"] = [_diagnostic(d, real, shown) for d in err.diagnostics]
        return result
    result["diagnostics"] = [_diagnostic(d, real, shown) for d in spec.warnings]
    if not spec.program.networks:
        result["drawing_note"] = "this file defines no model (blocks alone): there is nothing to draw or count"
        return result
    result["summary"] = real(spec.summary().text())
    result["drawing_html"], result["drawing_note"] = _drawing(spec, real)
    return result


def _drawing(spec, real) -> tuple[str | None, str | None]:
    from ..backends.drawing import DrawingTooBig, NotReadable, RenderError
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            page = spec.to_html()
    except (DrawingTooBig, RenderError, FileNotFoundError, KeyError) as err:
        return None, real(str(err).strip("'\""))
    notes = [real(str(w.message)) for w in said if issubclass(w.category, NotReadable)]
    return real(page), "; ".join(notes) or None


def _diagnostic(d: Diagnostic, real, shown: str) -> dict:
    span = d.span
    return {"file": real(span.file), "here": real(span.file) == shown,
            "line": span.line, "col": span.col, "end_line": span.end_line, "end_col": span.end_col,
            "severity": str(d.severity), "code": str(d.code), "message": real(d.message),
            "notes": [real(n) for n in d.notes], "text": real(render(d))}
