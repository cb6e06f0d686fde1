"""agqc fmt: one canonical layout, comments kept, the same program afterwards.

Properties over generated programs (random layout: spacing, line breaks inside
brackets and before `->`, comments everywhere a line may end, decorators,
repeats, imports, tuples, kwargs, strings, negative numbers, nested
parentheses) and over every shipped spec: fmt is idempotent, the formatted
text parses to the same AST (spans aside), every comment survives in order,
and `--check` accepts fmt's own output.  Over chains and sums written with
random line breaks and comments after random stages (issue 12): each comment
stays on its stage's line, stages the author put on separate lines stay
apart, and no parenthesised operand written on one line is split.  Plus the
CLI's modes and errors.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import fields, is_dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import agqc
from agqc import cli
from agqc.diagnostics import AgqcError, Span
from agqc.fmt import format_source
from agqc.parse import parse_source
from conftest import ROOT, SPECS

SHIPPED = SPECS + sorted((ROOT / "agqc" / "stdlib").glob("*.agq"))
GRAMMAR = resources.files("agqc.grammar").joinpath("agq.lark").read_text(encoding="utf-8")


# ---- oracles, written apart from agqc.fmt so they do not share its mistakes -----------------
def bare(node):
    """An AST with every Span (and token count) removed: two layouts of one program compare equal."""
    if is_dataclass(node):
        return type(node).__name__, {f.name: bare(getattr(node, f.name)) for f in fields(node)
                                     if f.compare and not isinstance(getattr(node, f.name), Span)}
    if isinstance(node, tuple):
        return tuple(bare(x) for x in node)
    return node


def comments_of(text: str) -> list[str]:
    """The comments lark's own lexer finds (so `#` inside strings is not one)."""
    _found.clear()
    list(_COMMENT_LEXER.lex(text))
    return [str(c).rstrip() for c in _found]


_found: list = []
_COMMENT_LEXER = Lark(GRAMMAR, parser="lalr", lexer="basic", lexer_callbacks={"COMMENT": _found.append})


# ---- a generator of valid .agq text with varied layout ---------------------------------------
# Strategies are made once (lru_cache) and layout comes from one binary draw per statement:
# hypothesis spends its time on programs, not on building strategies.
NAMES = st.sampled_from(["x", "h", "B", "T", "D", "w_1", "_t", "Heads", "float"])
NUMBERS = st.sampled_from(["0", "3", "007", "1e-5", "0.00001", "10000.0", "2E+3", "1.5e2", "128"])
STRINGS = st.sampled_from(['"tanh"', '"a#b"', '""', '"x {y} -> z"', '"wte"'])
BOOLS = st.sampled_from(["true", "false"])
# Awkward comment texts; "@@" becomes a running number once a program is complete, so every
# comment is distinct and a reordering would show.
COMMENT_TEXTS = ["# plain @@", "#@@", '# "quoted @@', "# a#b @@", "# {brace} @@", "# ünï ✓ @@",
                 "#\ttab @@", "# spaces after @@   ", "# -> x @@", "# x = 1 @@", "#\x0c@@ ff", "# } @@"]
COMMENT = st.sampled_from(COMMENT_TEXTS)
CONTINUE_AFTER = {"->", ",", "=", "+", "-", "*", "/", "//", "{", ":", "@"}
lists = lru_cache(maxsize=None)(st.lists)
pick = lru_cache(maxsize=None)(lambda *options: st.sampled_from(options))


def _wordy(a: str, b: str) -> bool:
    return (a[-1].isalnum() or a[-1] in '_"') and (b[0].isalnum() or b[0] in '_"')


def join(draw, tokens: list[str]) -> str:
    """Tokens with random spacing; a line break (perhaps with comments) where one is allowed."""
    text, depth = tokens[0], 0
    layout = draw(st.binary(min_size=len(tokens) - 1, max_size=len(tokens) - 1))
    for a, b, byte in zip(tokens, tokens[1:], layout):
        depth += (a in "([") - (a in ")]")
        if depth > 0 or a in CONTINUE_AFTER or b == "->":
            pad, comment = " " * (byte >> 3 & 7), COMMENT_TEXTS[(byte >> 3) % len(COMMENT_TEXTS)]
            sep = ["", " ", "  ", "\n" + pad, "\n\n" + pad, "  " + comment + "\n" + pad,
                   "\n" + pad + comment + "\n" + pad, " "][byte & 7]
        else:
            sep = ["", " ", "\t "][byte % 3]
        text += (" " if _wordy(a, b) and sep == "" else "") + sep + b
    return text


