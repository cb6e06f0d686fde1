"""Interactive HTML: one self-contained page with the drawing, its blocks opening on a click.

Takes a checked ``Program`` and ``DrawOptions``; gives one HTML file (inline SVG, a
little inline CSS and JavaScript, nothing fetched) to put on a course page.  The
page shows the drawing ``to_dot`` makes (the overview); each collapsed block,
repeat or network box in it opens, on a click, the drawing of that block alone
(``DrawOptions(block=...)``) or that network alone, beside the drawing it was
opened from; a second click closes it (and whatever was opened from it).
Hovering a node (or focusing it with the keyboard) shows its shapes, parameters,
precision and ``.agq`` line.

Built from the DOT text and the program only: each node statement of the DOT
gets a Graphviz ``id`` (and ``class="agqblock"`` when it opens), and the node's
DOT id (its path: ``lm/h``, ``G/linear2``, ``in/y``) is looked up in the program
for the hover text.  Every drawing a page can open is rendered in advance, so
the page is the same bytes for the same spec and Graphviz version.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from html import escape
from pathlib import Path

from ...ir import Graph, Network, Node, Program
from ...kinds import GraphKind, NodeKind
from .frozen import walk
from .scene import DrawOptions

# A node statement of the DOT writer: `  "lm/h" [label=...];` (edges read `"a" -> "b" [...]`).
_NODE = re.compile(r'^(\s*)"((?:[^"\\]|\\.)*)" \[', re.MULTILINE)
_DROP = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->|<title>.*?</title>\n?", re.DOTALL)
Target = tuple[str, str]  # ("block", name) or ("network", name): a drawing a click opens


def to_html(program: Program, options: DrawOptions | None = None,
            render: Callable[[str, str], bytes] | None = None) -> str:
    """The page for the drawing ``options`` asks for; ``render`` turns DOT into SVG bytes (Graphviz's dot)."""
    from . import render_bytes
    from . import to_dot as draw
    options = options or DrawOptions()
    render = render or render_bytes
    sources = _Sources(program)
    panels: list[dict] = []
    tips: dict[str, list] = {}
    opened: dict[Target, str] = {}  # drawing -> its panel id
    queue: list[tuple[str, Target | None, DrawOptions]] = [("p0", None, options)]
    while queue:
        pid, target, opts = queue.pop(0)
        resolve = _Resolver(program, opts)
        counter = iter(range(1_000_000))

        def tag(m: re.Match, pid: str = pid, resolve: _Resolver = resolve,
                counter: Iterator[int] = counter) -> str:
            dot_id = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
            nid = f"{pid}n{next(counter)}"
            tip, opens = resolve.describe(dot_id, sources)
            attrs = f'id="{nid}"'
            if tip:
                entry: list = [tip]
                if opens is not None:
                    if opens not in opened:
                        opened[opens] = f"p{len(opened) + 1}"
                        kind, name = opens
                        queue.append((opened[opens], opens, replace(
                            options, depth=None, block=name if kind == "block" else None,
                            network=name if kind == "network" else None)))
                    entry.append(opened[opens])
                    attrs += ', class="agqblock"'
                tips[nid] = entry
            return f"{m.group(1)}\"{m.group(2)}\" [{attrs}, "

        dot = _NODE.sub(tag, draw(program, opts))
        svg = _DROP.sub("", render(dot, "svg").decode()).strip()
        title = escape(program.model) if target is None else f"{escape(target[1])} <small>{target[0]}</small>"
        panels.append({"id": pid, "title": title, "svg": svg})
    return _page(program, panels, tips)


class _Sources:
    """The spec's lines, for the `.agq` line a node came from."""

    def __init__(self, program: Program):
        self.lines = {file: text.splitlines() for file, text in program.sources.items()}

    def line(self, node: Node | Graph | Network) -> str:
        span = node.span
        lines = self.lines.get(span.file)
        if lines is None:
            try:
                lines = self.lines[span.file] = Path(span.file).read_text().splitlines()
            except OSError:
                lines = self.lines[span.file] = []
        text = lines[span.line - 1].strip() if 0 < span.line <= len(lines) else ""
        return f"{span.short()}: {text}" if text else span.short()


class _Resolver:
    """A node id of one drawing -> the program node it draws, and what its hover text says."""

    def __init__(self, program: Program, options: DrawOptions):
        self.program, self.options = program, options
        self.tops: dict[str, Graph] = {n.name: program.graph(n.graph) for n in program.networks}
        if options.block:
            first = _block(program, options.block)
            if first is not None:
                self.tops = {first.name: first}

    def describe(self, dot_id: str, sources: _Sources) -> tuple[str, Target | None]:
        """The hover text for a drawn node ("" for none), and the drawing a click on it opens."""
        program = self.program
        head, _, rest = dot_id.partition("/")
        if head in ("in", "out") and rest:
            return self.end(head, rest, sources), None
        if head == "flow" and program.flow is not None and program.flow.has(rest):
            return self.node_text(program.flow, program.flow.node(rest), dot_id, sources)[0], None
        if not rest and head in self.tops and not self.options.block:  # a network drawn as one box (depth 0)
            graph = self.tops[head]
            shapes = f"{_types(graph.input_types())} \u2192 {_types(graph.output_types())}"
            return _lines(f"{head}: network {graph.name}", shapes, self.params(graph), "",
                          sources.line(program.network(head)), "click to open"), ("network", head)
        found = self.find(dot_id)
        return self.node_text(*found, dot_id, sources) if found else ("", None)

    def find(self, dot_id: str) -> tuple[Graph, Node] | None:
        """Walk the path: network (or block) / call / repeat copy (``h.3``) / ... / node."""
        parts = dot_id.split("/")
        graph = self.tops.get(parts[0])
        if graph is None:
            return None
        found = walk(self.program, graph, parts[1:])
        # the id names a node of the graph it was found in, not a repeat copy (`h.3`) standing for one
        return found if found is not None and found[0].has(parts[-1]) else None

    def node_text(self, graph: Graph, node: Node, dot_id: str, sources: _Sources) -> tuple[str, Target | None]:
        ins = _types(graph.type_of(r) for r in node.inputs)
        shapes = f"{ins} \u2192 {_types(node.outputs)}" if ins else _types(node.outputs)
        precision = node.precision.name
        opens: Target | None = None
        if node.kind == NodeKind.OP:
            facts = node.facts
            what = f"{node.name}: {facts.label or node.op}"
            if facts.kept and facts.compute is not None:
                precision += f" (computed in {facts.compute})"
        elif node.kind == NodeKind.INPUT:
            return _lines(f"input {node.name}", shapes, "", "", sources.line(node)), None
        else:
            callee = self.program.repeat_copy(node)[0] if node.kind == NodeKind.REPEAT else self.program.graph(
                node.callee or "")
            inside = callee.facts.precisions if callee.facts is not None else ()
            if len(inside) > 1:
                precision += " (inside: " + ", ".join(inside) + ")"
            what = (f"{node.name}: {callee.name} \u00d7{node.count} (repeat)" if node.kind == NodeKind.REPEAT
                    else f"{node.name}: {node.op} (block)")
            if callee.kind in (GraphKind.BLOCK, GraphKind.NETWORK) and callee.name != self.options.block:
                opens = ("block", callee.name)
        hint = "click to open" if opens else ""
        if opens and _block(self.program, opens[1]) is not callee:
            hint = "click to open (drawn as the model first uses it)"
        return _lines(what, shapes, self.params_of(node), precision, sources.line(node), hint), opens

    def end(self, head: str, rest: str, sources: _Sources) -> str:
        """A drawing's input (``in/x``, ``in/G/z``) or output (``out/0``, ``out/G/0``)."""
        flow = self.program.flow
        parts = rest.split("/")
        if len(parts) == 1 and flow is not None and not self.options.network and not self.options.block:
            if head == "in":
                return self.node_text(flow, flow.node(rest), rest, sources)[0] if flow.has(rest) else ""
            if rest.isdigit() and int(rest) < len(flow.outputs):
                src, port = flow.outputs[int(rest)]
                return _lines(f"output {rest}", str(flow.type_of((src, port))), "", "", sources.line(flow.node(src)))
            return ""
        graph = self.tops.get(parts[0])
        if graph is None or len(parts) != 2:
            return ""
        if head == "in":
            return self.node_text(graph, graph.node(parts[1]), rest, sources)[0] if graph.has(parts[1]) else ""
        if parts[1].isdigit() and int(parts[1]) < len(graph.outputs):
            src, port = graph.outputs[int(parts[1])]
            return _lines(f"output of {parts[0]}", str(graph.type_of((src, port))), "", "",
                          sources.line(graph.node(src)))
        return ""

    def params_of(self, node: Node) -> str:
        n = node.facts.params if node._facts is not None else 0
        return f"parameters: {n:,}" if n else "parameters: none"

    def params(self, graph: Graph) -> str:
        return f"parameters: {graph.facts.params:,}" if graph.facts is not None else ""


def _block(program: Program, name: str) -> Graph | None:
    """The block's first instantiation: the one ``DrawOptions(block=name)`` draws."""
    return next((g for g in program.graphs.values()
                 if g.name == name and g.kind in (GraphKind.BLOCK, GraphKind.NETWORK)), None)


def _types(types: Iterable[object]) -> str:
    return ", ".join(str(t) for t in types)


def _lines(what: str, shapes: str, params: str, precision: str, line: str, hint: str = "") -> str:
    rows = [what, f"shape: {shapes}" if shapes else "", params, f"precision: {precision}" if precision else "",
            line, hint]
    return "\n".join(r for r in rows if r)


def _page(program: Program, panels: list[dict], tips: dict[str, list]) -> str:
    data = json.dumps(tips, ensure_ascii=False, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    figures = []
    for i, panel in enumerate(panels):
        hidden = "" if i == 0 else " hidden"
        caption = "" if i == 0 else (f'<figcaption><span>{panel["title"]}</span><button class="close" '
                                     f'data-close="{panel["id"]}" title="close">\u00d7</button></figcaption>\n')
        figures.append(f'<figure id="{panel["id"]}"{hidden}>{caption}{panel["svg"]}\n</figure>')
    title = escape(f"{program.model}: {Path(program.file).name}")
    hint = "hover a node for its shapes, parameters, precision and .agq line"
    if len(panels) > 1:
        hint = "click a block (a 3-D box) to open it, click it again to close it; " + hint
    return _TEMPLATE.format(title=title, hint=hint, figures="\n".join(figures), data=data, style=_STYLE,
                            script=_SCRIPT)


_STYLE = """body{font-family:Helvetica,Arial,sans-serif;color:#2c3e50;margin:12px}
header{font-size:14px;margin-bottom:8px}header small{color:#6b7785}
main{display:flex;flex-wrap:wrap;align-items:flex-start;gap:12px}
figure{margin:0;border:1px solid #d5dbe1;border-radius:6px;padding:6px;background:#fff;max-width:100%;overflow:auto}
figure[hidden]{display:none}
figcaption{font-size:13px;font-weight:bold;padding:2px 4px 6px;display:flex;justify-content:space-between;gap:12px}
figcaption small{color:#6b7785;font-weight:normal}
figure>svg{display:block;max-width:100%;height:auto}
.close{border:0;background:none;font-size:18px;line-height:1;cursor:pointer;color:#6b7785}
.agqblock{cursor:pointer}.agqblock:hover polygon,.agqblock:focus polygon{stroke:#2e86c1;stroke-width:2}
.agqblock.open polygon{stroke:#2e86c1;stroke-width:2.5}.agqblock:focus{outline:none}
#agq-tip{position:fixed;z-index:9;pointer-events:none;background:#fffff4;border:1px solid #95a5a6;
border-radius:4px;padding:6px 8px;font-size:12px;line-height:1.4;white-space:pre-line;max-width:460px;
box-shadow:0 2px 6px rgba(0,0,0,.15)}"""

_SCRIPT = """(function(){
var tips=JSON.parse(document.getElementById('agq-data').textContent);
var tip=document.getElementById('agq-tip');
var openedBy={};
function show(g,x,y){var t=tips[g.id];if(!t)return;tip.textContent=t[0];tip.hidden=false;
var w=tip.offsetWidth,h=tip.offsetHeight;
tip.style.left=Math.max(0,Math.min(x+14,innerWidth-w-4))+'px';
tip.style.top=Math.max(0,(y+16+h>innerHeight?y-h-8:y+16))+'px';}
function close(pid){var f=document.getElementById(pid);if(!f||f.hidden)return;f.hidden=true;
var g=document.getElementById(openedBy[pid]);if(g)g.classList.remove('open');delete openedBy[pid];
Object.keys(openedBy).forEach(function(k){var o=document.getElementById(openedBy[k]);
if(o&&o.closest('figure').id===pid)close(k);});}
function within(pid,hid){while(openedBy[pid]){pid=document.getElementById(openedBy[pid]).closest('figure').id;
if(pid===hid)return true;}return false;}
function toggle(g){var pid=tips[g.id][1],f=document.getElementById(pid);
if(!f.hidden&&openedBy[pid]===g.id){close(pid);return;}
if(!f.hidden)close(pid);
var home=g.closest('figure'),at=home;
while(at.nextElementSibling&&!at.nextElementSibling.hidden&&within(at.nextElementSibling.id,home.id))at=at.nextElementSibling;
at.after(f);f.hidden=false;openedBy[pid]=g.id;g.classList.add('open');
f.scrollIntoView({block:'nearest',inline:'nearest'});}
document.querySelectorAll('g.node').forEach(function(g){var t=tips[g.id];if(!t)return;
g.addEventListener('mousemove',function(e){show(g,e.clientX,e.clientY);});
g.addEventListener('mouseleave',function(){tip.hidden=true;});
if(t.length<2)return;
g.setAttribute('tabindex','0');g.setAttribute('role','button');
g.addEventListener('click',function(){toggle(g);});
g.addEventListener('focus',function(){var r=g.getBoundingClientRect();show(g,r.left,r.bottom);});
g.addEventListener('blur',function(){tip.hidden=true;});
g.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();toggle(g);}});});
document.querySelectorAll('button.close').forEach(function(b){
b.addEventListener('click',function(){close(b.getAttribute('data-close'));});});
})();"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="agqc draw --format html">
<title>{title}</title>
<style>
{style}
</style>
</head>
<body>
<header><b>{title}</b> <small>{hint}</small></header>
<main>
{figures}
</main>
<div id="agq-tip" hidden></div>
<script type="application/json" id="agq-data">{data}</script>
<script>
{script}
</script>
</body>
</html>
"""
