"""Fuzzing with ill-formed input (issue 6): agqc answers with located diagnostics, never a crash.

For every input, `agqc check` (and `agqc fmt`, and ``agqc.load``) either succeeds
or prints, for each error, ``file:line:col: error[code]: message`` with a
declared code, a position inside the file, the source line and a caret under
the column, then ``FILE: N errors``, and exits 1.  A traceback, exit status 2
(agqc's own bug), a hang or a memory blow-up fails.  The inputs come from
tests/fuzz_strategies.py: semantically broken specs, text mutations of every
shipped spec, and texts the grammar derives.  The resource-limit tests run the
real command line in a subprocess with a time limit and a 2 GiB address-space
limit; the hypothesis ones run ``agqc.cli.main`` in-process, for speed.
"""
from __future__ import annotations

import contextlib
import io
import re
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, note

import agqc
from agqc.cli import main
from agqc.diagnostics import visible
from agqc.errorcodes import CODES
from agqc.parse import parse_source
from fuzz_strategies import SHIPPED, grammar_sources, ill_formed_specs, mutated_sources

ROOT = Path(__file__).resolve().parent.parent
IN_PROCESS_LIMIT_S = 20  # one in-process check of a small spec takes well under a second
_HEAD = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>-?\d+):(?P<col>-?\d+): "
                   r"(?P<sev>error|warning)\[(?P<code>[^\]]*)\]: \S")
_SOURCE = re.compile(r"^ *(?P<line>\d+) \| (?P<text>.*)$")
_CARET = re.compile(r"^ +\| (?P<pad> *)\^+$")
_SUMMARY = re.compile(r"^(?P<file>.+): (?P<n>\d+) errors?$")


class Hang(BaseException):
    """Raised by the alarm; a BaseException, so that agqc's `except Exception` cannot swallow it."""


@contextlib.contextmanager
def time_limit(seconds: int):
    def on_alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(IN_PROCESS_LIMIT_S):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _lines_of(file: str) -> list[str] | None:
    """A file's lines as agqc reads it (universal newlines; lines end at `\\n` only, as lark counts)."""
    path = Path(file)
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8", errors="replace").split("\n")


