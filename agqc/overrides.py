"""``--set NAME=VALUE``: change one thing in a spec without editing the file.

Takes the main file's parsed ``ast.Module`` and the ``--set`` texts; gives the module with each
override spliced in, and the overrides' own source text (for diagnostics).  NAME is one of
  - a train setting (``epochs=3``, ``optimizer=adam(lr=1e-2)``, ``"optimizer tf=adamw(lr=5e-4)"``):
    it replaces that setting in the section and in every stage that sets it, so it holds everywhere;
  - a ``const`` of the main file (``WIDTH=512``);
  - ``precision`` (``precision=fp64``, ``precision=bf16``): the model's precision annotation.
VALUE is written as it would be in the spec and parsed by the same grammar, so an override is
checked exactly as the spec is: a wrong value is a located diagnostic in the pseudo-file
``--set NAME``, whose one line is what was typed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from . import ast
from .diagnostics import AgqcError, Reporter, Span, did_you_mean, typed_source
from .errorcodes import Code
from .parse import parse_source
from .types import PRECISIONS


@dataclass(frozen=True)
class Override:
    text: str   # as typed: NAME=VALUE
    name: str   # NAME, e.g. `epochs`, `optimizer tf`, `WIDTH`, `precision`
    value: str

    @property
    def file(self) -> str:
        return f"--set {self.name}"


def parse_override(text: str) -> Override:
    """``NAME=VALUE`` -> an Override; ValueError saying what is wrong otherwise."""
    name, eq, value = text.partition("=")
    name = " ".join(name.split())
    if not eq or not value.strip() or "\n" in value or not re.fullmatch(r"[A-Za-z_]\w*( [A-Za-z_][\w.]*)?", name):
        raise ValueError(f"--set {text}: expected NAME=VALUE, e.g. epochs=3, optimizer=adam(lr=1e-2), WIDTH=512 "
                         "or precision=fp64")
    return Override(text.strip(), name, value.strip())


def apply(module: ast.Module, overrides: list[Override], sources: dict[str, str], reporter: Reporter) -> ast.Module:
    """The module with every override spliced in; errors (unknown NAME, a bad VALUE) go to ``reporter``."""
    for o in overrides:
        module = _apply_one(module, o, sources, reporter)
        typed_source(o.file, sources.get(o.file, o.text))  # diagnostics rendered without ``sources`` quote it too
    return module


def _apply_one(module: ast.Module, o: Override, sources: dict[str, str], reporter: Reporter) -> ast.Module:
    from .train.options import SETTINGS
    consts = {item.name for item in module.items if isinstance(item, ast.Const)}
    key = o.name.split()[0]
    if o.name == "precision":
        return _precision(module, o, sources, reporter)
    if key in SETTINGS:
        return _setting(module, o, sources, reporter)
    if o.name in consts:
        return _const(module, o, sources, reporter)
    span = Span(o.file, 1, 1, 1, len(o.name) + 1)
    sources[o.file] = o.text
    known = sorted(consts | set(SETTINGS) | {"precision"})
    reporter.error(Code.UNKNOWN_SETTING, f"`--set {o.name}=...`: `{o.name}` is not a train setting, a constant of "
                   f"{module.file} or `precision`", span,
                   did_you_mean(key, known) or "train settings are listed in docs/training.md")
    return module


def _parse(text: str, o: Override, sources: dict[str, str], reporter: Reporter, lead: int = 0) -> ast.Module | None:
    """The snippet parsed; ``lead`` wrapper lines come before the typed one, and every span (of the tree and
    of a syntax error) is moved up by them, so that `--set NAME:1:COL` points into what was typed."""
    sources[o.file] = text.split("\n", lead)[lead] if lead else text
    try:
        return _moved(parse_source(text, o.file), o.file, lead)
    except AgqcError as err:
        for d in err.diagnostics:
            reporter._add(_moved(d, o.file, lead))
        return None


def _moved(node: Any, file: str, lead: int) -> Any:
    """``node`` (a frozen dataclass tree) with its spans in ``file`` ``lead`` lines higher."""
    if not lead:
        return node
    if isinstance(node, Span):
        return replace(node, line=max(1, node.line - lead), end_line=max(1, node.end_line - lead)) \
            if node.file == file else node
    if isinstance(node, tuple):
        return tuple(_moved(item, file, lead) for item in node)
    if is_dataclass(node) and not isinstance(node, type):
        return replace(node, **{f.name: _moved(getattr(node, f.name), file, lead) for f in fields(node) if f.init})
    return node


def _model(module: ast.Module) -> ast.Model | None:
    return next((i for i in module.items if isinstance(i, ast.Model)), None)


def _with_model(module: ast.Module, old: ast.Model, new: ast.Model) -> ast.Module:
    return replace(module, items=tuple(new if i is old else i for i in module.items))


def _setting(module: ast.Module, o: Override, sources: dict[str, str], reporter: Reporter) -> ast.Module:
    model = _model(module)
    section = next((s for s in model.body if isinstance(s, ast.TrainSection)), None) if model else None
    if model is None or section is None:
        reporter.error(Code.UNKNOWN_SETTING, f"`--set {o.text}`: {module.file} has no train section to change",
                       Span(o.file, 1, 1, 1, len(o.name) + 1))
        return module
    # the typed text is the snippet's third line, so a diagnostic's column matches what was typed
    parsed = _parse(f"model _M {{\ntrain {{\n{o.name} = {o.value}\n}}\n}}\n", o, sources, reporter, lead=2)
    if parsed is None:
        return module
    new = next(s for s in _model(parsed).body if isinstance(s, ast.TrainSection)).settings[0]  # type: ignore[union-attr]

    def kept(settings: tuple[ast.Setting, ...]) -> tuple[ast.Setting, ...]:
        return tuple(s for s in settings if (s.key, s.target) != (new.key, new.target))

    stages = tuple(replace(st, settings=kept(st.settings)) for st in section.stages)
    changed = replace(section, settings=kept(section.settings) + (new,), stages=stages)
    body = tuple(changed if s is section else s for s in model.body)
    return _with_model(module, model, replace(model, body=body))


def _const(module: ast.Module, o: Override, sources: dict[str, str], reporter: Reporter) -> ast.Module:
    parsed = _parse(f"const {o.name} = {o.value}\n", o, sources, reporter)
    if parsed is None:
        return module
    new = parsed.items[0]
    assert isinstance(new, ast.Const)
    items = tuple(replace(i, value=new.value) if isinstance(i, ast.Const) and i.name == o.name else i
                  for i in module.items)
    return replace(module, items=items)


def _precision(module: ast.Module, o: Override, sources: dict[str, str], reporter: Reporter) -> ast.Module:
    model = _model(module)
    word = o.value.split("(")[0].strip()
    if word not in PRECISIONS:
        sources[o.file] = o.text
        at = len("precision=") + 1
        reporter.error(Code.UNKNOWN_SETTING, f"`--set precision={o.value}`: no precision `{word}`",
                       Span(o.file, 1, at, 1, at + len(o.value)),
                       did_you_mean(word, list(PRECISIONS)) or f"the precisions are {', '.join(PRECISIONS)}")
        return module
    if model is None:
        return module
    parsed = _parse(f"@{o.value}\nmodel _M {{\n}}\n", o, sources, reporter)
    if parsed is None:
        return module
    annotation = _model(parsed).annotations[0]  # type: ignore[union-attr]
    kept = tuple(a for a in model.annotations if a.name not in PRECISIONS)
    return _with_model(module, model, replace(model, annotations=kept + (annotation,)))
