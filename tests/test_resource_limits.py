"""Specs built to exhaust time or memory: each is refused with a located `limit`, or stays fast.

An attack on the checker found three ways to make it take minutes: symbolic sizes that multiply
out into polynomials with millions of terms, many imported files each under the per-file limits
(constants were copied per constant, so checking was quadratic), and dense skips that made
Graphviz run for minutes.  These tests run the real command line under a timeout, so a hang
fails instead of stalling the suite.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

from agqc.policy import MAX_DRAWN_EDGES, MAX_PROGRAM_TOKENS, MAX_SIZE_TERMS, MAX_TOKENS
from conftest import ROOT

TIMEOUT_S = 60


def run(*args):
    return subprocess.run([sys.executable, "-m", "agqc", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=TIMEOUT_S)


POLYNOMIAL = """\
block G(x: [B, A, C, D, E, F]) {
    s1 = (A + C + D + E + F + 1)
    s2 = s1 * s1 * s1
    s3 = s2 * s2 * s2  # E: 10 limit
    s4 = s3 * s3
    return normal(B, s4) -> flatten() -> linear(3), x
}

model M {
    classifier net = G()
}
"""


def expected_errors(text: str, file: str) -> set[str]:
    out = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if "# E:" in line:
            col, code = line.split("# E:")[1].split()
            out.add(f"{file}:{lineno}:{col}: error[{code}]")
    return out


def test_sizes_that_multiply_out_explosively_are_a_located_limit(write_spec):
    """(A+C+D+E+F+1)^18 has 33,649 terms: it once took 85 s; now the product stops at the limit."""
    path = write_spec(POLYNOMIAL, "poly.agq")
    started = time.perf_counter()
    result = run("check", path)
    assert time.perf_counter() - started < 20
    assert result.returncode == 1, result.stderr
    for expected in expected_errors(POLYNOMIAL, "poly.agq"):
        assert expected in result.stderr, result.stderr
    assert f"{MAX_SIZE_TERMS} terms" in result.stderr and "Traceback" not in result.stderr


MANY_TERMS = """\
block Wide(x: [B, H1, H2, H3, H4, H5, H6, H7, H8], y: [B, W1, W2, W3, W4, W5, W6, W7, W8]) {
    n = normal(B, H1 + H2 + H3 + H4 + H5 + H6 + H7 + H8 + 1, W1 + W2 + W3 + W4 + W5 + W6 + W7 + W8 + 1, 4)
    return n -> linear(2), x, y
}

model M {
    classifier net = Wide()
}
"""


def test_a_mac_count_too_complex_for_a_formula_is_counted_with_sizes_one(write_spec):
    """Shapes within the limits can still give a MAC polynomial past them (9 x 9 terms here): the
    summary then gives the number with every size 1, as its numeric figures always do, not exit 2."""
    result = run("summary", "--json", write_spec(MANY_TERMS, "wide.agq"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["total_macs_per_example"] == 9 * 9 * 4 * 2  # linear(2) over [B, 9, 9, 4], sizes 1
    assert summary["total_params"] == 4 * 2 + 2


def _imports(tmp_path, files: int, consts: int):
    tmp_path.mkdir(exist_ok=True)
    for i in range(files):
        (tmp_path / f"f{i}.agq").write_text("".join(f"const C{i}_{j} = {j}\n" for j in range(consts)))
    main = tmp_path / "main.agq"
    main.write_text("".join(f'import "f{i}.agq"\n' for i in range(files)) +
                    "block N(x: [B, 4]) -> [B, 4] {\n    return x -> linear(4)\n}\n\n"
                    "model M {\n    classifier net = N()\n}\n")
    return main


def test_the_token_limit_holds_for_the_whole_program(tmp_path):
    """Three files each under the per-file limit, together over the program's: one located error."""
    consts = MAX_TOKENS // 5 - 100  # `const C = 1` and its newline: 5 tokens
    files = MAX_PROGRAM_TOKENS // (5 * consts) + 1
    result = run("check", _imports(tmp_path, files, consts))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("error[limit]") == 1, result.stderr
    assert f"f{files - 1}.agq:" in result.stderr and f"more than {MAX_PROGRAM_TOKENS:,} tokens" in result.stderr


def _check_seconds(path) -> float:
    from agqc.diagnostics import Reporter
    from agqc.loader import load
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        load(path, Reporter())
        best = min(best, time.perf_counter() - started)
    return best


def test_loading_constants_is_linear_in_their_number(tmp_path):
    """Each constant used to copy all earlier ones: 4x the constants took 8x to 11x the time; now 3x to 4x."""
    one = _check_seconds(_imports(tmp_path / "one", 1, 5_000))
    four = _check_seconds(_imports(tmp_path / "four", 4, 5_000))
    assert four / one < 6.5, f"4x the constants took {four / one:.1f}x the time"


def _dense(n: int) -> str:
    """Every layer fed by the sum of all earlier ones: n^2/2 arrows from a few kB of spec."""
    lines = ["block Dense(x: [B, 8]) -> [B, 8] {", "    h0 = x -> linear(8)"]
    lines += [f"    h{i} = ({' + '.join(f'h{j}' for j in range(i))}) -> linear(8)" for i in range(1, n)]
    return "\n".join(lines + [f"    return h{n - 1}", "}", "", "model M {", "    classifier net = Dense()", "}", ""])


def test_a_drawing_too_dense_for_graphviz_is_collapsed_or_refused(write_spec, tmp_path):
    """Past ``MAX_DRAWN_EDGES`` arrows the automatic depth draws networks as boxes; an explicit depth
    that needs more is refused with a message (dot once ran past its time limit on such a spec)."""
    path = write_spec(_dense(58), "dense.agq")  # 1,653 sums: 3,250 arrows at depth 1
    started = time.perf_counter()
    drawn = run("draw", path, "-o", tmp_path / "dense.dot")
    assert drawn.returncode == 0, drawn.stderr
    assert time.perf_counter() - started < 30
    assert (tmp_path / "dense.dot").read_text().count("->") < 10  # one box for the network
    refused = run("draw", path, "--depth", "1", "-o", tmp_path / "deep.dot")
    assert refused.returncode == 1 and f"more than {MAX_DRAWN_EDGES:,} arrows" in refused.stderr, refused.stderr
    assert not (tmp_path / "deep.dot").exists() and "Traceback" not in refused.stderr
