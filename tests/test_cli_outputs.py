"""What the commands print and write for a new user: `check`'s parameter counts, `summary --depth`,
and `build` of a model above the weights limit (placeholder weights, or real ones when asked).

The large-model tests lower ``BUILD_WEIGHTS_LIMIT`` in-process so that a spec of a few
hundred parameters counts as large: the same code path as GPT-2's, in a fraction of a second.
"""
from __future__ import annotations

import json

import pytest

from agqc import cli
from conftest import ROOT

CGAN = ROOT / "specs" / "cgan.agq"
GPT2 = ROOT / "specs" / "gpt2.agq"

# ---- agqc check -------------------------------------------------------------------------------------


def test_check_prints_each_networks_parameters_on_one_line(capsys):
    assert cli.main(["check", str(CGAN), str(GPT2)]) == 0
    out = capsys.readouterr().out
    assert out == (f"{CGAN}: ok (2 networks: G 779,305 parameters, D 942,753)\n"
                   f"{GPT2}: ok (1 network: lm 124,439,808 parameters)\n")
    assert cli.main(["check", str(CGAN), str(GPT2)]) == 0
    assert capsys.readouterr().out == out  # deterministic


def test_check_of_a_file_without_a_model_counts_no_networks(write_spec, capsys):
    path = write_spec("block N(x: [B, 2]) -> [B, 1] {\n    return x -> linear(1)\n}\n")
    assert cli.main(["check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok (0 networks)\n"


def test_check_counts_agree_with_the_summary():
    import agqc
    spec = agqc.load(ROOT / "specs" / "mla.agq")
    assert spec.parameter_counts() == spec.summary().networks


# ---- agqc summary --depth ---------------------------------------------------------------------------


def _table_rows(text: str) -> list[str]:
    """The table's rows: between the line under the header and the next dashed line."""
    lines = text.splitlines()
    rule = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    return lines[rule[0] + 1:rule[1]]


def _summary(capsys, *args) -> str:
    assert cli.main(["summary", str(GPT2), *args]) == 0
    return capsys.readouterr().out


def test_summary_lists_a_repeat_once_by_default(capsys):
    text = _summary(capsys)
    rows = _table_rows(text)
    assert len(rows) < 25  # not the 160 lines of twelve identical blocks
    names = [r.split()[0] for r in rows]
    assert names[:4] == ["lm", "lm.wte", "lm.wpe", "lm.h"] and names[-2:] == ["lm.ln_f", "lm.lm_head"]
    assert "GPT2Block ×12" in rows[3]
    assert "lm.h.0.attn.c_attn" in names and not any(n.startswith("lm.h.5.") for n in names)
    rest = next(r for r in rows if r.split()[0] == "lm.h.1-11")
    assert "11 more copies of lm.h.0" in rest and "77,966,592" in rest
    assert "total: 124,439,808 parameters" in text
    assert "each repeat lists its first copy" in text


def test_summary_depth_cuts_the_table_where_the_drawing_does(capsys):
    one = _table_rows(_summary(capsys, "--depth", "1"))
    assert [r.split()[0] for r in one] == ["lm", "lm.wte", "lm.wpe", "lm.h", "lm.ln_f", "lm.lm_head"]
    assert "GPT2Block ×12" in one[3] and "85,054,464" in one[3]  # the repeat, one row with its totals
    zero = _summary(capsys, "--depth", "0")
    assert [r.split()[0] for r in _table_rows(zero)] == ["lm"]
    assert "total: 124,439,808 parameters, 18,432·T² + 123,570,432·T MACs per example" in zero
    assert "depth 0: the rows inside a block or repeat at that depth are left out" in zero
    deep = _table_rows(_summary(capsys, "--depth", "3"))
    assert any(r.split()[0] == "lm.h.0.attn.c_attn" for r in deep)
    assert _table_rows(_summary(capsys, "--depth", "9")) == _table_rows(_summary(capsys))


def test_summary_depth_rows_add_up_to_the_network():
    import agqc
    summary = agqc.load(GPT2).summary()
    for depth in (1, 2):
        shown = [r for r in summary.outline if r.depth <= depth]
        top = [r for r in shown if r.depth == 1]
        assert sum(r.params for r in top) == summary.networks["lm"]


def test_summary_json_is_complete_and_unchanged_by_default(capsys):
    import agqc
    data = json.loads(_summary(capsys, "--json"))
    assert data == json.loads(json.dumps(agqc.load(GPT2).summary().as_dict()))
    names = {r["name"] for r in data["rows"]}
    assert {"lm.h.0.c_fc", "lm.h.11.attn.c_proj"} <= names  # every copy, as before
    ops = {r["op"] for r in data["rows"] if r["kind"] == "repeat"}
    assert ops == {"repeat x12"}  # the JSON's names for things are unchanged
    cut = json.loads(_summary(capsys, "--json", "--depth", "1"))
    assert [r["name"] for r in cut["rows"]] == ["lm", "lm.wte", "lm.wpe", "lm.h", "lm.ln_f", "lm.lm_head"]
    assert {k: v for k, v in cut.items() if k != "rows"} == {k: v for k, v in data.items() if k != "rows"}


NESTED = """
block Inner(x: [B, 8]) -> [B, 8] {
    repeat 3 as r {
        x = x -> linear(8) -> relu()
    }
    return x
}

block Net(x: [B, 8]) -> [B, 8] {
    repeat 2 as outer {
        x = Inner(x)
    }
    return x -> linear(8)
}

model M {
    classifier net = Net()
}
"""


def test_summary_folds_nested_repeats_and_counts_one_copy_as_a_copy(write_spec, capsys):
    path = write_spec(NESTED)
    assert cli.main(["summary", str(path)]) == 0
    rows = [r.split() for r in _table_rows(capsys.readouterr().out)]
    assert [r[0] for r in rows] == ["net", "net.outer", "net.outer.0.r", "net.outer.0.r.0.linear",
                                    "net.outer.0.r.0.relu", "net.outer.0.r.1-2", "net.outer.1", "net.linear"]
    assert rows[1][1:3] == ["Inner", "×2"] and rows[2][1:3] == ["repeat", "×3"]
    assert rows[6][1:6] == ["1", "more", "copy", "of", "net.outer.0"] and rows[6][-3] == "216"


@pytest.mark.parametrize("bad", ["-1", "x"])
def test_summary_depth_must_be_a_count(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["summary", str(GPT2), "--depth", bad])
    assert exit_.value.code == 1 and "expected a depth of 0 or more" in capsys.readouterr().err


# ---- agqc build above the weights limit -------------------------------------------------------------

SMALL_LM = """
block LM(tokens: int[B, T]) -> [B, T, 11] {
    x = tokens -> embedding(11, 8) as wte -> learned_positions(16) as wpe
    return x -> layernorm() -> linear(11, bias=false, tie="wte")
}

model Tiny {
    generator lm = LM()
}
"""


@pytest.fixture
def large(monkeypatch):
    """Every spec counts as large: `agqc build` takes the path GPT-2 takes."""
    monkeypatch.setattr("agqc.build.BUILD_WEIGHTS_LIMIT", 100)


def _build(capsys, *args) -> tuple[int, str, str]:
    status = cli.main(["build", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_build_above_the_limit_exports_the_program_with_placeholder_weights(large, write_spec, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    import agqc
    path = write_spec(SMALL_LM)
    status, out, err = _build(capsys, path, "-o", tmp_path / "out")
    assert status == 0, err
    assert "note: lm.pt2 holds the program only: its weights are placeholders on the meta device, because " in out
    assert "over `agqc build`'s limit of 100. " in out and "--real-weights" in out
    program = torch.export.load(str(tmp_path / "out" / "lm.pt2"))
    assert {t.device.type for t in program.state_dict.values()} == {"meta"}
    # traced as on the CPU: no `device="meta"` written into the graph (learned_positions makes an arange)
    assert not [n for n in program.graph.nodes if "meta" in str(n.kwargs.get("device", ""))]
    torch.manual_seed(0)
    reference = agqc.load(path).build().lm.eval()
    module = program.module()
    module.load_state_dict(reference.state_dict(), assign=True)
    tokens = torch.randint(0, 11, (2, 3))  # the sizes the build exports at (B=2, T=3: fixed)
    with torch.no_grad():
        assert torch.equal(module(tokens), reference(tokens))


def test_build_with_real_weights_exports_them(large, write_spec, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    path = write_spec(SMALL_LM)
    status, out, err = _build(capsys, path, "-o", tmp_path / "out", "--real-weights")
    assert status == 0, err
    assert "note: made real weights for 232 parameters" in out and "as --real-weights asks" in out
    program = torch.export.load(str(tmp_path / "out" / "lm.pt2"))
    weights = program.state_dict
    assert {t.device.type for t in weights.values()} == {"cpu"} and weights["wte.weight"].abs().sum() > 0
    assert program.module()(torch.randint(0, 11, (2, 3))).shape == (2, 3, 11)


def test_build_above_the_limit_loads_trained_weights_only_with_real_weights(large, write_spec, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    import agqc
    path = write_spec(SMALL_LM)
    trained = agqc.load(path).build()
    with torch.no_grad():
        trained.lm.wte.weight.fill_(0.25)
    torch.save(trained.state_dict(), tmp_path / "trained.pt")
    status, _, err = _build(capsys, path, "-o", tmp_path / "out", "--weights", tmp_path / "trained.pt")
    assert status == 1 and "add --real-weights to make them" in err and not (tmp_path / "out").exists()
    status, _, err = _build(capsys, path, "-o", tmp_path / "out", "--weights", tmp_path / "trained.pt",
                            "--real-weights")
    assert status == 0, err
    program = torch.export.load(str(tmp_path / "out" / "lm.pt2"))
    assert torch.equal(program.state_dict["wte.weight"], torch.full((11, 8), 0.25))


def test_build_below_the_limit_says_nothing_about_weights(write_spec, tmp_path, capsys):
    status, out, err = _build(capsys, write_spec(SMALL_LM), "-o", tmp_path / "out")
    assert status == 0, err
    assert "note:" not in out and "placeholder" not in out + err
    assert (tmp_path / "out" / "lm.pt2").is_file()
