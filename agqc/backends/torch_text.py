"""Text of generated code: tokens, a block's variants lined up, long lines wrapped, a class written out.

Takes lines of Python that ``torch_graph`` wrote; gives their tokens (numbers apart, so
that variants differing only in numbers can be told), ``align`` (variants' lines made to
agree where a layer leaves a keyword at its default: ``stride=1`` written out),
``context`` (the call, position and keyword of a number), ``wrap`` and ``write_class``
(the text of one ``nn.Module`` class, comments aligned).
"""
from __future__ import annotations

import re

COMMENT_COLUMN = 56
TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\s+|.""")

# Keyword arguments the layer lowerings leave out at their defaults, written out where variants differ.
_LAYER = re.compile(r"^(self\.\w+ = (?:nn\.)?(\w+)\()(.*)\)$")
_CONV = {"stride": "1", "padding": "0", "dilation": "1", "groups": "1", "output_padding": "0"}
_NORM = {"eps": "1e-05", "momentum": "0.1"}
_DEFAULTS = {"Conv1d": _CONV, "Conv2d": _CONV, "ConvTranspose2d": _CONV, "BatchNorm1d": _NORM, "BatchNorm2d": _NORM,
             "LayerNorm": {"eps": "1e-05"}}
_KW_ORDER = ["kernel_size", "stride", "padding", "dilation", "output_padding", "groups", "eps", "momentum", "bias",
             "dtype", "precision", "activations"]



def align(variants: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]] | None:
    """The variants' units with equal skeletons (a layer's default keywords written out where one
    variant gives them: ``stride=1``), or None when they differ in more than numbers."""
    if len({len(v) for v in variants}) != 1:
        return None
    out = [list(v) for v in variants]
    for i, unit in enumerate(variants[0]):
        if len({v[i][0] for v in variants}) != 1:
            return None
        if len({skeleton(v[i][1]) for v in variants}) == 1:
            continue
        lines = _with_defaults([v[i][1] for v in variants]) if unit[0] == "init" else None
        if lines is None or len({skeleton(line) for line in lines}) != 1:
            return None
        for v, line in zip(out, lines):
            v[i] = ("init", line)
    return out


def _with_defaults(lines: list[str]) -> list[str] | None:
    calls = [_LAYER.match(line) for line in lines]
    if not all(calls) or len({c.group(1) for c in calls}) != 1:
        return None
    defaults = _DEFAULTS.get(calls[0].group(2).removeprefix("Quant"), {})
    parsed = []
    for c in calls:
        args = _split_args(c.group(3))
        positional = [a for a in args if not re.match(r"\w+=", a)]
        keywords = dict(a.split("=", 1) for a in args if re.match(r"\w+=", a))
        parsed.append((positional, keywords))
    names = list(dict.fromkeys(k for _, kw in parsed for k in kw))
    names.sort(key=lambda k: _KW_ORDER.index(k) if k in _KW_ORDER else len(_KW_ORDER))
    out = []
    for c, (positional, keywords) in zip(calls, parsed):
        if any(k not in keywords and k not in defaults for k in names):
            return None
        args = positional + [f"{k}={keywords.get(k, defaults.get(k))}" for k in names]
        out.append(f"{c.group(1)}{', '.join(args)})")
    return out


def _split_args(text: str) -> list[str]:
    args, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
    return args + [current.strip()] if current.strip() else args


def tokens(text: str) -> list[str]:
    """Strings, names and numbers whole; every other character on its own (joined, they give the text back)."""
    return TOKEN.findall(text)


def is_number(tok: str) -> bool:
    return tok[:1].isdigit()


def skeleton(text: str) -> tuple[str, ...]:
    return tuple("#" if is_number(t) else t for t in tokens(text))


def number_value(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)


def write_class(name: str, doc: str, params: list[str], attrs: list[str], init: list[str],
                inputs: list[str], statements: list[tuple[list[str], str]]) -> str:
    """A class's text: docstring, ``__init__`` (constructor arguments kept as attributes forward reads),
    and ``forward`` with each statement's note as a comment, aligned."""
    lines = [f"class {name}(nn.Module):", f'    """{doc}"""', ""]
    lines += wrap(f"    def __init__({', '.join(['self'] + params)}):")
    lines += ["        super().__init__()"]
    lines += [f"        self.{a} = {a}" for a in attrs]
    lines += [w for line in init for w in wrap("        " + line)]
    lines += ["", f"    def forward({', '.join(['self'] + inputs)}):"]
    firsts = [code[0] for code, note in statements if note]
    width = min(COMMENT_COLUMN, max((len(c) for c in firsts), default=0) + 2)
    for code, note in statements:
        for i, line in enumerate(code):
            if i == 0 and note:
                line = f"{line:<{max(width, len(line) + 2)}}# {note}"
            lines.append("        " + line)
    return "\n".join(lines)


def wrap(line: str, limit: int = 110) -> list[str]:
    """A long line broken after the commas of its first call with several arguments, aligned to it."""
    if len(line) <= limit or "#" in line:
        return [line]
    opens: list[int] = []
    commas: dict[int, list[int]] = {}
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            opens.append(i)
        elif ch in ")]}" and opens:
            opens.pop()
        elif ch == "," and opens:
            commas.setdefault(opens[-1], []).append(i)
    if not commas:
        return [line]
    paren = min(commas)
    out, start, indent = [], 0, " " * (paren + 1)
    while len(line) - start + (len(indent) if out else 0) > limit:
        room = limit - (len(indent) if out else 0)
        fits = [c for c in commas[paren] if start < c and c + 1 - start <= room]
        if not fits:
            break
        out.append((indent if out else "") + line[start:fits[-1] + 1])
        start = fits[-1] + 2
    out.append((indent if out else "") + line[start:])
    return out


def context(tokens: list[str], at: int) -> tuple[str | None, int | None, str | None]:
    """For the number at ``tokens[at]``: the call it is an argument of, its position, its keyword."""
    stack: list[list] = []  # [callee, position]
    previous = ""
    for tok in tokens[:at]:
        if tok in "([{" and len(tok) == 1:
            stack.append([previous if tok == "(" and previous.isidentifier() else None, 0])
        elif tok in ")]}" and len(tok) == 1 and stack:
            stack.pop()
        elif tok == "," and stack:
            stack[-1][1] += 1
        if not tok.isspace():
            previous = tok
    before = [t for t in tokens[:at] if not t.isspace()]
    kw = before[-2] if len(before) >= 2 and before[-1] == "=" and before[-2].isidentifier() else None
    if not stack:
        return None, None, kw
    return stack[-1][0], stack[-1][1], kw