def commas(items: list[list[str]]) -> list[str]:
    return [t for i, item in enumerate(items) for t in ([","] if i else []) + item]


@lru_cache(maxsize=None)
def expr(depth: int = 2, level: int = 1):
    """Tokens of an expression at a grammar level: 1 chain, 2 sum, 3 product, 4 unary, 5 postfix."""
    return _expr(depth, level)


@st.composite
def _expr(draw, depth: int, level: int) -> list[str]:
    choice = draw(st.integers(1, 6)) if depth > 0 else 6
    if choice < level or choice == 6:
        return draw(primary(depth))
    if choice == 1:
        steps = draw(lists(expr(depth - 1, 5), min_size=1, max_size=4))
        return draw(expr(depth - 1, 2)) + [t for s in steps for t in ["->"] + s]
    if choice in (2, 3):
        op = draw(pick("+", "-") if choice == 2 else pick("*", "/", "//"))
        return draw(expr(depth - 1, choice)) + [op] + draw(expr(depth - 1, choice + 1))
    if choice == 4:
        return ["-"] + draw(expr(depth - 1, 4))
    annotations = draw(lists(annotation(depth - 1), min_size=1, max_size=2))
    return draw(primary(depth - 1)) + [t for a in annotations for t in a]


@lru_cache(maxsize=None)
def primary(depth: int):
    return _primary(depth)


@st.composite
def _primary(draw, depth: int) -> list[str]:
    kinds = ("name", "number", "string", "bool") + (("call", "paren") if depth > 0 else ())
    kind = draw(pick(*kinds))
    if kind == "call":
        alias = draw(pick((), ("as", "fc")))
        return [draw(NAMES), "("] + draw(args(depth - 1)) + [")"] + list(alias)
    if kind == "paren":
        return ["("] + draw(expr(depth - 1)) + [")"]
    return [draw({"name": NAMES, "number": NUMBERS, "string": STRINGS, "bool": BOOLS}[kind])]


@lru_cache(maxsize=None)
def args(depth: int):
    one = st.one_of(expr(depth), expr(depth).map(lambda e: ["kernel", "="] + e))
    return st.tuples(lists(one, max_size=3), st.booleans()).map(
        lambda t: commas(t[0]) + ([","] if t[0] and t[1] else []))  # a trailing comma, sometimes


@lru_cache(maxsize=None)
def annotation(depth: int):
    with_args = st.tuples(pick("bf16", "fp8", "binary"), args(max(depth, 0))).map(
        lambda t: ["@", t[0], "("] + t[1] + [")"])
    return st.one_of(pick("bf16", "fp8", "binary").map(lambda n: ["@", n]), with_args)


TENSOR_TYPE = st.tuples(pick((), ("int",), ("float",)), lists(expr(1), max_size=3)).map(
    lambda t: list(t[0]) + ["["] + commas(t[1]) + ["]"])


@st.composite
def decorators(draw) -> str:
    anns = draw(lists(annotation(1), max_size=2))
    return "".join(join(draw, a) + draw(pick(" ", "\n", "\n\n  ")) for a in anns)


def trailing(draw) -> str:
    return "  " + draw(COMMENT) if draw(st.booleans()) else ""


@st.composite
def stmt(draw, depth: int, indent: str) -> str:
    kinds = ("assign", "return", "input", "network") + (("repeat",) if depth > 0 else ())
    kind, head = draw(pick(*kinds)), draw(decorators())
    if kind == "repeat":
        count = draw(st.one_of(NAMES.map(lambda n: [n]), NUMBERS.map(lambda n: [n]),
                               expr(1).map(lambda e: ["("] + e + [")"])))
        tokens = ["repeat"] + count + list(draw(pick((), ("as", "layers"))))
        return head + join(draw, tokens) + " " + draw(body(depth - 1, indent))
    if kind == "assign":
        tokens = commas([[n] for n in draw(lists(NAMES, min_size=1, max_size=3))]) + ["="] + draw(expr())
    elif kind == "return":
        tokens = ["return"] + commas(draw(lists(expr(), min_size=1, max_size=2)))
    elif kind == "input":
        tokens = ["input", draw(NAMES), ":"] + draw(TENSOR_TYPE)
    else:
        tokens = [draw(pick("generator", "network")), draw(NAMES), "="] + draw(expr())
    return head + join(draw, tokens)


