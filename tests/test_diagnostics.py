"""The broken-spec suite: every file in tests/broken/ is a spec with mistakes.

Each offending line carries its expected diagnostics as a trailing comment,
mypy-style (1-based columns, as agqc reports them)::

    h = x + y  # E: 9 shape-mismatch
    a = f(q)   # E: 5 unknown-op; E: 7 unknown-name
    h = x -> batchnorm()  # W: 14 precision-kept
    # E@12: 1 no-model      <- for line 12, written on a line of its own

A file whose name starts with ``_`` is a helper (imported by an entry file,
e.g. the second half of ``cycle/``) and is not checked on its own; all
expectations live in the entry file, and a diagnostic located in another
file is always unexpected.

The checker runs in-process (``agqc.frontend.check``); every diagnostic it
gives, errors and warnings, must be expected, and every expectation must be
met.  A second test runs ``python -m agqc check`` over the whole suite and
checks the rendered text; a third checks the notes of shape mismatches.
"""
from __future__ import annotations

import re
import subprocess
import sys
import traceback
from collections import Counter
from pathlib import Path

import pytest

from agqc import AgqcError
from agqc.errorcodes import CODES
from agqc.frontend import check

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "broken"

# `# E: 9 shape-mismatch; W@12: 3 precision-kept`: the whole comment is expectations.
_ONE = r"([EW])(?:@(\d+))?:\s*(\d+)\s+([a-z][a-z0-9-]*)"
_COMMENT = re.compile(r"#\s*(" + _ONE + r"(?:\s*;\s*" + _ONE + r")*)\s*$")
_ITEM = re.compile(_ONE)
_LOOKS_LIKE = re.compile(r"#.*\b[EW](?:@\d+)?:")  # a comment that tries to be an expectation
SEVERITY = {"E": "error", "W": "warning"}


def entry_files() -> list[Path]:
    return sorted(p for p in BROKEN.rglob("*.agq") if not p.name.startswith("_"))


def helper_files() -> list[Path]:
    return sorted(p for p in BROKEN.rglob("*.agq") if p.name.startswith("_"))


def rel(path: Path | str) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def parse_expectations(path: Path) -> Counter:
    """(severity, file, line, col, code) -> count, for every expectation comment in ``path``."""
    expected: Counter = Counter()
    for lineno, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = _COMMENT.search(text)
        if m is None:
            if _LOOKS_LIKE.search(text):
                raise ValueError(f"{rel(path)}:{lineno}: malformed expectation comment: {text.strip()!r}")
            continue
        for sev, at, col, code in _ITEM.findall(m.group(1)):
            expected[(SEVERITY[sev], rel(path), int(at) if at else lineno, int(col), code)] += 1
    return expected


def run_check(path: Path):
    """(diagnostics, crash text or None)."""
    try:
        program = check(path)
    except AgqcError as err:
        return list(err.diagnostics), None
    except Exception:  # noqa: BLE001 - a crash is a finding, shown as such
        return [], traceback.format_exc(limit=-4)
    return list(program.diagnostics), None


def key(d) -> tuple[str, str, int, int, str]:
    return (d.severity, rel(d.span.file), d.span.line, d.span.col, d.code)


def _show(k, message: str | None = None) -> str:
    sev, file, line, col, code = k
    return f"  {file}:{line}:{col}: {sev}[{code}]" + (f": {message}" if message else "")


# ---- the suite itself ---------------------------------------------------------------
def test_suite_is_well_formed():
    entries = entry_files()
    assert len(entries) >= 22, f"only {len(entries)} broken specs"
    codes = set()
    for path in entries:
        exp = parse_expectations(path)
        assert exp, f"{rel(path)} states no expected diagnostic"
        codes |= {k[4] for k in exp}
    for path in helper_files():
        assert not parse_expectations(path), f"{rel(path)}: helpers carry no expectations (put them in the entry)"
    unknown = codes - set(CODES)
    assert not unknown, f"expectations name undeclared codes: {sorted(unknown)}"
    must_cover = {"syntax", "unknown-name", "unknown-op", "unknown-arg", "arg-type", "missing-arg",
                  "too-many-args", "shape-mismatch", "bad-value", "dtype-mismatch", "unused-input",
                  "missing-return", "return-type", "import-not-found", "import-cycle", "recursive-block",
                  "repeat-shape", "unknown-precision", "unknown-role", "symbolic-dim", "duplicate-name",
                  "misplaced", "unpack-count", "tuple-value", "precision-kept"}
    assert must_cover <= codes, f"no broken spec covers {sorted(must_cover - codes)}"


