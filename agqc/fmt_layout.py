"""Canonical layout: a parsed .agq module plus its source text -> formatted text.

Takes the ``agqc.ast.Module`` that ``agqc.parse.parse_source`` made from a text,
and that text (for its comments, which the AST does not keep, and for the
numbers exactly as written); gives the text in the one layout that
``agqc fmt`` prints.  The output depends only on the AST and on where the
comments sit between its nodes, never on the input's spacing, so formatting
twice gives the same text.  Statements, blocks and the comments between them
are placed here; expressions, and where they break over lines, in
``agqc.fmt_chain``.  The rules are in docs/language.md, "Formatting".
"""
from __future__ import annotations

from bisect import bisect_left

from . import ast
from .fmt_chain import STEP, WIDTH, Comment, ExprLayout, Pos, end_col, end_pos, indent_of_last, plan, start_pos


def scan(text: str) -> tuple[list[Comment], list[Pos]]:
    """Every comment and every `{`, skipping strings (which cannot span lines)."""
    comments, braces = [], []
    for n, line in enumerate(text.split("\n"), 1):  # lark counts lines by "\n" only
        in_string = False
        for i, ch in enumerate(line):
            if ch == '"':
                in_string = not in_string
            elif not in_string and ch == "#":
                comments.append(Comment(n, i + 1, line[i:].rstrip(" \t\r\f\v")))
                break
            elif not in_string and ch == "{":
                braces.append((n, i + 1))
    return comments, braces


