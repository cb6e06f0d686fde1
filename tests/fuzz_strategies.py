"""Hypothesis strategies for ill-formed .agq input (issue 6), used by test_fuzz_diagnostics.py.

Three families:

* ``ill_formed_specs``: a well-formed spec drawn with random sizes, precision and
  role, then broken on purpose by one to three *semantic* mutations (a size that
  no longer fits, an unknown name, an argument of the wrong kind, a wrong count,
  a duplicate...).  Each mutation says which diagnostic codes may report it, so
  a test can demand exit 1 and one of those codes, not only "no crash".
* ``mutated_sources``: *text* mutations of every shipped spec (specs/ and the
  standard library): tokens deleted, duplicated and swapped, random bytes and
  unicode inserted, lines dropped or repeated, truncation, indentation, CRLF,
  NUL, very long names.  Gives bytes, since some mutations are not UTF-8.
* ``grammar_sources``: ``hypothesis.extra.lark.from_lark`` over grammar/agq.lark,
  with every terminal padded by a space so that adjacent tokens stay apart
  (from_lark glues terminals together, and `block` `A` would lex as one name).
"""
from __future__ import annotations

import re
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from agqc.model import ROLES
from agqc.ops.registry import all_ops
from agqc.types import PRECISIONS

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "specs").glob("*.agq")) + sorted((ROOT / "agqc" / "stdlib").glob("*.agq"))
OPS = set(all_ops())
RESERVED = {"import", "const", "block", "model", "return", "repeat", "as", "input", "true", "false"}

# ---- 1. semantic mutations of a well-formed spec --------------------------------------
# The base spec: a conv stem, a repeated residual block, a split/concat and a head.
# Every `{field}` is one fragment that a mutation may replace.
TEMPLATE = """\
const WIDTH = {width}

block Residual({res_params}) -> {res_out} {{
    h = x -> layernorm() -> linear({hidden}) -> {act}()
    {res_return}
}}

{decorator}block Classifier({cls_params}) -> [B, {classes_out}] {{
    h = x -> {conv} -> batchnorm() -> relu()
    h = h -> max_pool2d(2) -> flatten() -> {proj}
    repeat {count} as blocks {{
        {repeat_body}
    }}
    {split_line}
    mixed = concat({concat_args})
    return mixed -> dropout({p}) -> linear({classes}) as {head_alias}
}}

model Net {{
    {role} net = {network_call}
{model_extra}}}
{extra}"""


@st.composite
def well_formed_fields(draw) -> dict[str, str]:
    width = draw(st.integers(2, 64))
    left = draw(st.integers(1, width - 1))
    classes = draw(st.integers(1, 20))
    kernel = draw(st.sampled_from([1, 3, 5]))
    size = draw(st.sampled_from([8, 12, 16]))
    channels = draw(st.integers(1, 4))
    precision = draw(st.sampled_from(["", "@fp32\n", "@bf16\n", "@fp16\n", "@int8\n", "@fp8(e4m3)\n"]))
    return {
        "width": str(width), "res_params": "x: [B, D]", "res_out": "[B, D]",
        "hidden": str(draw(st.integers(1, 64))), "act": draw(st.sampled_from(["relu", "gelu", "silu", "tanh"])),
        "res_return": "return x + (h -> linear(D))", "decorator": precision,
        "cls_params": f"x: [B, {channels}, {size}, {size}], depth = {draw(st.integers(1, 3))}",
        "classes_out": str(classes), "classes": str(classes),
        "conv": f"conv2d({draw(st.integers(1, 8))}, kernel={kernel}, padding={kernel // 2})",
        "proj": "linear(WIDTH) as proj", "count": "depth", "repeat_body": "h = Residual(h)",
        "split_line": f"left, right = split(h, {left}, WIDTH - {left})", "concat_args": "left, right -> relu()",
        "p": draw(st.sampled_from(["0.0", "0.1", "0.5"])), "head_alias": "head",
        "role": draw(st.sampled_from(ROLES)), "network_call": "Classifier()", "model_extra": "", "extra": "",
        "_left": str(left),
    }


def render_spec(fields: dict[str, str]) -> str:
    return TEMPLATE.format(**fields)


def _fresh_name(draw, base: str, taken: set[str]) -> str:
    """A misspelling of ``base`` that names nothing (so the mutation surely breaks the spec)."""
    suffix = draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=3))
    where = draw(st.integers(0, len(base)))
    name = base[:where] + suffix + base[where:]
    return name if name not in taken | RESERVED | OPS else base + "_zq"


