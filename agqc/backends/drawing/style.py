"""Style: the look of drawings in one place: precision colours, shapes, fonts, labels.

Takes ``Item``s, ``Box``es and ``Edge``s from the scene; gives DOT
attribute strings and Graphviz HTML-like labels.  Colours are light tints
that stay legible when printed in grey and on a projector.
"""
from __future__ import annotations

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
    if item.kept:
        lines.append(small(f"kept in {item.kept}", KEPT_BORDER))
    if item.mixed:
        lines.append(small(" + ".join(item.mixed)))
    if item.residual:
        lines.append(small(RESIDUAL_MARK, SKIP_COLOUR, size=9))
    return "<" + "<br/>".join(lines) + ">"


def item_attrs(item) -> dict[str, str]:
    fill = PRECISION_FILL.get(item.precision, "#ffffff")
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
        fill = ":".join(f"{PRECISION_FILL[p]};{1 / len(item.mixed):.2f}" for p in item.mixed)
    attrs = {"shape": "box3d" if item.kind in (ItemKind.BLOCK, ItemKind.REPEAT, ItemKind.NETWORK) else "box",
             "style": "rounded,filled" if item.kind == ItemKind.OP else "filled", "fillcolor": fill, "color": "#7f8c8d"}
    if item.kept:
        attrs.update(color=KEPT_BORDER, penwidth="2.2", style="rounded,filled,bold")
    return attrs


def box_label(box, params: bool) -> str:
    lines = [f"<b>{html(box.title)}</b>"]
    if box.subtitle:
        lines[0] += " " + small(f"({box.subtitle})", size=10)
    if params and box.params:
        lines.append(small(f"{count(box.params)} params", size=9))
    return "<" + "<br/>".join(lines) + ">"


def box_attrs(box) -> dict[str, str]:
    if box.kind == BoxKind.NETWORK:
        return {"style": "rounded,filled", "fillcolor": BOX_FILL[1], "color": INK, "penwidth": "1.6",
                "fontsize": "13"}
    return {"style": "rounded,filled" + (",dashed" if box.kind == BoxKind.COPY else ""),
            "fillcolor": BOX_FILL.get(box.level, BOX_FILL[4]), "color": "#95a5a6", "fontsize": "11"}


def edge_attrs(edge, shapes: bool) -> dict[str, str]:
    if edge.kind == EdgeKind.TIE:
        return {"style": "dotted", "color": TIE_COLOUR, "fontcolor": TIE_COLOUR, "penwidth": "1.4", "dir": "none",
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
        attrs.update(style="dashed", color=SKIP_COLOUR, fontcolor=SKIP_COLOUR, penwidth="1.3")
    elif edge.kind == EdgeKind.SIDE:
        attrs.update(style="dotted", color=SIDE_COLOUR, fontcolor=SIDE_COLOUR, penwidth="1.3", arrowhead="empty")
    elif edge.kind == EdgeKind.LINK:
        attrs.update(color=LINK_COLOUR, fontcolor=LINK_COLOUR, penwidth="1.6")
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
    if len(precisions) > 1:
        rows.append('<tr><td colspan="2" align="left"><b>precision</b></td></tr>')
        for name in PRECISION_FILL:
            if name in precisions:
                rows.append(f'<tr><td bgcolor="{PRECISION_FILL[name]}" width="18"> </td>'
                            f'<td align="left">{html(PRECISION_NAME[name])}</td></tr>')
    if kept:
        rows.append(f'<tr><td bgcolor="{PRECISION_FILL["fp32"]}" color="{KEPT_BORDER}" border="2"> </td>'
                    f'<td align="left">kept at higher precision</td></tr>')
    if skips:
        rows.append(f'<tr><td><font color="{SKIP_COLOUR}"><b>- - &gt;</b></font></td>'
                    f'<td align="left">skip / residual: bypasses a path and rejoins it</td></tr>')
    if "residual" in marks:
        rows.append(f'<tr><td><font color="{SKIP_COLOUR}">&#8634;</font></td>'
                    f'<td align="left">block with a residual inside</td></tr>')
    if sides:
        rows.append(f'<tr><td><font color="{SIDE_COLOUR}"><b>&#183;&#183;&#183;&gt;</b></font></td>'
                    f'<td align="left">side input: mask, bias, label, context</td></tr>')
    if links:
        rows.append(f'<tr><td><font color="{LINK_COLOUR}"><b>&#8212;&gt;</b></font></td>'
                    f'<td align="left">between networks</td></tr>')
    if ties:
        rows.append(f'<tr><td><font color="{TIE_COLOUR}"><b>&#183;&#183;&#183;</b></font></td>'
                    f'<td align="left">shared (tied) weight</td></tr>')
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