@pytest.mark.parametrize("path", entry_files(), ids=lambda p: rel(p).removeprefix("tests/broken/"))
def test_broken_spec(path: Path):
    expected = parse_expectations(path)
    diagnostics, crash = run_check(path)
    if crash is not None:
        pytest.fail(f"agqc crashed on {rel(path)} (a user should get exit status 1 and diagnostics):\n{crash}",
                    pytrace=False)
    got = Counter(key(d) for d in diagnostics)
    if got != expected:
        lines = [f"{rel(path)}: diagnostics differ from the expectation comments"]
        missing, unexpected = sorted((expected - got).elements()), (got - expected)
        if missing:
            lines.append("missing (expected, not reported):")
            lines += [_show(k) for k in missing]
        if unexpected:
            lines.append("unexpected (reported, not expected):")
            extra = []
            for d in diagnostics:  # the surplus ones, with their messages
                if unexpected[key(d)] > 0:
                    unexpected[key(d)] -= 1
                    extra.append(d)
            lines += [_show(key(d), d.message) for d in sorted(extra, key=key)]
        pytest.fail("\n".join(lines), pytrace=False)


# ---- the command line -----------------------------------------------------------------
_HEAD = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): "
                   r"(?P<sev>error|warning)\[(?P<code>[a-z0-9-]+)\]: \S")
_SOURCE = re.compile(r"^ *(?P<line>\d+) \| (?P<text>.*)$")
_CARET = re.compile(r"^ +\| (?P<pad> *)(?P<carets>\^+)$")
_SUMMARY = re.compile(r"^(?P<file>\S+): (?P<n>\d+) errors?$")