def _bump(draw) -> int:
    return draw(st.integers(1, 9))


# Each mutation: (name, function(draw, fields) -> codes that may report it).  A mutation
# edits ``fields`` in place.
def _m_rank(draw, f):
    f["cls_params"] = f["cls_params"].replace("x: [B, ", draw(st.sampled_from(["x: [B, 7, ", "x: ["])), 1)
    return {"shape-mismatch"}


def _m_return_type(draw, f):
    f["classes_out"] = str(int(f["classes"]) + _bump(draw))
    return {"return-type"}


def _m_proj_width(draw, f):
    f["proj"] = f"linear(WIDTH + {_bump(draw)}) as proj"
    return {"shape-mismatch"}


def _m_residual_width(draw, f):
    f["res_return"] = f"return x + (h -> linear(D + {_bump(draw)}))"
    return {"shape-mismatch"}


def _m_repeat_shape(draw, f):
    f["repeat_body"] = f"h = Residual(h) -> linear(WIDTH + {_bump(draw)})"
    return {"repeat-shape"}


def _m_split_sizes(draw, f):
    f["split_line"] = f"left, right = split(h, {f['_left']}, WIDTH - {f['_left']} + {_bump(draw)})"
    return {"shape-mismatch", "bad-value"}


def _m_kernel_too_big(draw, f):
    f["conv"] = f"conv2d(4, kernel={draw(st.integers(17, 99))})"
    return {"shape-mismatch", "bad-value"}


def _m_unknown_op(draw, f):
    f["act"] = _fresh_name(draw, f["act"], set())
    return {"unknown-op"}


def _m_unknown_block(draw, f):
    f["repeat_body"] = f"h = {_fresh_name(draw, 'Residual', {'Classifier'})}(h)"
    return {"unknown-op"}


def _m_unknown_variable(draw, f):
    which = draw(st.sampled_from(["concat", "return"]))
    if which == "concat":
        f["concat_args"] = f"{_fresh_name(draw, 'left', {'right', 'h', 'x', 'mixed', 'depth', 'B', 'D'})}, right"
    else:
        f["res_return"] = f"return {_fresh_name(draw, 'x', {'h', 'B', 'D'})} + h -> linear(D)"
    return {"unknown-name", "symbolic-dim"}


def _m_unknown_kwarg(draw, f):
    kwarg = _fresh_name(draw, 'kernel', {'out', 'stride', 'padding', 'dilation', 'groups', 'bias'})
    f["conv"] = f"conv2d(4, {kwarg}=3)"
    return {"unknown-arg", "missing-arg"}


def _m_unknown_precision(draw, f):
    f["decorator"] = f"@{_fresh_name(draw, draw(st.sampled_from(sorted(PRECISIONS))), set(PRECISIONS))}\n"
    return {"unknown-precision"}


def _m_unknown_role(draw, f):
    f["role"] = _fresh_name(draw, f["role"], set(ROLES))
    return {"unknown-role"}


def _m_unknown_const(draw, f):
    f["proj"] = f"linear({_fresh_name(draw, 'WIDTH', set())}) as proj"
    return {"unknown-name", "symbolic-dim"}


def _m_unknown_config(draw, f):
    f["network_call"] = f"Classifier({_fresh_name(draw, 'depth', set())}=2)"
    return {"unknown-arg"}


def _m_unpack_many(draw, f):
    f["split_line"] = f"left, right, extra = split(h, {f['_left']}, WIDTH - {f['_left']})"
    return {"unpack-count"}


def _m_unpack_one(draw, f):
    f["split_line"] = f"left = split(h, {f['_left']}, WIDTH - {f['_left']})"
    f["concat_args"] = "left, h"
    return {"unpack-count", "tuple-value"}


def _m_missing_input(draw, f):
    f["res_params"] = "x: [B, D], y: [B, D]"
    return {"missing-arg", "unused-input"}


def _m_unused_input(draw, f):
    f["res_params"] = "x: [B, D], y: [B, D]"
    f["repeat_body"] = "h = Residual(h, h)"
    return {"unused-input"}


def _m_duplicate(draw, f):
    kind = draw(st.sampled_from(["block", "const", "param", "config", "alias", "network"]))
    if kind == "block":
        f["extra"] = "\nblock Residual(x: [B, 4]) -> [B, 4] {\n    return x\n}\n"
    elif kind == "const":
        f["extra"] = f"\nconst WIDTH = {f['width']}\n"
    elif kind == "param":
        f["res_params"] = "x: [B, D], x: [B, D]"
    elif kind == "config":
        f["cls_params"] += ", depth = 1"
    elif kind == "alias":
        f["head_alias"] = "proj"
    else:
        f["model_extra"] = "    network net = Classifier()\n"
    return {"duplicate-name"}