@st.composite
def body(draw, depth: int, indent: str) -> str:
    stmts = draw(st.lists(stmt(depth, indent + "    "), max_size=3))
    if len(stmts) == 1 and "\n" not in stmts[0] and "#" not in stmts[0] and draw(st.booleans()):
        return "{ " + stmts[0] + " }" + trailing(draw)  # `{ x = f(x) }` on one line
    text = "{" + trailing(draw) + "\n"
    for s in stmts:
        text += draw(pick("", "\n", indent + "    " + COMMENT_TEXTS[0] + "\n\n", "  " + COMMENT_TEXTS[2] + "\n"))
        text += indent + draw(pick("    ", "  ", "\t")) + s + trailing(draw) + "\n"
    return text + draw(pick("", indent + "  " + COMMENT_TEXTS[5] + "\n")) + indent + "}" + trailing(draw)


PARAM = st.one_of(NAMES.map(lambda n: [n]), TENSOR_TYPE.map(lambda t: ["x", ":"] + t),
                  expr(1).map(lambda e: ["p", "="] + e))
OUTPUTS = st.one_of(st.just([]), TENSOR_TYPE.map(lambda t: ["->"] + t),
                    st.tuples(TENSOR_TYPE, TENSOR_TYPE).map(lambda t: ["->", "("] + t[0] + [","] + t[1] + [")"]))


@st.composite
def item(draw) -> str:
    kind = draw(pick("import", "std", "const", "block", "model"))
    if kind == "import":
        return join(draw, ["import", draw(pick('"layers.agq"', '"../a b.agq"'))])
    if kind == "std":
        return join(draw, ["import", draw(pick("std.transformer", "std.layers"))])
    if kind == "const":
        return join(draw, ["const", draw(NAMES), "="] + draw(expr()))
    head = draw(decorators())
    if kind == "model":
        return head + join(draw, ["model", draw(NAMES)]) + " " + draw(body(2, ""))
    tokens = ["block", draw(NAMES), "("] + commas(draw(lists(PARAM, max_size=4))) + [")"] + draw(OUTPUTS)
    return head + join(draw, tokens) + " " + draw(body(2, ""))


@st.composite
def programs(draw) -> str:
    text = draw(pick("", "\n", "# header\n\n"))
    for it in draw(st.lists(item(), max_size=4)):
        text += draw(pick("", "\n", "#@@\n", "\n# @@ section\n\n"))
        text += it + trailing(draw) + "\n"
    text += draw(pick("", "# the end\n", "\n\n"))
    count = iter(range(1, 10_000))
    text = re.sub("@@", lambda m: str(next(count)), text)
    return text.replace("\n", "\r\n") if draw(st.integers(0, 9)) == 0 else text


# ---- properties --------------------------------------------------------------------------------
def _formatted(text: str) -> str:
    try:
        return format_source(text, "gen.agq")
    except AgqcError as err:  # the generator is meant to write only valid programs: say what it wrote
        raise AssertionError(f"generated program does not parse: {err}\n{text}") from None


@pytest.mark.property
@given(programs())
def test_fmt_on_generated_programs(text):
    """One generated program, four properties (one draw: generating costs more than checking)."""
    once = _formatted(text)
    assert format_source(once, "gen.agq") == once, "fmt is not idempotent"
    assert bare(parse_source(once, "gen.agq")) == bare(parse_source(text, "gen.agq")), "the program changed"
    assert comments_of(once) == comments_of(text), "a comment was lost, changed or moved out of order"
    # the layout itself: one final newline, at most one blank line, space-only indents by 4, no trailing spaces
    assert once == "" or (once.endswith("\n") and not once.endswith("\n\n") and not once.startswith("\n"))
    assert "\n\n\n" not in once, "at most one blank line"
    for line in once.split("\n"):
        assert line == line.rstrip(" ") and not line.lstrip(" ").startswith("\t"), repr(line)
        assert (len(line) - len(line.lstrip(" "))) % 4 == 0, f"indent not a multiple of 4: {line!r}"


