"""Canonical layout: a parsed .agq module plus its source text -> formatted text.

Takes the ``agqc.ast.Module`` that ``agqc.parse.parse_source`` made from a text,
and that text (for its comments, which the AST does not keep, and for the
numbers exactly as written); gives the text in the one layout that
``agqc fmt`` prints.  The output depends only on the AST and on where the
comments sit between its nodes, never on the input's spacing, so formatting
twice gives the same text.  The rules are in docs/language.md, "Formatting".
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from . import ast

WIDTH = 100  # columns a chain may fill before it is broken before `->`
STEP = 4  # spaces per indentation level; continuation lines get one more level

Pos = tuple[int, int]  # (line, column), 1-based, as in agqc.diagnostics.Span


@dataclass(frozen=True)
class Comment:
    line: int
    col: int
    text: str  # from `#` to the end of the line, trailing whitespace dropped

    @property
    def pos(self) -> Pos:
        return (self.line, self.col)


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


def _start(span) -> Pos:
    return (span.line, span.col)


def _end(span) -> Pos:
    return (span.end_line, span.end_col)


# ---- expressions -----------------------------------------------------------------------
# Binding levels, loosest first, as in grammar/agq.lark: chain < sum < product < unary
# < postfix (annotated) < primary.  A node printed where a tighter level is needed gets
# parentheses; the AST has no node for them, so these are the only ones printed.
_SUM, _PRODUCT, _UNARY, _POSTFIX, _PRIMARY = 2, 3, 4, 5, 6
_HEAD = _UNARY  # a chain's head: the grammar takes a sum, the reader is helped by `(a + b) -> f()`


def _level(e) -> int:
    if isinstance(e, ast.Chain):
        return 1
    if isinstance(e, ast.BinOp):
        return _SUM if e.op in "+-" else _PRODUCT
    if isinstance(e, ast.Neg):
        return _UNARY
    if isinstance(e, ast.Annotated):
        return _POSTFIX
    return _PRIMARY


def _operand_levels(e: ast.BinOp) -> tuple[int, int]:
    """Both operators are left-associative: the right operand binds one level tighter.

    Beyond what the grammar needs, `*`, `/` and `//` mixed get parentheses for the
    reader: `(a // b) * c`, not `a // b * c`.
    """
    if e.op in "+-":
        return _SUM, _PRODUCT
    mixed = isinstance(e.left, ast.BinOp) and e.left.op not in "+-" and e.left.op != e.op
    return (_UNARY if mixed else _PRODUCT), _UNARY


def _author_breaks(e: ast.Chain) -> frozenset[int]:
    """The steps of a chain that start on a later line than the piece before them."""
    ends = [e.head.span.end_line] + [step.span.end_line for step in e.steps]
    return frozenset(k for k, step in enumerate(e.steps) if step.span.line > ends[k])


def _end_col(col: int, text: str) -> int:
    """The column after ``text`` when it starts at ``col`` (0-based)."""
    return col + len(text) if "\n" not in text else len(text.rsplit("\n", 1)[1])


def _indent_of_last(text: str, indent: int) -> int:
    if "\n" not in text:
        return indent
    last = text.rsplit("\n", 1)[1]
    return len(last) - len(last.lstrip(" "))


class Layout:
    """One formatting run over one module; comments are consumed in source order."""

    def __init__(self, text: str, module: ast.Module):
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

    # ---- flat expressions -------------------------------------------------------------
    def flat(self, e, need: int = 1) -> str:
        text = self._flat(e)
        return f"({text})" if _level(e) < need else text

    def _flat(self, e) -> str:
        if isinstance(e, ast.Name):
            return e.id
        if isinstance(e, ast.Number):  # as written: 1e-5 stays 1e-5, 0.00001 stays 0.00001
            return self.src[e.span.line - 1][e.span.col - 1:e.span.end_col - 1]
        if isinstance(e, ast.String):
            return f'"{e.value}"'
        if isinstance(e, ast.Bool):
            return "true" if e.value else "false"
        if isinstance(e, ast.BinOp):
            left, right = _operand_levels(e)
            return f"{self.flat(e.left, left)} {e.op} {self.flat(e.right, right)}"
        if isinstance(e, ast.Neg):
            return "-" + self.flat(e.operand, _UNARY)
        if isinstance(e, ast.Call):
            args = [self.flat(a) for a in e.args] + [f"{k.name}={self.flat(k.value)}" for k in e.kwargs]
            return f"{e.func}({', '.join(args)})" + (f" as {e.alias}" if e.alias else "")
        if isinstance(e, ast.Chain):
            return " -> ".join([self.flat(e.head, _HEAD)] + [self.flat(s, _POSTFIX) for s in e.steps])
        if isinstance(e, ast.Annotated):
            return self.flat(e.expr, _PRIMARY) + "".join(" " + self.annotation(a) for a in e.annotations)
        raise TypeError(f"agqc fmt: no layout for {type(e).__name__}")

    def annotation(self, a: ast.Annotation) -> str:
        if not a.args:
            return "@" + a.name
        args = [f"{x.name}={self.flat(x.value)}" if isinstance(x, ast.Kwarg) else self.flat(x) for x in a.args]
        return f"@{a.name}({', '.join(args)})"

    def tensor_type(self, t: ast.TensorType) -> str:
        dims = "[" + ", ".join(self.flat(d) for d in t.dims) + "]"
        return dims if t.dtype == "float" else t.dtype + dims

    # ---- expressions that may break ---------------------------------------------------
    def expr(self, e, need: int, col: int, indent: int) -> str:
        """``e`` starting at column ``col`` of a line indented ``indent``; broken only if too wide."""
        flat = self.flat(e, need)
        if col + len(flat) <= WIDTH:
            return flat
        if _level(e) < need:
            return "(" + self._broken(e, col + 1, indent) + ")"
        return self._broken(e, col, indent)

    def _broken(self, e, col: int, indent: int) -> str:
        if isinstance(e, ast.Chain):
            return self.chain(e, col, indent, None)
        if isinstance(e, ast.BinOp):
            left_need, right_need = _operand_levels(e)
            left = self.expr(e.left, left_need, col, indent) + f" {e.op} "
            return left + self.expr(e.right, right_need, _end_col(col, left), _indent_of_last(left, indent))
        if isinstance(e, ast.Neg):
            return "-" + self.expr(e.operand, _UNARY, col + 1, indent)
        if isinstance(e, ast.Annotated):
            inner = self.expr(e.expr, _PRIMARY, col, indent)
            return inner + "".join(" " + self.annotation(a) for a in e.annotations)
        if isinstance(e, ast.Call):
            text = e.func + "("
            items = [(None, a) for a in e.args] + [(k.name, k.value) for k in e.kwargs]
            for i, (name, value) in enumerate(items):
                text += (", " if i else "") + (f"{name}=" if name else "")
                text += self.expr(value, 1, _end_col(col, text), _indent_of_last(text, indent))
            return text + ")" + (f" as {e.alias}" if e.alias else "")
        return self.flat(e)

    def chain(self, e: ast.Chain, col: int, indent: int, gaps: list[list[Comment]] | None,
              breaks: frozenset[int] = frozenset()) -> str:
        """Each `-> step` joins the line if it fits, else starts a line one level in.

        ``breaks`` are the steps the author started on a new line: they stay there, so a
        chain grouped by stage (linear, norm, activation per line) keeps its groups.
        ``gaps[k]`` are comments to place after piece k (the head is piece 0); each
        forces a break there, the first at the end of the line, the rest on lines of
        their own before the next `->`.
        """
        cont = indent + STEP
        text = self.expr(e.head, _HEAD, col, indent)
        col = _end_col(col, text)
        for k, step in enumerate(e.steps):
            comments = gaps[k] if gaps else []
            piece = "-> " + self.flat(step, _POSTFIX)
            if comments:
                text += "  " + comments[0].text + "".join("\n" + " " * cont + c.text for c in comments[1:])
            elif k not in breaks and col + 1 + len(piece) <= WIDTH:
                text += " " + piece
                col += 1 + len(piece)
                continue
            piece = "-> " + self.expr(step, _POSTFIX, cont + 3, cont)
            text += "\n" + " " * cont + piece
            col = _end_col(cont, piece)
        return text

    # ---- statements ---------------------------------------------------------------------
    def render(self) -> str:
        prev = None
        for item in self.module.items:
            self.force_blank = prev is not None and (isinstance(item, (ast.Block, ast.Model))
                                                     or isinstance(prev, (ast.Block, ast.Model)))
            self.own_lines(self.take_before(_start(item.span)), 0)
            self.item(item)
            prev = item
        self.own_lines(self.take_before((len(self.src) + 1, 0)), 0)
        return "\n".join(self.out) + "\n" if self.out else ""

    def item(self, item) -> None:
        if isinstance(item, ast.Import):
            target = item.target if item.is_std else f'"{item.target}"'
            self.simple(0, f"import {target}", None, _start(item.span), _end(item.span), None)
        elif isinstance(item, ast.Const):
            self.simple(0, f"const {item.name} = ", item.value, _start(item.span), _end(item.span), None)
        else:
            self.braced(item, 0, None)

    def stmt(self, s, indent: int, bound: Pos) -> None:
        start = min([_start(a.span) for a in s.annotations] + [_start(s.span)])
        prefix = "".join(self.annotation(a) + " " for a in s.annotations)
        if isinstance(s, ast.Repeat):
            self.braced(s, indent, bound)
        elif isinstance(s, ast.Assign):
            self.simple(indent, prefix + ", ".join(s.targets) + " = ", s.value, start, _end(s.span), bound)
        elif isinstance(s, ast.NetworkDecl):
            self.simple(indent, prefix + f"{s.role} {s.name} = ", s.value, start, _end(s.span), bound)
        elif isinstance(s, ast.Return) and len(s.values) == 1:
            self.simple(indent, prefix + "return ", s.values[0], start, _end(s.span), bound)
        elif isinstance(s, ast.Return):
            text = prefix + "return "
            for i, v in enumerate(s.values):
                text += (", " if i else "") + self.expr(v, 1, _end_col(indent, text), _indent_of_last(text, indent))
            self.simple(indent, text, None, start, _end(s.span), bound)
        else:  # InputDecl
            self.simple(indent, prefix + f"input {s.name}: {self.tensor_type(s.type)}", None, start,
                        _end(s.span), bound)

    def simple(self, indent: int, prefix: str, value, start: Pos, end: Pos, bound: Pos | None) -> None:
        """A one-statement line (or a broken chain): `prefix` then `value`, comments kept.

        Comments inside the statement go before it on lines of their own, except in a
        chain: there each stays after the step it follows.
        """
        pad = " " * indent
        if isinstance(value, ast.Chain):
            hoisted = self.take_before(_start(value.span))
            step_starts = [_start(s.span) for s in value.steps]
            gaps: list[list[Comment]] = [[] for _ in range(len(value.steps) + 1)]
            for c in self.take_before(end):
                gaps[sum(1 for p in step_starts if p < c.pos)].append(c)
            last = self.take_trailing(end[0], bound)
            if last is not None:
                gaps[-1].append(last)
            if len(gaps[-1]) > 1:  # only one comment fits after the last step
                gaps[-2].extend(gaps[-1][:-1])
                del gaps[-1][:-1]
            last = gaps[-1][0] if gaps[-1] else None
            breaks = _author_breaks(value)
            flat = pad + prefix + self.flat(value)
            if len(flat) <= WIDTH and not any(gaps[:-1]) and not breaks:
                body = flat
            else:
                body = pad + prefix + self.chain(value, indent + len(prefix), indent, gaps[:-1], breaks)
        else:
            hoisted = self.take_before(end)
            last = self.take_trailing(end[0], bound)
            body = pad + prefix + ("" if value is None else self.expr(value, 1, indent + len(prefix), indent))
        self.separate(start[0])
        self.out.extend(pad + c.text for c in hoisted)
        self.out.extend((body + ("  " + last.text if last else "")).split("\n"))
        self.prev_end = end[0]

    def braced(self, node, indent: int, bound: Pos | None) -> None:
        """A block, model or repeat: header line, body one level in, closing brace."""
        pad = " " * indent
        if isinstance(node, ast.Repeat):
            start = min([_start(a.span) for a in node.annotations] + [_start(node.span)])
            brace = self.brace_after(_start(node.span))
            count = node.count
            count = self.flat(count) if isinstance(count, (ast.Number, ast.Name)) else f"({self.flat(count)})"
            header = ["".join(self.annotation(a) + " " for a in node.annotations)
                      + f"repeat {count}" + (f" as {node.alias}" if node.alias else "") + " {"]
        else:
            start = _start(node.span)
            brace = self.brace_after(_end(node.name_span))
            header = [self.annotation(a) for a in node.annotations] + [self.block_header(node)]
        close = (node.span.end_line, node.span.end_col - 1)
        body_start = min([_start(a.span) for a in node.body[0].annotations] + [_start(node.body[0].span)]) \
            if node.body else close
        hoisted = self.take_before(brace)
        opening = self.take_trailing(brace[0], body_start)
        self.separate(start[0])
        self.out.extend(pad + c.text for c in hoisted)
        self.out.extend(pad + line for line in "\n".join(header).split("\n"))
        if not node.body and opening is None and (self.next >= len(self.comments)
                                                   or self.comments[self.next].pos > close):
            self.out[-1] += "}"  # an empty body with nothing inside: `{}`
        else:
            if opening is not None:
                self.out[-1] += "  " + opening.text
            self.fresh, self.prev_end = True, brace[0]
            for s in node.body:
                self.own_lines(self.take_before(min([_start(a.span) for a in s.annotations] + [_start(s.span)])),
                               indent + STEP)
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