def _m_dtype(draw, f):
    f["cls_params"] = "x: int" + f["cls_params"].removeprefix("x: ")
    return {"dtype-mismatch"}


# Mutations that put one of a few fixed texts into one field: name -> (field, texts, codes).
FIELD_MUTATIONS = {
    "residual_out": ("res_out", ["[B, D + 1]", "[B, 2 * D]", "[B, D, 1]", "int[B, D]"], {"return-type"}),
    "tensor_for_number": ("proj", ["linear(h) as proj", "linear(out=h) as proj"], {"arg-type", "too-many-args"}),
    # a number after concat's tensors is its `dim`
    "number_for_tensor": ("concat_args", ["left, 3", 'left, "right"', "left, true"],
                          {"arg-type", "not-a-tensor", "bad-value"}),
    "wrong_kind": ("proj", [f"linear({v}) as proj" for v in ('"48"', "true", "false", "4.5", "0", "-3", "10 // 3 - 3")],
                   {"arg-type", "bad-value"}),
    "bad_probability": ("p", ["1.5", "-0.1", '"half"', "true", "1"], {"arg-type", "bad-value"}),
    "bad_count": ("count", ["0", "(-1)", "(2.5)", '("two")', "(true)"], {"arg-type", "bad-value"}),
    # a number after the tensors gives a size: Residual(h, 3) says B=3
    "too_many_inputs": ("repeat_body", ["h = Residual(h, h)", "h = Residual(h, 3)", "h = (h -> Residual(h))"],
                        {"too-many-args", "arg-type", "shape-mismatch"}),
    "two_returns": ("res_return", ["return x, h"], {"return-type", "unpack-count", "tuple-value"}),
    "missing_return": ("res_return", ["y = x + (h -> linear(D))"], {"missing-return"}),
    "network_args": ("network_call", ["Classifier(1, 2, 3)"], {"too-many-args"}),
    "misplaced": ("repeat_body", ["h = Residual(h)\n        network n = Residual()",
                                  "h = Residual(h)\n        input y: [B, 4]"], {"misplaced"}),
    "recursive": ("res_return", ["return Residual(x)", "return Classifier(x)"], {"recursive-block", "shape-mismatch"}),
}


def _field_mutation(name: str):
    field, texts, codes = FIELD_MUTATIONS[name]

    def mutate(draw, f):
        f[field] = draw(st.sampled_from(texts))
        return codes
    mutate.__name__ = f"_m_{name}"
    return mutate


MUTATIONS = [_m_rank, _m_return_type, _m_proj_width, _m_residual_width, _m_repeat_shape, _m_split_sizes,
             _m_kernel_too_big, _m_unknown_op, _m_unknown_block, _m_unknown_variable, _m_unknown_kwarg,
             _m_unknown_precision, _m_unknown_role, _m_unknown_const, _m_unknown_config, _m_unpack_many,
             _m_unpack_one, _m_missing_input, _m_unused_input, _m_duplicate, _m_dtype,
             *map(_field_mutation, FIELD_MUTATIONS)]


@st.composite
def ill_formed_specs(draw, max_mutations: int = 3):
    """(spec text, names of the mutations, codes any of which may report them)."""
    fields = draw(well_formed_fields())
    chosen = draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=max_mutations, unique=True))
    codes: set[str] = set()
    for mutation in chosen:
        codes |= mutation(draw, fields)
    if len(chosen) > 1:
        # Mutations change signatures and calls independently (one adds an input to `Residual`, another
        # calls it recursively with one argument): the argument count may then be what is reported first.
        codes |= {"missing-arg", "too-many-args"}
    return render_spec(fields), [m.__name__[3:] for m in chosen], codes


# ---- 2. text mutations of the shipped specs --------------------------------------------
_TOKEN = re.compile(r'\s+|#[^\n]*|"[^"\n]*"|->|//|\w+|.', re.S)
_WORD = re.compile(r"[A-Za-z_]\w*")
# Characters that editors and Python treat specially: line and paragraph separators (str.splitlines
# breaks lines at them, lark does not), form feed, BOM, zero-width and combining marks, wide glyphs.
TRICKY = ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x85", "\ufeff", "\u200b", "\u0301", "\u4e2d",
          "\U0001f600", "\r", "\t", "\\", '"', "#", "é", "ℌ"]