def read_diagnostics(stderr: str, context: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Check every rendered diagnostic in ``stderr``; give (file, severity, code) each, and the other lines.

    Each must be located inside an existing file, with a declared code, and be
    followed by the source line it names and a caret under its column.
    """
    lines, i, found, others = stderr.split("\n"), 0, [], []
    while i < len(lines):
        line, head = lines[i], _HEAD.match(lines[i])
        if head is None:
            others += [line] if line else []
            i += 1
            continue
        file, lineno, col, code = head["file"], int(head["line"]), int(head["col"]), head["code"]
        assert code in CODES, f"undeclared code {code!r}{context}"
        text = _lines_of(file)
        assert text is not None, f"{line!r}: no such file{context}"
        assert 1 <= lineno <= len(text), f"{line!r}: line outside the file ({len(text)} lines){context}"
        src = visible(text[lineno - 1].expandtabs(1))  # control characters are shown as pictures
        assert 1 <= col <= len(src) + 1, f"{line!r}: column outside line {lineno} ({len(src)} chars){context}"
        found.append((file, head["sev"], code))
        shown = _SOURCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        caret = _CARET.match(lines[i + 2]) if i + 2 < len(lines) else None
        if shown is None and lineno == len(text) and not src:  # the empty end of the file: nothing to show
            i += 1
        else:
            assert shown is not None and caret is not None, f"{line!r}: no source line and caret{context}"
            assert int(shown["line"]) == lineno and shown["text"] == src, \
                f"{line!r} shows {lines[i + 1]!r}, not line {lineno}: {src!r}{context}"
            assert len(caret["pad"]) == col - 1, f"{line!r}: caret not under column {col}{context}"
            i += 3
        while i < len(lines) and lines[i].startswith("  note: "):
            i += 1
    return found, others


def check_output(rc: int, stdout: str, stderr: str, specs: list[str]) -> dict[str, list[str]]:
    """Assert `agqc check`'s answer is well-formed; give each spec's error codes.

    Each spec with errors gets its `N errors` line (N right) after its diagnostics,
    each without gets `ok`; the exit status is 1 exactly when some spec has errors.
    """
    context = f"\n--- exit {rc}; stderr:\n{stderr[-3000:]}\n--- stdout:\n{stdout[-500:]}"
    assert rc in (0, 1), f"exit status {rc} (2 is an internal error){context}"
    assert "Traceback" not in stderr and "internal error" not in stderr, f"a crash{context}"
    found, others = read_diagnostics(stderr, context)
    errors: dict[str, list[str]] = {s: [] for s in specs}
    for line in others:  # `FILE: N errors`, in the order of the specs
        summary = _SUMMARY.match(line)
        assert summary is not None and summary["file"] in errors, f"not a located diagnostic: {line!r}{context}"
        errors[summary["file"]] = ["?"] * int(summary["n"])
    by_spec = [(f, code) for f, sev, code in found if sev == "error"]
    assert sum(map(len, errors.values())) == len(by_spec), f"`N errors` lines do not add up{context}"
    pending = [code for _, code in by_spec]
    for spec in specs:  # diagnostics come spec by spec: hand each its share in order
        n = len(errors[spec])
        errors[spec], pending = pending[:n], pending[n:]
        if not n:
            assert f"{spec}: ok" in stdout, f"{spec}: neither `ok` nor errors{context}"
    failed = [s for s in specs if errors[s]]
    assert rc == (1 if failed else 0), f"exit {rc} with errors in {failed}{context}"
    return errors


@contextlib.contextmanager
def spec_file(data: str | bytes, name: str = "spec.agq"):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        yield str(path)


def check_text(data: str | bytes, name: str = "spec.agq") -> list[str]:
    """`agqc check` one spec in-process; the error codes (empty: it checked)."""
    with spec_file(data, name) as path:
        rc, out, err = run_cli(["check", path])
        return check_output(rc, out, err, [path])[path]


# ---- 1. semantic mutations --------------------------------------------------------------
@pytest.mark.property
@given(ill_formed_specs())
def test_ill_formed_spec_is_reported(case):
    text, mutations, codes = case
    note(f"mutations: {mutations}\n{text}")
    found = check_text(text)
    if not found and len(mutations) > 1:
        return  # two mutations can cancel out (a width one larger, and split sizes that add up to it)
    assert found, f"{mutations}: a broken spec checked without errors"
    assert codes & set(found), f"{mutations}: expected one of {sorted(codes)}, found {found}"


@pytest.mark.property
@given(ill_formed_specs(max_mutations=1))
def test_load_raises_only_agqc_error(case):
    text, mutations, codes = case
    note(f"mutations: {mutations}\n{text}")
    with spec_file(text) as path, time_limit(IN_PROCESS_LIMIT_S):
        with pytest.raises(agqc.AgqcError) as info:
            agqc.load(path)
    errors = info.value.errors
    assert errors and codes & {d.code for d in errors}, [(d.code, d.message) for d in errors]
    for d in errors:
        assert d.span.file == path and d.span.line >= 1 and d.span.col >= 1, d


# ---- 2. text mutations of the shipped specs ---------------------------------------------
@pytest.mark.property
@given(mutated_sources())
def test_mutated_shipped_spec_gets_located_answer(case):
    name, data = case
    note(f"from {name}: {data[:3000]!r}")
    check_text(data, name)


@pytest.mark.property
@given(mutated_sources())
def test_fmt_on_mutated_spec_gets_located_answer(case):
    pytest.importorskip("agqc.fmt", reason="agqc fmt is not written yet")
    name, data = case
    note(f"from {name}: {data[:3000]!r}")
    with spec_file(data, name) as path:
        rc, out, err = run_cli(["fmt", path])
        context = f"\n--- exit {rc}; stderr:\n{err[-3000:]}"
        assert rc in (0, 1) and "Traceback" not in err, f"exit {rc}{context}"
        found, others = read_diagnostics(err, context)
        assert not others, f"not a located diagnostic: {others[0]!r}{context}"
        assert (rc == 1) == any(sev == "error" for _, sev, _ in found), f"exit {rc} with {found}{context}"
        if rc == 0:  # formatting changes layout only: the checker must say the same about both texts
            before = check_text(data, name)
            assert check_text(out, name) == before, f"fmt changed what `check` reports:\n{out}"


# ---- 3. the grammar ----------------------------------------------------------------------
@pytest.mark.property
@given(grammar_sources())
def test_grammar_derived_text_parses_and_gets_located_answer(text):
    note(repr(text))
    # The grammar derived it, so the parser (grammar + newline postlexer) must accept it.  (The
    # checker may still say `syntax`: the grammar lets any term follow `->`, the checker wants a call.)
    try:
        parse_source(text.replace("\r\n", "\n"), "spec.agq")
    except agqc.AgqcError as err:
        pytest.fail(f"a text the grammar derives does not parse: {[d.message for d in err.diagnostics]}")
    check_text(text)


# ---- inputs the fuzzers found (each once made agqc crash or mislocate; see docs/testing.md) ----
_MODEL = "block A(x: [B, 4]) -> [B, 4] {\n    return x -> relu()\n}\nmodel M {\n    network n = A()\n}\n"
FOUND = {
    "long_number": ("const X = " + "9" * 5000 + "\n" + _MODEL, {"limit", "bad-value"}),
    "long_std_import": ("import std.transformer" + "x" * 300 + "\n" + _MODEL, {"import-not-found"}),
    "long_file_import": ('import "' + "x" * 300 + '.agq"\n' + _MODEL, {"import-not-found"}),
    "nul_in_import": ('import "a\x00b.agq"\n' + _MODEL, {"import-not-found", "bad-value", "syntax"}),
    "line_separator_in_comment": ("# a\u2028b\n" + _MODEL.replace("relu", "reluu"), {"unknown-op"}),
    "form_feed_in_string": ('import "\x0c"\n' + _MODEL, {"import-not-found"}),
    "separator_first": ("\u2028" + _MODEL, {"syntax"}),
    "duplicate_parameter": (_MODEL.replace("(x: [B, 4])", "(x: [B, 4], x: [B, 4])").replace(
        "return x", "return x + x"), {"duplicate-name"}),
    "duplicate_config": (_MODEL.replace("(x: [B, 4])", "(x: [B, 4], k = 1, k = 2)"), {"duplicate-name"}),
    "empty_file": ("", set()),
    "bom": ("\ufeff" + _MODEL, set()),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found_input(case):
    text, codes = FOUND[case]
    found = check_text(text)
    if codes:
        assert codes & set(found), f"expected one of {sorted(codes)}, found {found}"


# ---- the real command line ---------------------------------------------------------------
def _fixed_mutations(text: str) -> list[bytes]:
    """A few deterministic mutations per shipped spec, for the subprocess run."""
    half = len(text) // 2
    lines = text.split("\n")
    return [text[:half].encode(), text.replace("\n", "\r\n").encode(), ("\ufeff" + text).encode(),
            (text[:half] + "\x00" + text[half:]).encode(), "\n".join(lines[1:-3]).encode(),
            text.encode()[:half] + b"\xff\xfe\x80" + text.encode()[half:], text.replace("(", "", 1).encode()]


def test_real_cli_on_fixed_mutations(tmp_path):
    specs = []
    for source in SHIPPED:
        for n, data in enumerate(_fixed_mutations(source.read_text(encoding="utf-8"))):
            path = tmp_path / f"{source.stem}_{n}.agq"
            path.write_bytes(data)
            specs.append(str(path))
    proc = subprocess.run([sys.executable, "-m", "agqc", "check", *specs], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    errors = check_output(proc.returncode, proc.stdout, proc.stderr, specs)
    assert sum(1 for codes in errors.values() if codes) >= len(SHIPPED), "the mutations should break most specs"


# ---- 4. resource limits (subprocess, time and memory limits) ------------------------------
MEMORY_LIMIT = 2 << 30
TIME_LIMIT_S = 20


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(files: dict[str, str], command: str = "check") -> dict[str, list[str]]:
    """Write the files into a fresh folder; run `agqc COMMAND main.agq` under the limits."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        main_path = str(Path(tmp) / "main.agq")
        try:
            proc = subprocess.run([sys.executable, "-m", "agqc", command, main_path], capture_output=True,
                                  text=True, timeout=TIME_LIMIT_S, preexec_fn=_limit_memory, cwd=ROOT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"agqc {command} gave no answer within {TIME_LIMIT_S} s", pytrace=False)
        assert "MemoryError" not in proc.stderr, f"over {MEMORY_LIMIT >> 30} GiB:\n{proc.stderr[-2000:]}"
        if command == "check":
            return check_output(proc.returncode, proc.stdout, proc.stderr, [main_path])[main_path]
        assert proc.returncode in (0, 1), f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
        return [m["code"] for m in map(_HEAD.match, proc.stderr.split("\n")) if m and m["sev"] == "error"]


def _block(body: str, inp: str = "[B, 8]", out: str = "[B, 8]", name: str = "A") -> str:
    return f"block {name}(x: {inp}) -> {out} {{\n{body}\n}}\n"


MODEL = "model M {\n    network n = A()\n}\n"


def _cycle(n: int) -> dict[str, str]:
    files = {"main.agq": 'import "f1.agq"\n' + _block("    return x") + MODEL}
    files |= {f"f{i}.agq": f'import "f{i + 1 if i < n - 1 else 0}.agq"\n' for i in range(1, n)}
    files["f0.agq"] = 'import "main.agq"\n'
    return files


def _call_ring(n: int) -> str:
    blocks = [_block(f"    return x -> linear(8) -> C{(i + 1) % n}()", name=f"C{i}") for i in range(n)]
    return "".join(blocks) + _block("    return C0(x)") + MODEL


LIMIT_CASES = {
    # name: (files, the codes any of which must be reported; empty: success is fine too)
    "parens_10000": ({"main.agq": "const X = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n"
                      + _block("    return x -> linear(X + 7)") + MODEL}, set()),
    "chain_100000": ({"main.agq": _block("    return x" + " -> relu()" * 100_000) + MODEL}, set()),
    "chain_50000_unspaced": ({"main.agq": _block("    return x" + "->relu()" * 50_000) + MODEL}, set()),
    "repeat_1e9": ({"main.agq": _block("    repeat 1000000000 {\n        x = x -> linear(8)\n    }\n    return x")
                    + MODEL}, {"limit"}),
    "repeat_10_pow_9_const": ({"main.agq": "const N = 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10\n"
                               + _block("    repeat N {\n        x = x -> linear(8)\n    }\n    return x")
                               + MODEL}, {"limit"}),
    "dim_1e18_literal": ({"main.agq": _block("    return x -> linear(8)", inp="[B, 1000000000000000000]")
                          + MODEL}, {"limit"}),
    "dim_1e18_arith": ({"main.agq": _block("    return x -> linear(1000000 * 1000000 * 1000000)",
                                           out="[B, 1000000 * 1000000 * 1000000]") + MODEL}, {"limit"}),
    "number_5000_digits": ({"main.agq": "const X = " + "9" * 5000 + "\n" + _block("    return x") + MODEL},
                           {"limit", "bad-value"}),
    "file_10MB": ({"main.agq": _block("    return x") + MODEL + ("# padding\n" * 1_000_000)}, {"limit"}),
    "line_1MB_comment": ({"main.agq": _block("    return x") + MODEL + "# " + "y" * 999_000 + "\n"}, set()),
    "line_1MB_sum": ({"main.agq": "const X = 1" + " + 1" * 249_000 + "\n" + _block("    return x") + MODEL},
                     {"limit"}),
    "import_cycle_50": (_cycle(50), {"import-cycle"}),
    "recursion_through_20": ({"main.agq": _call_ring(21)}, {"recursive-block"}),
    "exponential_calls": ({"main.agq": _block("    return x -> linear(8)", name="E0") + "".join(
        _block(f"    return E{i - 1}(E{i - 1}(x))", name=f"E{i}") for i in range(1, 41))
        + _block("    return E40(x)") + MODEL}, set()),
}


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_resource_limit_check(case):
    files, codes = LIMIT_CASES[case]
    found = run_limited(files)
    if codes:
        assert codes & set(found), f"expected one of {sorted(codes)}, found {found}"


SUMMARY_CASES = {
    # the summary multiplies repeats and calls out: the IR budget must stop it, quickly
    "nested_repeats": _block("    repeat 1000 {\n        repeat 1000 {\n            x = x -> linear(8)\n"
                             "        }\n    }\n    return x") + MODEL,
    "exponential_calls": LIMIT_CASES["exponential_calls"][0]["main.agq"],
    "repeat_under_budget": _block("    repeat 100000 {\n        x = x" + " -> linear(8) -> relu()" * 9
                                  + "\n    }\n    return x") + MODEL,
}


@pytest.mark.parametrize("case", sorted(SUMMARY_CASES))
def test_resource_limit_summary(case):
    run_limited({"main.agq": SUMMARY_CASES[case]}, command="summary")
