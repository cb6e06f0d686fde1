"""Syntax highlighting of ``.agq`` specs for notebooks and documentation (Pygments).

Takes a spec as text or as a path; gives ``AgqLexer`` (a Pygments lexer: name "agq", files ``*.agq``)
and ``show(path_or_text)``, an object a notebook displays as the spec highlighted (``_repr_html_``:
a ``<pre>`` with inline styles, so it survives being saved, exported or viewed on GitHub).

The word lists are read from agqc's own registries, not retyped: op names from the op registry
(``agqc.ops.registry``), network roles from ``agqc.model.ROLES``, precisions from
``agqc.types.PRECISIONS``, train settings and the words their values use from ``agqc.train.options``
and ``agqc.train.core.data``.  A word added there is highlighted here without a change.

Pygments is a notebook and documentation dependency (the ``dev`` extra); agqc's compiler never
imports this module.
"""
from __future__ import annotations

import re
from pathlib import Path

from pygments.lexer import RegexLexer, bygroups, include, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from .model import ROLES
from .ops.registry import all_ops
from .train import options
from .train.core.data import AUGMENTATIONS, DATASETS, TRANSFORMS
from .types import PRECISIONS, DType

__all__ = ["AgqLexer", "Highlighted", "show"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# the grammar's keywords (grammar/agq.lark); `train` and `stage` are words only at the head of a section
KEYWORDS = ("import", "const", "block", "model", "return", "repeat", "as", "input")
CONSTANTS = ("true", "false")
DTYPES = tuple(d.value for d in DType)  # `int[B]`
OPS = tuple(sorted(all_ops()))
TRAIN_WORDS = tuple(sorted({*options.OBJECTIVES, *options.OPTIMIZERS, *options.SCHEDULES, *options.INITS,
                            *options.CLIPS, *options.REGULARIZERS, *options.METRICS, *options.MONITORS,
                            options.GENERATED.name, *DATASETS, *TRANSFORMS, *AUGMENTATIONS}))
_SETTING = "|".join(sorted(options.SETTINGS, key=len, reverse=True))
_PRECISION = "|".join(sorted(PRECISIONS, key=len, reverse=True))
_DTYPE = "|".join(DTYPES)


class AgqLexer(RegexLexer):
    """The ``.agq`` language: keywords, roles, decorators, ops, types, and the ``train`` section."""

    name = "agq"
    aliases = ["agq"]
    filenames = ["*.agq"]
    mimetypes = ["text/x-agq"]
    flags = re.MULTILINE

    tokens = {
        "root": [
            (r"(train)([ \t]*)(\{)", bygroups(Keyword, Whitespace, Punctuation), "train"),
            include("common"),
        ],
        "common": [
            (r"\n", Whitespace),
            (r"[ \t\f\r]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"[^"\n]*"', String.Double),
            # `@binary(activations)`: the precision and its options; an unknown one is still a decorator
            (rf"(@)({_PRECISION})\b(\()", bygroups(Name.Decorator, Name.Decorator, Punctuation), "decorator"),
            (rf"(@)({_NAME})(\()", bygroups(Name.Decorator, Name.Decorator, Punctuation), "decorator"),
            (rf"(@)({_NAME})", bygroups(Name.Decorator, Name.Decorator)),
            # declarations: the name after `block`, `model`, `const`, `import`, `as`
            (rf"(block|model)([ \t]+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"(const)([ \t]+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Constant)),
            (r"(import)([ \t]+)(\"[^\"\n]*\")", bygroups(Keyword.Namespace, Whitespace, String.Double)),
            (rf"(import)([ \t]+)({_NAME}(?:\.{_NAME})*)", bygroups(Keyword.Namespace, Whitespace, Name.Namespace)),
            (rf"(as)([ \t]+)({_NAME})", bygroups(Keyword, Whitespace, Name.Label)),
            (rf"(input)([ \t]+)({_NAME})", bygroups(Keyword, Whitespace, Name.Variable)),
            # a network: `classifier net = ...`
            (rf"({'|'.join(ROLES)})([ \t]+)({_NAME})(?=[ \t]*=)", bygroups(Keyword.Type, Whitespace, Name.Variable)),
            # a type: `x: [B, 1, 28, 28]`, `y: int[B]`, `-> [B, 10]`, `-> ([B, 10], [B, 1])`
            (rf"(:)([ \t]*)({_DTYPE})?(\[)", bygroups(Punctuation, Whitespace, Keyword.Type, Punctuation), "type"),
            (rf"(->)(\s*)({_DTYPE})?(\[)", bygroups(Operator, Whitespace, Keyword.Type, Punctuation), "type"),
            (rf"(->)(\s*)(\()(?=\s*(?:{_DTYPE})?\[)", bygroups(Operator, Whitespace, Punctuation), "types"),
            (r"->", Operator),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(OPS, prefix=r"\b", suffix=r"(?=\s*\()"), Name.Builtin),
            (rf"{_NAME}(?=\s*\()", Name.Function),
            (r"[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+|[0-9]+\.[0-9]+", Number.Float),
            (r"[0-9]+", Number.Integer),
            (r"\b[A-Z][A-Z0-9_]*\b", Name.Constant),
            (_NAME, Name),
            (r"//|[-+*/=]", Operator),
            (r"[(){}\[\],.:]", Punctuation),
        ],
        "decorator": [
            (_NAME, Name.Decorator),
            (r"\s+", Whitespace),
            (r",", Punctuation),
            (r"\)", Punctuation, "#pop"),
        ],
        "type": [
            (r"\]", Punctuation, "#pop"),
            (r"\s+", Whitespace),
            (r"[0-9]+", Number.Integer),
            (_NAME, Name.Constant),  # a symbolic size (`B`) or a constant
            (r"//|[-+*/]", Operator),
            (r"[(),]", Punctuation),
        ],
        "types": [
            (rf"({_DTYPE})?(\[)", bygroups(Keyword.Type, Punctuation), "type"),
            (r"\s+", Whitespace),
            (r",", Punctuation),
            (r"\)", Punctuation, "#pop"),
        ],
        # a model's `train { ... }` and each `stage name { ... }` inside it
        "train": [
            (r"\}", Punctuation, "#pop"),
            (rf"^([ \t]*)(stage)([ \t]+)({_NAME})(\s*)(\{{)",
             bygroups(Whitespace, Keyword, Whitespace, Name.Label, Whitespace, Punctuation), "train"),
            # `optimizer = ...`, `optimizer tf = ...`: the key, then what it applies to
            (rf"^([ \t]*)({_SETTING})([ \t]+)({_NAME})(?=[ \t]*=)",
             bygroups(Whitespace, Name.Attribute, Whitespace, Name.Variable)),
            (rf"^([ \t]*)({_SETTING})(?=[ \t]*=)", bygroups(Whitespace, Name.Attribute)),
            (words(TRAIN_WORDS, prefix=r"\b", suffix=r"(?=\s*\()"), Name.Builtin),
            include("common"),
        ],
    }


class Highlighted:
    """A spec's text, shown highlighted in a notebook (``_repr_html_``) and as itself elsewhere."""

    def __init__(self, text: str, title: str | None = None):
        self.text, self.title = text, title

    def html(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        body = highlight(self.text, AgqLexer(), HtmlFormatter(noclasses=True, style="default", nowrap=False))
        if self.title:
            body = f'<div style="font-family: monospace; font-weight: bold">{_escape(self.title)}</div>' + body
        return body

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return self.text


def show(path_or_text: str | Path) -> Highlighted:
    """A spec to display highlighted: a path to an ``.agq`` file (its name as a title), else the text itself."""
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and path_or_text.endswith(".agq")):
        path = Path(path_or_text)
        return Highlighted(path.read_text(encoding="utf-8"), path.name)
    return Highlighted(str(path_or_text))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
