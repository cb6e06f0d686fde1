"""Style: the look of drawings in one place: precision colours, shapes, fonts, labels.

Takes ``Item``s, ``Box``es and ``Edge``s from the scene; gives DOT
attribute strings and Graphviz HTML-like labels.  Colours are light tints
that stay legible when printed in grey and on a projector.  ``THEMES`` holds
the palettes (``default``, ``print``: black on white with each precision
written out, ``colorblind``: Okabe-Ito hues); ``look`` chooses one, and the
items a train stage freezes, for the drawing written inside it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from html import escape

from ...types import PRECISIONS
from .scene import BoxKind, EdgeKind, ItemKind

FONT = "Helvetica"
INK = "#2c3e50"
MUTED = "#6b7785"

# One fill per precision; the legend shows those a drawing uses, in this order.
PRECISION_FILL = {
    "fp64": "#b8cce6",
    "fp32": "#e3ecf7",
    "fp16": "#ffd9a8",
    "bf16": "#f9c6cf",
    "fp8": "#dccdf3",
    "int8": "#c6e8bd",
    "int4": "#fff0a0",
    "binary": "#bdbdbd",
}
PRECISION_NAME = {name: f"{name}: {info.description}" for name, info in PRECISIONS.items()}
assert PRECISION_FILL.keys() == PRECISIONS.keys(), "every precision needs a colour"
KEPT_BORDER = "#c0392b"
SKIP_COLOUR = "#2e86c1"
SIDE_COLOUR = "#8a949e"
RESIDUAL_MARK = "\u21ba residual"  # on a collapsed block with a residual connection inside
LINK_COLOUR = "#8e44ad"
TIE_COLOUR = "#d35400"
BOX_FILL = {1: "#fafafa", 2: "#f0f2f5", 3: "#e6e9ee", 4: "#dde1e7"}
FROZEN_MARK = "\u2744"  # a snowflake: what a train stage freezes


@dataclass(frozen=True)
class Theme:
    """One palette.  Every mark that colour tells apart is told apart without colour too: dashed skips,
    dotted side inputs, bold links, written-out kept precisions; ``write_precision`` writes each box's
    precision in its label as well (the print theme, whose fills are greys)."""

    fill: dict[str, str]
    kept: str = KEPT_BORDER
    skip: str = SKIP_COLOUR
    side: str = SIDE_COLOUR
    link: str = LINK_COLOUR
    tie: str = TIE_COLOUR
    box_fill: dict[int, str] = field(default_factory=lambda: dict(BOX_FILL))
    frozen: str = "#2e6f9e"  # a frozen item's border and snowflake
    frozen_fill: str = "#eaf3fa"  # a frozen network's or block's cluster
    write_precision: bool = False
    link_width: str = "1.6"


THEMES = {
    "default": Theme(PRECISION_FILL),
    # Black on white: fills are greys (precision is written in each box), marks are black and told apart
    # by line style alone.
    "print": Theme({"fp64": "#cfcfcf", "fp32": "#ffffff", "fp16": "#e6e6e6", "bf16": "#dadada", "fp8": "#eeeeee",
                    "int8": "#d4d4d4", "int4": "#f4f4f4", "binary": "#bdbdbd"},
                   kept="#000000", skip="#000000", side="#555555", link="#000000", tie="#000000",
                   box_fill={1: "#ffffff", 2: "#f7f7f7", 3: "#efefef", 4: "#e8e8e8"},
                   frozen="#000000", frozen_fill="#f2f2f2", write_precision=True, link_width="2.4"),
    # Okabe & Ito's colour-blind-safe hues (fills are their light tints, so black text stays readable).
    "colorblind": Theme({"fp64": "#a6cee4", "fp32": "#f2f2f2", "fp16": "#f6dda6", "bf16": "#edd0e0",
                         "fp8": "#c4e5f7", "int8": "#a6ddce", "int4": "#faf6bd", "binary": "#a6a6a6"},
                        kept="#d55e00", skip="#0072b2", side="#7f7f7f", link="#cc79a7", tie="#e69f00",
                        frozen="#0072b2", frozen_fill="#e6f1f8"),
}
assert all(t.fill.keys() == PRECISIONS.keys() for t in THEMES.values()), "every precision needs a fill per theme"


@dataclass(frozen=True)
class Look:
    theme: Theme
    frozen: frozenset[str] = frozenset()  # item and box ids a train stage freezes
    stage: str = ""  # that stage, for the legend


_LOOK: ContextVar[Look] = ContextVar("look", default=Look(THEMES["default"]))


@contextmanager
def look(theme: str = "default", frozen: frozenset[str] = frozenset(), stage: str = "") -> Iterator[None]:
    """Draw with ``theme``, marking the ids in ``frozen`` as frozen in ``stage``, inside the ``with``."""
    token = _LOOK.set(Look(THEMES[theme], frozen, stage))
    try:
        yield
    finally:
        _LOOK.reset(token)


def _theme() -> Theme:
    return _LOOK.get().theme


def _frozen(some_id: str) -> bool:
    return some_id in _LOOK.get().frozen


def count(n: int) -> str:
    """A parameter count for a slide: 8,100 / 28.7k / 1.46M / 8.03B."""
    if n < 10_000:
        return f"{n:,}"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            value = n / scale
            return f"{value:.3g}{suffix}" if value < 1000 else f"{value:,.0f}{suffix}"
    return str(n)


def html(text: str) -> str:
    return escape(text, quote=True).replace("\n", "<br/>")


def small(text: str, colour: str = MUTED, size: int = 8) -> str:
    return f'<font point-size="{size}" color="{colour}">{html(text)}</font>'


def item_label(item, shapes: bool, params: bool) -> str:
    """An HTML-like label: the title in bold, then shapes and parameters in small grey type."""
    if item.kind == ItemKind.MERGE:
        return html(item.title)
    title = f"<b>{html(item.title)}</b>"
    if item.name:  # a name the user gave (`as mu`) comes first
        title = f"<b>{html(item.name)}</b>: {html(item.title)}"
    lines = [title]
    if shapes and item.shapes:
        lines.append(small(item.shapes))
    if params and item.params:
        lines.append(small(f"{count(item.params)} params"))
    theme = _theme()
    if theme.write_precision and not item.mixed and item.precision != "fp32" \
            and item.kind not in (ItemKind.INPUT, ItemKind.OUTPUT):
        lines.append(small(item.precision, INK))
    if item.kept:
        lines.append(small(f"kept in {item.kept}", theme.kept))
    if item.mixed:
        lines.append(small(" + ".join(item.mixed)))
    if item.residual:
        lines.append(small(RESIDUAL_MARK, theme.skip, size=9))
    if _frozen(item.id):
        lines.append(small(f"{FROZEN_MARK} frozen", theme.frozen, size=9))
    return "<" + "<br/>".join(lines) + ">"


def item_attrs(item) -> dict[str, str]:
    theme = _theme()
    fills = theme.fill
    fill = fills.get(item.precision, "#ffffff")
    if item.kind == ItemKind.INPUT:
        return {"shape": "ellipse", "style": "filled", "fillcolor": "#ffffff", "color": INK, "penwidth": "1.2"}
    if item.kind == ItemKind.OUTPUT:
        return {"shape": "ellipse", "style": "filled", "fillcolor": "#f4f4f4", "color": INK, "peripheries": "2"}
    if item.kind == ItemKind.MERGE:
        wide = len(item.title) > 1
        return {"shape": "ellipse" if wide else "circle", "style": "filled", "fillcolor": fill, "fixedsize": "true",
                "width": "0.55" if wide else "0.3", "height": "0.3", "fontsize": "9" if wide else "12"}
    if item.kind in (ItemKind.NOISE, ItemKind.SAMPLE):
        return {"shape": "ellipse", "style": "dashed,filled", "fillcolor": fill, "color": INK}
    if item.mixed:  # one band of colour per precision inside
        fill = ":".join(f"{fills[p]};{1 / len(item.mixed):.2f}" for p in item.mixed)
    attrs = {"shape": "box3d" if item.kind in (ItemKind.BLOCK, ItemKind.REPEAT, ItemKind.NETWORK) else "box",
             "style": "rounded,filled" if item.kind == ItemKind.OP else "filled", "fillcolor": fill, "color": "#7f8c8d"}
    if item.kept:
        attrs.update(color=theme.kept, penwidth="2.2", style="rounded,filled,bold")
    if _frozen(item.id):
        attrs.update(color=theme.frozen, penwidth="2.2", style=attrs["style"] + ",dashed")
    return attrs


def box_label(box, params: bool) -> str:
    lines = [f"<b>{html(box.title)}</b>"]
    if _frozen(box.id):
        ice = _theme().frozen
        lines[0] = f'<font color="{ice}">{FROZEN_MARK}</font> {lines[0]} ' + small("frozen", ice)
    if box.subtitle:
        lines[0] += " " + small(f"({box.subtitle})", size=10)
    if params and box.params:
        lines.append(small(f"{count(box.params)} params", size=9))
    return "<" + "<br/>".join(lines) + ">"


def box_attrs(box) -> dict[str, str]:
    theme = _theme()
    if box.kind == BoxKind.NETWORK:
        attrs = {"style": "rounded,filled", "fillcolor": theme.box_fill[1], "color": INK, "penwidth": "1.6",
                 "fontsize": "13"}
    else:
        attrs = {"style": "rounded,filled" + (",dashed" if box.kind == BoxKind.COPY else ""),
                 "fillcolor": theme.box_fill.get(box.level, theme.box_fill[4]), "color": "#95a5a6", "fontsize": "11"}
    if _frozen(box.id):
        attrs.update(style="rounded,filled,dashed", fillcolor=theme.frozen_fill, color=theme.frozen, penwidth="2.4")
    return attrs


def edge_attrs(edge, shapes: bool) -> dict[str, str]:
    theme = _theme()
    if edge.kind == EdgeKind.TIE:
        return {"style": "dotted", "color": theme.tie, "fontcolor": theme.tie, "penwidth": "1.4", "dir": "none",
                "constraint": "false", "label": f"< {html(edge.name)} >"}
    attrs: dict[str, str] = {}
    text = []
    if edge.name:
        text.append(f"<b>{html(edge.name)}</b>")
    if shapes:
        text.append(html(str(edge.type)))
    if text:
        attrs["label"] = "< " + " ".join(text) + " >"
    if edge.kind == EdgeKind.SKIP:
        attrs.update(style="dashed", color=theme.skip, fontcolor=theme.skip, penwidth="1.3")
    elif edge.kind == EdgeKind.SIDE:
        attrs.update(style="dotted", color=theme.side, fontcolor=theme.side, penwidth="1.3", arrowhead="empty")
    elif edge.kind == EdgeKind.LINK:
        attrs.update(color=theme.link, fontcolor=theme.link, penwidth=theme.link_width)
    return attrs


def title_attrs() -> dict[str, str]:
    """A cluster's title, drawn as a node at the cluster's top so that arrows go around it, not through it."""
    return {"shape": "plaintext", "margin": "0.02,0", "height": "0.2"}


def legend_label(precisions: list[str], kept: bool, skips: bool, links: bool, ties: bool = False,
                 sides: bool = False, marks: tuple[str, ...] = ()) -> str:
    """The legend's rows, each only when the drawing uses it: precisions only when there are several.

    ``marks`` are the label marks used: ``residual``, ``repeat``, ``up``, ``down``.  Empty when
    nothing needs explaining.
    """
    rows = []
    look_ = _LOOK.get()
    theme = look_.theme
    if len(precisions) > 1:
        written = " (written in each box)" if theme.write_precision else ""
        rows.append(f'<tr><td colspan="2" align="left"><b>precision</b>{written}</td></tr>')
        for name in PRECISION_FILL:
            if name in precisions:
                rows.append(f'<tr><td bgcolor="{theme.fill[name]}" width="18"> </td>'
                            f'<td align="left">{html(PRECISION_NAME[name])}</td></tr>')
    if kept:
        rows.append(f'<tr><td bgcolor="{theme.fill["fp32"]}" color="{theme.kept}" border="2"> </td>'
                    f'<td align="left">kept at higher precision</td></tr>')
    if skips:
        rows.append(f'<tr><td><font color="{theme.skip}"><b>- - &gt;</b></font></td>'
                    f'<td align="left">skip / residual: bypasses a path and rejoins it</td></tr>')
    if "residual" in marks:
        rows.append(f'<tr><td><font color="{theme.skip}">&#8634;</font></td>'
                    f'<td align="left">block with a residual inside</td></tr>')
    if sides:
        rows.append(f'<tr><td><font color="{theme.side}"><b>&#183;&#183;&#183;&gt;</b></font></td>'
                    f'<td align="left">side input: mask, bias, label, context</td></tr>')
    if links:
        rows.append(f'<tr><td><font color="{theme.link}"><b>&#8212;&gt;</b></font></td>'
                    f'<td align="left">between networks</td></tr>')
    if ties:
        rows.append(f'<tr><td><font color="{theme.tie}"><b>&#183;&#183;&#183;</b></font></td>'
                    f'<td align="left">shared (tied) weight</td></tr>')
    if look_.frozen and look_.stage:
        rows.append(f'<tr><td color="{theme.frozen}" border="2" style="dashed">'
                    f'<font color="{theme.frozen}">{FROZEN_MARK}</font></td>'
                    f'<td align="left">frozen in stage {html(look_.stage)}: not trained</td></tr>')
    for mark, text in LABEL_MARKS:
        if mark in marks:
            rows.append(f'<tr><td>{html(MARK_GLYPH[mark])}</td><td align="left">{html(text)}</td></tr>')
    if not rows:
        return ""
    return ('<<table border="0" cellborder="1" cellspacing="2" cellpadding="3" color="#cccccc">'
            + "".join(rows) + "</table>>")


MARK_GLYPH = {"repeat": "\u00d7N", "up": "\u00d7N\u2191", "down": "/N"}
LABEL_MARKS = (("repeat", "N copies of a block, each with its own weights"),
               ("up", "upsampling: height and width N times larger"),
               ("down", "stride N: height and width N times smaller"))