def _cli_runs(entries: list[str]):
    """Run `python -m agqc check` over the entries; after a crash, go on with the files after it.

    Gives (runs, crashes): each run is (files that finished, completed process,
    stderr lines before any crash report, whether it crashed); each crash is
    (file, exit status, the end of its report).
    """
    runs, crashes, remaining = [], [], list(entries)
    while remaining:
        proc = subprocess.run([sys.executable, "-m", "agqc", "check", *remaining], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        lines = proc.stderr.splitlines()
        cut = next((i for i, line in enumerate(lines) if line.startswith("agqc: internal error")
                    or line.startswith("Traceback")), None)
        finished = {m["file"] for m in map(_SUMMARY.match, lines) if m} | {
            line.split(": ok")[0] for line in proc.stdout.splitlines() if ": ok" in line}
        if cut is None and proc.returncode != 2:
            runs.append((remaining, proc, lines, False))
            break
        crashed = next((f for f in remaining if f not in finished), remaining[-1])
        crashes.append((crashed, proc.returncode, "\n".join(lines[cut:][-3:] if cut is not None else lines[-3:])))
        runs.append((remaining[:remaining.index(crashed)], proc, lines[:cut], True))
        remaining = remaining[remaining.index(crashed) + 1:]
    return runs, crashes


def _check_rendering(lines: list[str], problems: list[str]) -> set[str]:
    """Check each rendered diagnostic; give the files that got an `N errors` line."""
    summarised, i = set(), 0
    while i < len(lines):
        line = lines[i]
        head, summary = _HEAD.match(line), _SUMMARY.match(line)
        if summary:
            summarised.add(summary["file"])
            i += 1
            continue
        if head is None:
            problems.append(f"stray line: {line!r}")
            i += 1
            continue
        file, lineno, col = head["file"], int(head["line"]), int(head["col"])
        src = (ROOT / file).read_text(encoding="utf-8").splitlines() if (ROOT / file).is_file() else None
        source = _SOURCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        caret = _CARET.match(lines[i + 2]) if i + 2 < len(lines) else None
        if src is None:
            problems.append(f"{line!r}: no such file {file}")
        elif source is None or caret is None:
            problems.append(f"{line!r}: not followed by the source line and a caret line")
        else:
            if int(source["line"]) != lineno or source["text"] != src[lineno - 1].expandtabs(1):
                problems.append(f"{line!r}: shows {lines[i + 1]!r}, not line {lineno} of {file}")
            if len(caret["pad"]) != col - 1 or lines[i + 2].index("|") != lines[i + 1].index("|"):
                problems.append(f"{line!r}: caret not under column {col}: {lines[i + 2]!r}")
        i += 3
        while i < len(lines) and lines[i].startswith("  note: "):
            i += 1
    return summarised


def test_cli_check_renders_every_diagnostic():
    entries = [rel(p) for p in entry_files()]
    runs, crashes = _cli_runs(entries)
    problems = [f"{file}: agqc crashed (exit {rc}, expected 1 and diagnostics):\n    " + tail.replace("\n", "\n    ")
                for file, rc, tail in crashes]
    summarised, ok = set(), set()
    for files, proc, lines, crashed_run in runs:
        if not files:
            continue
        summarised |= _check_rendering(lines, problems)
        ok |= {line.split(": ok")[0] for line in proc.stdout.splitlines() if ": ok" in line}
        want = 1 if any(any(k[0] == "error" for k in parse_expectations(ROOT / f)) for f in files) else 0
        if not crashed_run and proc.returncode != want:
            problems.append(f"exit status {proc.returncode}, expected {want}, for agqc check {' '.join(files)}")
    crashed = {c[0] for c in crashes}
    for path in map(rel, entry_files()):
        if path in crashed:
            continue
        has_errors = any(k[0] == "error" for k in parse_expectations(ROOT / path))
        if has_errors and path not in summarised:
            problems.append(f"{path}: no `{path}: N errors` line")
        if not has_errors and path not in ok:
            problems.append(f"{path}: has only warnings but is not reported ok")
    assert not problems, "\n".join(problems[:40])


# ---- notes --------------------------------------------------------------------------
def _diagnostics(name: str):
    diagnostics, crash = run_check(BROKEN / name)
    assert crash is None, crash
    return diagnostics


def test_shape_mismatch_notes_say_expected_and_found():
    (d,) = [d for d in _diagnostics("shape_concat.agq") if d.code == "shape-mismatch"]
    assert d.span.line == 7
    assert any(n.startswith("expected [B, 64]") for n in d.notes), d.notes
    assert "found [B, 3, 32] (from line 6)" in d.notes, d.notes
    # every shape mismatch in the suite explains itself the same way
    for name in ("shape_add.agq", "shape_block_input.agq", "network_call.agq"):
        for d in _diagnostics(name):
            if d.code == "shape-mismatch":
                assert any(n.startswith("expected ") for n in d.notes), (name, d.span.line, d.notes)
                found = [n for n in d.notes if re.fullmatch(r"found .+ \(from line \d+\)", n)]
                assert found, (name, d.span.line, d.notes)


@pytest.mark.parametrize("name, line, suggestion", [
    ("unknown_name.agq", 7, "HIDDEN"),
    ("unknown_op.agq", 9, "linear"),
    ("unknown_op.agq", 10, "Encoder"),
    ("unknown_op.agq", 11, "softmax"),
    ("unknown_arg.agq", 8, "stride"),
    ("unknown_arg.agq", 10, "hidden"),
    ("unknown_role.agq", 12, "generator"),
])
def test_did_you_mean(name, line, suggestion):
    notes = [n for d in _diagnostics(name) if d.span.line == line for n in d.notes]
    assert f"did you mean `{suggestion}`?" in notes, notes