def tokenise(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _pick(draw, items: list) -> int:
    return draw(st.integers(0, max(0, len(items) - 1)))


@st.composite
def _text_mutation(draw, text: str) -> str:
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "swap_near", "unicode", "delete_line",
                                 "duplicate_line", "truncate", "indent", "crlf", "nul", "long_name", "replace"]))
    toks, lines = tokenise(text), text.split("\n")
    if kind in ("delete", "duplicate", "swap", "swap_near", "replace") and toks:
        i = _pick(draw, toks)
        if kind == "delete":
            del toks[i]
        elif kind == "duplicate":
            toks.insert(i, toks[i])
        elif kind == "replace":  # a token in place of another: `(` for `[`, a name for a number...
            toks[i] = toks[_pick(draw, toks)]
        else:
            j = min(len(toks) - 1, i + draw(st.integers(1, 3))) if kind == "swap_near" else _pick(draw, toks)
            toks[i], toks[j] = toks[j], toks[i]
        return "".join(toks)
    if kind == "unicode":
        at = draw(st.integers(0, len(text)))
        junk = draw(st.text(min_size=1, max_size=4) | st.sampled_from(TRICKY))
        return text[:at] + junk + text[at:]
    if kind in ("delete_line", "duplicate_line"):
        i = _pick(draw, lines)
        if kind == "delete_line":
            del lines[i]
        else:
            lines.insert(i, lines[i])
        return "\n".join(lines)
    if kind == "truncate":
        return text[:draw(st.integers(0, len(text)))]
    if kind == "indent":
        i = _pick(draw, lines)
        lines[i] = draw(st.sampled_from(["", " ", "\t", "    ", "\t \t", " " * 40])) + lines[i].lstrip()
        return "\n".join(lines)
    if kind == "crlf":
        return text.replace("\n", "\r\n")
    if kind == "nul":
        at = draw(st.integers(0, len(text)))
        return text[:at] + "\x00" + text[at:]
    words = [i for i, t in enumerate(toks) if _WORD.fullmatch(t)]  # long_name
    if not words:
        return text
    i = words[_pick(draw, words)]
    toks[i] = toks[i] + "x" * draw(st.sampled_from([100, 5_000, 50_000]))
    return "".join(toks)


@st.composite
def mutated_sources(draw):
    """(name of the shipped file, mutated bytes)."""
    path = draw(st.sampled_from(SHIPPED))
    text = path.read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        text = draw(_text_mutation(text))
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # random bytes: often not UTF-8 at all
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return path.name, data


# ---- 3. the grammar itself ----------------------------------------------------------------
def _grammar() -> Lark:
    text = (ROOT / "grammar" / "agq.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", lexer="basic", start="start")


def _padded(pattern: str, exclude: set[str] = frozenset()) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True).filter(lambda s: s not in exclude).map(lambda s: s + " ")


def grammar_sources() -> st.SearchStrategy[str]:
    """Texts the grammar derives, one space after every terminal.

    Names avoid the reserved words (lark's lexer would read them as keywords) and
    stay ASCII, as NAME is; numbers keep to a few digits (a 5,000-digit literal
    is tested on its own); strings avoid `\\r`, which Python's universal newlines
    would turn into a line break on reading; comments are left out (one would
    swallow the rest of its line, and from_lark puts ignored text anywhere).
    """
    grammar = _grammar()
    explicit = {}
    for term in grammar.terminals:
        if term.name == "NAME":
            explicit[term.name] = _padded(r"[A-Za-z_][A-Za-z0-9_]{0,8}", RESERVED)
        elif term.name == "NUMBER":
            explicit[term.name] = _padded(r"[0-9]{1,6}(\.[0-9]{1,3})?([eE][-+]?[0-9]{1,2})?")
        elif term.name == "STRING":
            explicit[term.name] = _padded(r'"[^"\n\r]{0,10}"')
        elif term.name == "_NL":
            explicit[term.name] = st.sampled_from(["\n", "\n    ", "\n\n", "\r\n"])
        elif term.name == "COMMENT":  # a comment would swallow the rest of its line: comments are
            explicit[term.name] = st.just(" ")  # fuzzed through the shipped specs instead
        elif term.pattern.type == "str":
            explicit[term.name] = st.just(term.pattern.value + " ")
    # Imports of files that do not exist stop agqc before it looks at blocks: drop them half the time.
    drop_imports = st.booleans()
    return st.tuples(from_lark(grammar, explicit=explicit), drop_imports).map(
        lambda pair: re.sub(r"\bimport [^\n]*", "", pair[0]) if pair[1] else pair[0])
