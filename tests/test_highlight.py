"""agqc.highlight: the .agq Pygments lexer and the notebook display of a spec."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("pygments")

from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String  # noqa: E402

from agqc.highlight import OPS, AgqLexer, show  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(ROOT.glob("specs/*.agq")) + sorted((ROOT / "agqc" / "stdlib").glob("*.agq"))


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for _, t, v in AgqLexer().get_tokens_unprocessed(text)]


def kinds(text: str, value: str) -> list[object]:
    """The token types every occurrence of ``value`` (a whole token) gets."""
    return [t for t, v in tokens(text) if v == value]


def test_the_zoo_is_found():
    assert len(SPECS) >= 10


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_lexes_without_errors_and_round_trips(path):
    source = path.read_text(encoding="utf-8")
    toks = tokens(source)
    assert [v for t, v in toks if t is Error] == []
    assert "".join(v for _, v in toks) == source


def test_a_stray_character_is_an_error_token():
    # the same lexer does flag what the grammar rejects, so the test above can fail
    assert kinds("const A = 1 $ 2\n", "$") == [Error]


SPEC = '''import std.layers
# a comment
const WIDTH = 256

@fp64
block Net(x: [B, 1, 8, 8], y: int[B], drop = 0.25) -> [B, 10] {
    @binary(activations) h = x -> flatten() -> linear(WIDTH) as first -> Dense(WIDTH)
    repeat 2 as layers {
        h = h -> linear(WIDTH, bias=false)
    }
    return h -> linear(10)
}

block Two(x: [B, 4]) -> ([B, 4], [B, 1]) {
    return x, x -> linear(1)
}

model M {
    classifier net = Net()
    input x: [B, 1, 8, 8]
    train {
        data = digits() -> resize(28, 28)
        optimizer net = adam(lr=1e-3)
        freeze = net
        stage tune {
            epochs = 3
            objective = classification(label_smoothing=0.1)
        }
    }
}
'''


def test_keywords_comments_strings_and_numbers():
    assert kinds(SPEC, "# a comment") == [Comment.Single]
    for word in ("return", "repeat", "as", "input"):
        assert all(t in Keyword for t in kinds(SPEC, word)), word
    assert kinds(SPEC, "const") == [Keyword.Declaration]
    assert kinds(SPEC, "block") == [Keyword.Declaration, Keyword.Declaration]
    assert kinds(SPEC, "import") == [Keyword.Namespace]
    assert kinds(SPEC, "std.layers") == [Name.Namespace]
    assert kinds(SPEC, "256") == [Number.Integer]
    assert kinds(SPEC, "0.25") == [Number.Float]
    assert kinds(SPEC, "1e-3") == [Number.Float]
    assert kinds('import "other.agq"\n', '"other.agq"') == [String.Double]


def test_names_after_block_model_const_and_as():
    assert kinds(SPEC, "Net") == [Name.Class, Name.Function]  # declared, then called in the model
    assert kinds(SPEC, "M") == [Name.Class]
    assert kinds(SPEC, "WIDTH")[0] is Name.Constant
    assert kinds(SPEC, "first") == [Name.Label]
    assert kinds(SPEC, "layers") == [Name.Label]


def test_decorators_with_their_options():
    assert kinds(SPEC, "@") == [Name.Decorator, Name.Decorator]
    assert kinds(SPEC, "fp64") == [Name.Decorator]
    assert kinds(SPEC, "binary") == [Name.Decorator]
    assert kinds(SPEC, "activations") == [Name.Decorator]


def test_ops_come_from_the_registry_and_blocks_are_functions():
    assert {"linear", "conv2d", "batchnorm", "attention"} <= set(OPS)
    assert set(kinds(SPEC, "linear")) == {Name.Builtin}
    assert kinds(SPEC, "flatten") == [Name.Builtin]
    assert kinds(SPEC, "Dense") == [Name.Function]  # a block from the standard library, not an op
    assert kinds(SPEC, "->").count(Operator) == len(kinds(SPEC, "->"))


def test_types_roles_and_the_train_section():
    assert kinds(SPEC, "int") == [Keyword.Type]
    assert set(kinds(SPEC, "B")) == {Name.Constant}  # every symbolic size in a type
    assert kinds(SPEC, "classifier") == [Keyword.Type]
    assert kinds(SPEC, "net")[0] is Name.Variable
    assert kinds(SPEC, "train") == [Keyword]
    assert kinds(SPEC, "stage") == [Keyword]
    assert kinds(SPEC, "tune") == [Name.Label]
    for setting in ("data", "optimizer", "freeze", "epochs", "objective"):
        assert kinds(SPEC, setting) == [Name.Attribute], setting
    for word in ("digits", "resize", "adam", "classification"):
        assert kinds(SPEC, word) == [Name.Builtin], word


def test_train_and_stage_stay_plain_names_outside_a_section():
    text = "block B(x: [N, 2]) -> [N, 2] {\n    stage = x -> relu()\n    data = stage\n    return data\n}\n"
    assert set(kinds(text, "stage")) == {Name}
    assert set(kinds(text, "data")) == {Name}


def test_show_gives_inline_styled_html_for_a_path_or_text():
    shown = show(ROOT / "specs" / "bit1_classifier.agq")
    html = shown._repr_html_()
    assert "bit1_classifier.agq" in html
    assert '<span style="' in html
    assert "class=" not in html.replace('class="highlight"', "")  # inline styles, no stylesheet needed
    assert re.search(r'<span style="[^"]+">@binary</span>', html)  # one styled run: `@` and the precision
    assert re.search(r'<span style="[^"]+"># [^<]*</span>', html)  # a comment
    text = show("const A = 1\n")._repr_html_()
    assert re.search(r'<span style="[^"]+">const</span>', text)
    assert repr(show("const A = 1\n")) == "const A = 1\n"

def test_the_compiler_does_not_import_the_highlighter():
    import subprocess
    import sys
    code = ("import sys, agqc; agqc.load('specs/bit1_classifier.agq').summary(); "
            "print('agqc.highlight' in sys.modules, 'pygments' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_pygments_finds_the_lexer_by_name_and_file_name():
    """The `pygments.lexers` entry point (pyproject.toml): pygmentize, Sphinx and Jupyter find it."""
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    from agqc.highlight import AgqLexer
    assert isinstance(get_lexer_by_name("agq"), AgqLexer)
    assert isinstance(get_lexer_for_filename("specs/cgan.agq"), AgqLexer)


def _doc_blocks():
    for doc in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        for i, block in enumerate(re.findall(r"^```agq\n(.*?)^```", doc.read_text(), re.S | re.M)):
            yield pytest.param(block, id=f"{doc.name}-{i}")


@pytest.mark.parametrize("block", list(_doc_blocks()))
def test_the_docs_agq_blocks_are_tagged_and_lex_cleanly(block):
    """The docs mark .agq code as ```agq, so Pygments-based renderers (MkDocs, Sphinx) highlight it."""
    tokens = list(AgqLexer().get_tokens(block))
    assert not [value for kind, value in tokens if kind in Error]