# hypothesis.extra.lark draws token sequences straight from grammar/agq.lark. The postlexer's line
# rules are not in the grammar, so some draws do not parse (about one in eight): those are skipped.
LARK_TEXTS = from_lark(Lark(GRAMMAR, parser="lalr", lexer="basic", start="start"), start="start", explicit={
    "NAME": pick("x", "B", "k_2").map(" {} ".format), "NUMBER": NUMBERS.map(" {} ".format),  # words stay apart
    "STRING": STRINGS, "_NL": pick("\n", "\n\n  ")})


@pytest.mark.property
@given(LARK_TEXTS)
def test_fmt_on_inputs_drawn_from_the_grammar(text):
    try:
        program = parse_source(text, "lark.agq")
    except AgqcError:
        assume(False)
    out = format_source(text, "lark.agq")
    assert bare(parse_source(out, "lark.agq")) == bare(program)
    assert format_source(out, "lark.agq") == out
    assert comments_of(out) == comments_of(text)


@pytest.mark.property
@given(text=programs())
def test_check_passes_on_fmt_output(text, tmp_path):
    path = tmp_path / "spec.agq"
    path.write_text(_formatted(text), encoding="utf-8")
    assert cli.main(["fmt", "--check", str(path)]) == 0


# ---- chains written one stage per line, comments on stages (issue 12) -----------------------
# Programs made of chains and sums, nested in parentheses, call arguments, tuples and returns.
# Every stage is a call `sN(...)` and every head a name `pN`, each N used once, so a stage can be
# found in the output by name; a gap (before `->`, after `+` or `-`) is kept on one line, broken,
# or broken after a comment `# cN`.
GAP = object()  # a place in the token list where the author may break the line
STAGE_ARGS = ["64", "kernel=3", "stride=2", "padding=1", "bias=false", "approximate=\"tanh\"", "C * 4",
              "out_channels_for_this_rather_long_layer=512", "eps=1e-5"]