class Layout(ExprLayout):
    """One formatting run over one module; comments are consumed in source order."""

    def __init__(self, text: str, module: ast.Module):
        super().__init__()
        self.module = module
        self.src = text.split("\n")
        self.comments, self.braces = scan(text)
        self.next = 0  # index of the first comment not yet placed
        self.out: list[str] = []
        self.prev_end = 0  # source line where the last placed thing ended
        self.fresh = True  # at the file's start or just after `{`: no blank line here
        self.force_blank = False  # a blank line before the next thing, whatever the source had

    # ---- comments and blank lines -----------------------------------------------------
    def take_before(self, pos: Pos) -> list[Comment]:
        got = []
        while self.next < len(self.comments) and self.comments[self.next].pos < pos:
            got.append(self.comments[self.next])
            self.next += 1
        return got

    def take_trailing(self, line: int, bound: Pos | None) -> Comment | None:
        """The comment at the end of ``line``, if it comes before ``bound``."""
        if self.next < len(self.comments):
            c = self.comments[self.next]
            if c.line == line and (bound is None or c.pos < bound):
                self.next += 1
                return c
        return None

    def separate(self, line: int) -> None:
        """One blank line before a thing that had one (or more) before it in the source."""
        if not self.fresh and (self.force_blank or line - self.prev_end > 1) and self.out[-1] != "":
            self.out.append("")
        self.fresh = self.force_blank = False

    def own_lines(self, comments: list[Comment], indent: int) -> None:
        for c in comments:
            self.separate(c.line)
            self.out.append(" " * indent + c.text)
            self.prev_end = c.line

    def brace_after(self, pos: Pos) -> Pos:
        return self.braces[bisect_left(self.braces, pos)]

    # ---- statements ---------------------------------------------------------------------
    def render(self) -> str:
        prev = None
        for item in self.module.items:
            self.force_blank = prev is not None and (isinstance(item, (ast.Block, ast.Model))
                                                     or isinstance(prev, (ast.Block, ast.Model)))
            self.own_lines(self.take_before(start_pos(item.span)), 0)
            self.item(item)
            prev = item
        self.own_lines(self.take_before((len(self.src) + 1, 0)), 0)
        return "\n".join(self.out) + "\n" if self.out else ""

    def item(self, item) -> None:
        if isinstance(item, ast.Import):
            target = item.target if item.is_std else f'"{item.target}"'
            self.simple(0, f"import {target}", (), start_pos(item.span), end_pos(item.span), None)
        elif isinstance(item, ast.Const):
            self.simple(0, f"const {item.name} = ", (item.value,), start_pos(item.span), end_pos(item.span), None)
        else:
            self.braced(item, 0, None)

    def stmt(self, s, indent: int, bound: Pos) -> None:
        start = min([start_pos(a.span) for a in _annotations(s)] + [start_pos(s.span)])
        prefix = "".join(self.annotation(a) + " " for a in _annotations(s))
        if isinstance(s, (ast.Repeat, ast.TrainSection, ast.Stage)):
            self.braced(s, indent, bound)
        elif isinstance(s, ast.Setting):
            target = f" {s.target}" if s.target else ""
            self.simple(indent, f"{s.key}{target} = ", s.values, start, end_pos(s.span), bound)
        elif isinstance(s, ast.Assign):
            self.simple(indent, prefix + ", ".join(s.targets) + " = ", (s.value,), start, end_pos(s.span), bound)
        elif isinstance(s, ast.NetworkDecl):
            self.simple(indent, prefix + f"{s.role} {s.name} = ", (s.value,), start, end_pos(s.span), bound)
        elif isinstance(s, ast.Return):
            self.simple(indent, prefix + "return ", s.values, start, end_pos(s.span), bound)
        else:  # InputDecl
            self.simple(indent, prefix + f"input {s.name}: {self.tensor_type(s.type)}", (), start,
                        end_pos(s.span), bound)

    def simple(self, indent: int, prefix: str, values: tuple, start: Pos, end: Pos, bound: Pos | None) -> None:
        """One statement: `prefix` then its values, joined by `, `, comments kept.

        A comment before the first value goes on a line of its own before the statement;
        one after a chain step or a sum's operator stays at the end of that line, which
        ends there (see ``agqc.fmt_chain.plan`` for the rest).
        """
        pad = " " * indent
        hoisted = self.take_before(start_pos(values[0].span) if values else end)
        inside = self.take_before(end)
        last = self.take_trailing(end[0], bound)
        self.use(plan(values, inside + ([last] if last else [])))
        hoisted += self.plan.hoisted
        text = prefix
        for i, v in enumerate(values):
            text += (", " if i else "") + self.expr(v, 1, end_col(indent, text), indent_of_last(text, indent))
        last = self.plan.last
        self.separate(start[0])
        self.out.extend(pad + c.text for c in hoisted)
        self.out.extend((pad + text + ("  " + last.text if last else "")).split("\n"))
        self.prev_end = end[0]

    def braced(self, node, indent: int, bound: Pos | None) -> None:
        """A block, model or repeat: header line, body one level in, closing brace."""
        pad = " " * indent
        if isinstance(node, ast.Repeat):
            start = min([start_pos(a.span) for a in node.annotations] + [start_pos(node.span)])
            brace = self.brace_after(start_pos(node.span))
            count = node.count
            count = self.flat(count) if isinstance(count, (ast.Number, ast.Name)) else f"({self.flat(count)})"
            header = ["".join(self.annotation(a) + " " for a in node.annotations)
                      + f"repeat {count}" + (f" as {node.alias}" if node.alias else "") + " {"]
        elif isinstance(node, ast.TrainSection):
            start = min([start_pos(a.span) for a in node.annotations] + [start_pos(node.span)])
            brace = self.brace_after(start_pos(node.span))
            header = ["".join(self.annotation(a) + " " for a in node.annotations) + "train {"]
        elif isinstance(node, ast.Stage):
            start = start_pos(node.span)
            brace = self.brace_after(end_pos(node.name_span))
            header = [f"stage {node.name} {{"]
        else:
            start = start_pos(node.span)
            brace = self.brace_after(end_pos(node.name_span))
            header = [self.annotation(a) for a in node.annotations] + [self.block_header(node)]
        close = (node.span.end_line, node.span.end_col - 1)
        body = _body(node)
        body_start = min([start_pos(a.span) for a in _annotations(body[0])] + [start_pos(body[0].span)]) \
            if body else close
        hoisted = self.take_before(brace)
        opening = self.take_trailing(brace[0], body_start)
        self.separate(start[0])
        self.out.extend(pad + c.text for c in hoisted)
        self.out.extend(pad + line for line in "\n".join(header).split("\n"))
        if not body and opening is None and (self.next >= len(self.comments)
                                              or self.comments[self.next].pos > close):
            self.out[-1] += "}"  # an empty body with nothing inside: `{}`
        else:
            if opening is not None:
                self.out[-1] += "  " + opening.text
            self.fresh, self.prev_end = True, brace[0]
            for s in body:
                first = min([start_pos(a.span) for a in _annotations(s)] + [start_pos(s.span)])
                self.own_lines(self.take_before(first), indent + STEP)
                self.stmt(s, indent + STEP, close)
            self.own_lines(self.take_before(close), indent + STEP)
            self.out.append(pad + "}")
        self.fresh = False
        last = self.take_trailing(close[0], bound)
        if last is not None:
            self.out[-1] += "  " + last.text
        self.prev_end = close[0]

    def block_header(self, node) -> str:
        if isinstance(node, ast.Model):
            return f"model {node.name} {{"
        params = [self.param(p) for p in node.params]
        out = ""
        if node.outputs is not None:
            types = [self.tensor_type(t) for t in node.outputs]
            out = " -> " + (types[0] if len(types) == 1 else "(" + ", ".join(types) + ")")
        line = f"block {node.name}({', '.join(params)}){out} {{"
        if len(line) <= WIDTH or not params:
            return line
        inner = " " * STEP  # too wide: one parameter per line, with a trailing comma
        return f"block {node.name}(\n" + "".join(f"{inner}{p},\n" for p in params) + f"){out} {{"

    def param(self, p) -> str:
        if isinstance(p, ast.TensorParam):
            return f"{p.name}: {self.tensor_type(p.type)}"
        return p.name if p.default is None else f"{p.name} = {self.flat(p.default)}"


def _body(node) -> tuple:
    """What a braced node holds, in source order (a train section's settings and stages interleave)."""
    if isinstance(node, ast.TrainSection):
        return tuple(sorted(node.settings + node.stages, key=lambda s: start_pos(s.span)))
    if isinstance(node, ast.Stage):
        return node.settings
    return node.body


def _annotations(s) -> tuple:
    return getattr(s, "annotations", ())