class Names:
    def __init__(self):
        self.n = 0

    def __call__(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"


@st.composite
def stage(draw, names: Names, depth: int) -> list:
    """`sN(args)`, maybe with a chain for its first argument, an alias, a subscript, an annotation."""
    name = names("s")
    tokens: list = [name, "("]
    args = [[a] for a in draw(lists(pick(*STAGE_ARGS), max_size=4))]
    if depth > 0 and draw(st.booleans()):
        args.insert(0, draw(chain(names, depth - 1)))
    for i, arg in enumerate(args):
        tokens += ([","] if i else []) + arg
    tokens.append(")")
    suffix = draw(pick((), ("as", "alias"), ("[", ":", ",", "1", ":", "]"), ("[", "-", "1", "]"), ("@", "bf16")))
    return tokens + [names("a") if t == "alias" else t for t in suffix]


@st.composite
def chain(draw, names: Names, depth: int) -> list:
    head = [names("p")] if depth == 0 or draw(st.booleans()) else draw(stage(names, depth - 1))
    steps = draw(st.lists(stage(names, depth), min_size=1, max_size=6))
    return head + [t for step in steps for t in [GAP, "->"] + step]


@st.composite
def term(draw, names: Names, depth: int) -> list:
    kind = draw(pick("name", "paren", "indexed", "stage"))
    if kind == "name":
        return [names("p")]
    if kind == "stage":
        return draw(stage(names, depth))
    inner = ["("] + draw(chain(names, depth)) + [")"]
    return inner + (["[", ":", ",", "0", "]"] if kind == "indexed" else [])


@st.composite
def staged_value(draw, names: Names) -> list:
    if draw(st.booleans()):
        return draw(chain(names, 1))
    terms = draw(st.lists(term(names, 1), min_size=2, max_size=4))
    out = terms[0]
    for t in terms[1:]:
        out = out + [draw(pick("+", "-")), GAP] + t
    return out


@st.composite
def staged_programs(draw) -> str:
    """A block of statements whose chains and sums the author laid out with random breaks and comments."""
    names, comments = Names(), iter(range(1, 10_000))
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(pick("assign", "tuple", "return", "return2", "call"))
        if kind == "call":  # the chain is an argument: `y = concat(h, x -> f() -> g(), dim=1)`
            tokens = ["y", "=", names("s"), "(", names("p"), ","] + draw(staged_value(names)) + [",", "dim=1", ")"]
        elif kind == "return2":
            tokens = ["return"] + draw(staged_value(names)) + [","] + draw(staged_value(names))
        else:
            targets = {"assign": ["h"], "tuple": ["a", ",", "b"], "return": []}[kind]
            tokens = (targets + ["="] if targets else ["return"]) + draw(staged_value(names))
        text = "    "
        layout = iter(draw(st.binary(min_size=len(tokens), max_size=len(tokens))))
        for a, b in zip(tokens, tokens[1:] + [None]):
            if a is GAP:
                continue
            text += a
            if b is GAP:
                choice = next(layout) % 4  # 0, 1: one line; 2: a break; 3: a comment, then a break
                pad = "\n" + " " * (4 + next(layout) % 12)
                text += [" ", " ", pad, f"  # c{next(comments)}{pad}"][choice]
            elif b is not None and b not in ",)]" and a not in "([-" and not (b == "(" and a[-1].isalnum()):
                text += " "
        if draw(st.booleans()):
            text += f"  # c{next(comments)}"
        lines.append(text)
    return "block Net(x: [B, 8]) {\n" + "\n".join(lines) + "\n}\n"


STAGE = re.compile(r"\b[ps]\d+\b")


def _code(line: str) -> str:
    return line.split("#", 1)[0]  # generated programs have no `#` in strings


def _open_groups(text: str) -> list[tuple[str, int]]:
    """Parenthesised operands (a `(` not right after a name): (head name, index of the `(`) for each
    whose `)` is on a later line, in a text (comments removed line by line)."""
    code = "\n".join(_code(line) for line in text.split("\n"))
    found, stack = [], []
    for i, ch in enumerate(code):
        if ch == "(":
            stack.append((i, not (code[:i].rstrip(" ") or " ")[-1].isalnum()))
        elif ch == ")":
            start, grouping = stack.pop()
            if grouping and "\n" in code[start:i]:
                found.append((re.match(r"\(\s*(\w+)", code[start:]).group(1), start))
    return found


@pytest.mark.property
@given(staged_programs())
def test_fmt_keeps_stages_lines_and_comments_where_the_author_put_them(text):
    """(a) a comment stays on its stage's line, right after it; (b) stages on separate lines stay
    apart; (c) no parenthesised operand the author wrote on one line is split; (d) idempotent."""
    once = _formatted(text)
    assert format_source(once, "gen.agq") == once, "fmt is not idempotent"
    src_lines, out_lines = text.split("\n"), once.split("\n")

    def where(lines):  # stage token -> line number; comment -> the last stage before it, on its line
        stages, comments, last = {}, {}, None
        for n, line in enumerate(lines):
            for m in STAGE.finditer(_code(line)):
                stages[m.group()] = n
                last = m.group()
            if "#" in line:
                comments[line.split("#", 1)[1]] = last
        return stages, comments

    src_stages, src_comments = where(src_lines)
    out_stages, out_comments = where(out_lines)
    assert list(out_stages) == list(src_stages), "stages lost or reordered"
    for comment, stage_name in src_comments.items():  # (a)
        assert out_comments[comment] == stage_name, f"#{comment} left {stage_name}:\n{once}"
        assert out_stages[stage_name] == next(n for n, line in enumerate(out_lines) if "#" + comment in line)
    order = list(src_stages)
    for a, b in zip(order, order[1:]):  # (b)
        if src_stages[a] != src_stages[b]:
            assert out_stages[a] != out_stages[b], f"{a} and {b} were on separate lines:\n{text}\n{once}"
    broken_by_author = {head for head, _ in _open_groups(text)}
    for head, _ in _open_groups(once):  # (c)
        assert head in broken_by_author, f"fmt split the parenthesised operand ({head} ...:\n{text}\n{once}"


# ---- every shipped spec ---------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_spec_formats_to_the_same_program(path):
    text = path.read_text(encoding="utf-8")
    out = format_source(text, str(path))
    assert bare(parse_source(out, str(path))) == bare(parse_source(text, str(path)))
    assert format_source(out, str(path)) == out
    assert comments_of(out) == comments_of(text)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_write_keeps_a_shipped_spec_checking_with_the_same_parameters(path, tmp_path):
    for sibling in path.parent.glob("*.agq"):  # a spec may import its neighbours (cnn_tf_scratch does)
        shutil.copy(sibling, tmp_path / sibling.name)
    copy = tmp_path / path.name
    assert cli.main(["fmt", "--write", str(copy)]) == 0
    assert cli.main(["fmt", "--check", str(copy)]) == 0
    assert agqc.load(copy).summary().total_params == agqc.load(path).summary().total_params


# ---- the layout, by hand ---------------------------------------------------------------------
def test_spacing_numbers_and_decorators_follow_the_documented_layout():
    messy = ('const  A=1e-5\nconst B = 0.00001\n@bf16 block F( x:[B,784] ,drop=0.5,)->[B,10]{\n'
             '  @fp16\n  h=x->linear( 10,bias = false)@int8 # why\n return h}\n')
    assert format_source(messy) == (
        "const A = 1e-5\nconst B = 0.00001\n\n@bf16\nblock F(x: [B, 784], drop = 0.5) -> [B, 10] {\n"
        "    @fp16 h = x -> linear(10, bias=false) @int8  # why\n    return h\n}\n")


def test_a_train_section_and_its_stages_are_laid_out_with_their_comments():
    messy = open(Path(__file__).parent / "golden" / "fmt_train_messy.agq").read()
    tidy = format_source(messy)
    assert tidy == open(Path(__file__).parent / "golden" / "fmt_train_tidy.agq").read()
    assert format_source(tidy) == tidy


def test_a_long_chain_is_packed_greedily_before_arrows():
    steps = [f"linear({n}) as layer_{n}" for n in range(100, 120)]
    out = format_source("block F(x: [B, 8]) {\n    h = x -> " + " -> ".join(steps) + "\n    return h\n}\n")
    lines = out.split("\n")[1:-3]
    assert lines[0].startswith("    h = x -> ") and all(line.startswith("        -> ") for line in lines[1:])
    assert all(len(line) <= 100 for line in lines)
    pieces = [p.strip() for line in lines for p in line.split("->")[1:]]
    assert pieces == steps  # nothing lost, nothing reordered
    for line, following in zip(lines, lines[1:]):  # greedy: the next step did not fit on this line
        assert len(line) + len(" " + following.split("-> ")[1].split(" ->")[0]) + 3 > 100


def test_a_comment_inside_a_chain_stays_after_its_step():
    out = format_source("model M {\n    h = x -> f()  # after f\n        -> g()\n}\n")
    assert out == "model M {\n    h = x -> f()  # after f\n        -> g()\n}\n"


GENERATOR = """\
block Generator(z: [B, NZ, 1, 1]) -> [B, 3, 64, 64] {
    return tanh(z
        -> conv_transpose2d(NGF * 8, kernel=4, stride=1, padding=0, bias=false)  # 4x4
        -> batchnorm() -> relu()
        -> conv_transpose2d(NGF * 4, kernel=4, stride=2, padding=1, bias=false)  # 8x8
        -> batchnorm() -> relu()
        -> conv_transpose2d(NGF * 2, kernel=4, stride=2, padding=1, bias=false)  # 16x16
        -> batchnorm() -> relu()
        -> conv_transpose2d(3, kernel=4, stride=2, padding=1, bias=false))  # 32x32
}
"""


def test_a_generator_written_one_layer_per_line_keeps_its_lines_and_comments():
    """Issue 12: each `# 4x4` was moved above the statement and the chain repacked, here as a call argument."""
    assert format_source(GENERATOR) == GENERATOR
    messy = GENERATOR.replace("    return", "  return").replace("        ->", "   ->").replace("  # ", "   # ")
    assert format_source(messy) == GENERATOR


def test_a_stage_per_line_is_kept_wherever_the_chain_sits():
    """Inside parentheses, as a call argument, after `a, b =`, in a tuple returned, under a decorator."""
    text = """\
block Res(x: [B, C, H, W]) -> ([B, C, H, W], [B, C, H, W]) {
    y = relu(x + (x
        -> conv2d(C, kernel=3, padding=1)  # first conv
        -> batchnorm()))
    z = concat(y, x
        -> conv2d(C, kernel=1)  # projection
        -> batchnorm(), dim=1)
    a, b = x
        -> conv2d(2 * C, kernel=1)  # widen
        -> split(C, C, dim=1)
    @bf16 h = (x
        -> conv2d(C, kernel=1)  # squeeze
        -> relu()) @fp32
    return a
        -> conv2d(C, kernel=3, padding=1)  # mix a
        -> relu(), h -> conv2d(C, kernel=3, padding=1)  # mix b
            -> relu()
}
"""
    assert format_source(text) == text
    flat = re.sub(r"  #[^\n]*", "", text).replace("\n        ->", " ->").replace("\n            ->", " ->")
    assert "->" not in "".join(line.strip()[:2] for line in flat.split("\n"))  # without comments or breaks ...
    assert max(len(line) for line in format_source(flat).split("\n")) <= 100  # ... each fits on one line


BERT = ("block Embeddings(tokens: int[B, T], types: int[B, T], positions: int[B, T]) -> [B, T, D] {\n"
        "    e = (tokens -> embedding(V, D) as word_embeddings) + (types -> embedding(2, D) as token_type_embeddings)"
        " + (positions -> embedding(512, D) as position_embeddings)\n"
        "    return e -> layernorm() -> dropout(0.1)\n}\n")


def test_a_wide_sum_breaks_after_plus_and_never_inside_a_parenthesised_operand():
    """Issue 12: the sum was broken as `+ (types` / `-> embedding(...))`."""
    out = format_source(BERT)
    assert out.split("\n")[1:4] == [
        "    e = (tokens -> embedding(V, D) as word_embeddings) +",
        "        (types -> embedding(2, D) as token_type_embeddings) +",
        "        (positions -> embedding(512, D) as position_embeddings)"]
    # a comment after `+` stays there; an operand too wide even on a line of its own stays whole
    wide = BERT.replace("as token_type_embeddings) + ", "as token_type_embeddings) +  # segments\n        ").replace(
        "as position_embeddings)", "as position_embeddings -> linear(D, bias=false) as position_projection)")
    lines = format_source(wide).split("\n")
    assert lines[2] == "        (types -> embedding(2, D) as token_type_embeddings) +  # segments"
    assert lines[3] == ("        (positions -> embedding(512, D) as position_embeddings -> linear(D, bias=false)"
                        " as position_projection)")
    # the author's breaks inside a parenthesised operand are kept; fmt adds none there
    kept = wide.replace("word_embeddings) + (types -> embedding",
                        "word_embeddings) +\n        (types\n            -> embedding")
    assert format_source(kept) == kept


def test_subscripts_are_never_split():
    steps = " -> ".join(f"linear({n}, bias=false)[:, 1:]" for n in range(100, 112))
    out = format_source(f"block F(x: [B, T, 8]) {{\n    h = x[:, -4:] -> {steps}\n    return h[:, 0]\n}}\n")
    lines = out.split("\n")[1:-3]
    assert len(lines) > 2 and all(len(line) <= 100 for line in lines)
    assert all(line.count("[") == line.count("]") for line in lines)
    wide = format_source("const A = x[(a -> f(111111111111111111111111) -> g(222222222222222222222222222)"
                         " -> h(333333333333333333333333333333)), 0]\n")
    assert wide.count("\n") == 1  # no line break inside the brackets, however wide


def test_comments_keep_their_order_when_keyword_arguments_move_after_positional_ones():
    """Found by the fuzz profile: gaps were taken in source order, but `x(kernel=..., a)` prints `a` first."""
    text = "block F() {\n    return x(kernel=x +  # one\nx  # two\n, x + x, -x)\n}\n"
    out = format_source(text)
    assert comments_of(out) == ["# one", "# two"] and format_source(out) == out


def test_parentheses_only_where_the_grammar_or_mixed_products_need_them():
    out = format_source("const A = ((1 + 2)) * (3) - (4 - 5)\nconst C = (28 // P) * (28 // P)\n"
                        "const D = -(-(2))\nconst E = (x + y) -> f() -> (g() @bf16) @fp16\n")
    assert out == ("const A = (1 + 2) * 3 - (4 - 5)\nconst C = (28 // P) * (28 // P)\nconst D = --2\n"
                   "const E = (x + y) -> f() -> (g() @bf16) @fp16\n")


# ---- the command line ----------------------------------------------------------------------
MESSY = "const  A=1\n"


def test_fmt_prints_check_lists_and_write_rewrites(tmp_path, capsys):
    spec = tmp_path / "a.agq"
    spec.write_text(MESSY)
    assert cli.main(["fmt", str(spec)]) == 0
    assert capsys.readouterr().out == "const A = 1\n" and spec.read_text() == MESSY
    assert cli.main(["fmt", "--check", str(spec)]) == 1
    captured = capsys.readouterr()
    assert f"{spec}: not formatted" in captured.err and "-const  A=1" in captured.out and "+const A = 1" in captured.out
    assert spec.read_text() == MESSY  # --check changes nothing
    assert cli.main(["fmt", "--write", str(spec)]) == 0
    assert spec.read_text() == "const A = 1\n" and list(tmp_path.iterdir()) == [spec]  # no temporary left
    assert cli.main(["fmt", "--check", str(spec)]) == 0


def test_syntax_error_is_a_located_diagnostic_and_other_files_still_format(tmp_path, capsys):
    bad, good = tmp_path / "bad.agq", tmp_path / "good.agq"
    bad.write_text("const A = 1\nblock F(x: [B) {\n}\n")
    good.write_text(MESSY)
    assert cli.main(["fmt", "--write", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "error[syntax]" in err and "Traceback" not in err
    assert good.read_text() == "const A = 1\n" and bad.read_text().startswith("const A = 1\nblock F(x: [B)")


def test_unreadable_files_and_conflicting_flags_exit_1(tmp_path, capsys):
    (tmp_path / "latin1.agq").write_bytes("# caf\xe9\n".encode("latin-1"))
    assert cli.main(["fmt", str(tmp_path / "missing.agq"), str(tmp_path / "latin1.agq")]) == 1
    err = capsys.readouterr().err
    assert "missing.agq" in err and "not UTF-8" in err and "Traceback" not in err
    assert cli.main(["fmt", "--check", "--write", str(tmp_path / "latin1.agq")]) == 1


def test_fmt_imports_neither_torch_nor_networkx():
    code = ("import sys; from agqc.cli import main; rc = main(['fmt', '--check', %r]); "
            "print(rc, [m for m in ('torch', 'networkx') if m in sys.modules])") % str(SPECS[0])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip().endswith("[]") and "Traceback" not in result.stderr, result.stdout + result.stderr


def test_the_example_in_the_formatting_reference_is_already_formatted():
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    example = text[text.index("## Formatting"):].split("```")[1].removeprefix("agq").lstrip("\n")
    assert format_source(example) == example


def test_nesting_too_deep_to_format_is_a_limit_diagnostic(tmp_path, capsys):
    spec = tmp_path / "deep.agq"
    spec.write_text("const A = " + "f(" * 400 + "1" + ")" * 400 + "\n")
    assert cli.main(["fmt", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error[limit]" in err and "Traceback" not in err


def test_every_shipped_file_is_in_the_canonical_layout():
    """The specs and the standard library are kept formatted: `agqc fmt --write` after editing them."""
    from agqc.cli import main
    files = [str(p) for p in sorted((ROOT / "specs").glob("*.agq")) + sorted((ROOT / "agqc" / "stdlib").glob("*.agq"))]
    assert main(["fmt", "--check", *files]) == 0


def test_a_brace_right_after_a_name_is_found():
    """`model M{` (no space) once crashed fmt: found by the fuzz profile on a mutated shipped spec."""
    text = "block N(x: [B, 4]) -> [B, 4]{\n    return x\n}\n\nmodel M{\n    network n = N()\n}\n"
    out = format_source(text, "spec.agq")
    assert "model M {" in out and "-> [B, 4] {" in out and format_source(out, "spec.agq") == out
