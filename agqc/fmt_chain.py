"""Expressions for ``agqc fmt``: printed flat, or broken over lines at chain and sum gaps.

Used by ``agqc.fmt_layout.Layout`` (which places statements, blocks and the
comments between them).  A *gap* is a place where a line may break: before a
chain's `->` and after a sum's `+` or `-`.  For each statement a ``Plan`` says
which gaps the author broke (a step or term starting on a later line than the
piece before it), which comments sit in which gap, and which sub-expressions
must therefore be printed over several lines.  The layout keeps every such
break, puts each comment at the end of the line of the piece it follows, and
otherwise breaks greedily, only where a line would pass ``WIDTH`` columns.
A parenthesised operand or a subscript in `[ ]` is never broken for width:
it moves to a line of its own as one unit instead.  Rules: docs/language.md,
"Formatting".
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import ast

WIDTH = 100  # columns a line may fill before a chain or sum is broken
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


def start_pos(span) -> Pos:
    return (span.line, span.col)


def end_pos(span) -> Pos:
    return (span.end_line, span.end_col)


# ---- binding levels ---------------------------------------------------------------------
# Loosest first, as in grammar/agq.lark: chain < sum < product < unary < postfix
# (annotated, indexed) < primary.  A node printed where a tighter level is needed gets
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
    if isinstance(e, (ast.Annotated, ast.Index)):
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


def _terms(e: ast.BinOp) -> tuple[list, list[str]]:
    """`a + b - c` -> ([a, b, c], ["+", "-"]): a sum's terms along its left spine."""
    terms, ops = [], []
    node = e
    while isinstance(node, ast.BinOp) and node.op in "+-":
        terms.append(node.right)
        ops.append(node.op)
        node = node.left
    terms.append(node)
    return terms[::-1], ops[::-1]


def _pieces(e) -> list | None:
    """The pieces of a chain (head, steps) or a sum (terms), with a gap after each but the last."""
    if isinstance(e, ast.Chain):
        return [e.head, *e.steps]
    if isinstance(e, ast.BinOp) and e.op in "+-":
        return _terms(e)[0]
    return None


def _children(e) -> list:
    """The sub-expressions whose gaps may break; subscripts and annotation arguments stay flat."""
    pieces = _pieces(e)
    if pieces is not None:
        return pieces
    if isinstance(e, ast.BinOp):
        return [e.left, e.right]
    if isinstance(e, ast.Neg):
        return [e.operand]
    if isinstance(e, ast.Annotated):
        return [e.expr]
    if isinstance(e, ast.Index):
        return [e.value]
    if isinstance(e, ast.Call):
        return [*e.args, *(k.value for k in e.kwargs)]
    return []


def end_col(col: int, text: str) -> int:
    """The column after ``text`` when it starts at ``col`` (0-based)."""
    return col + len(text) if "\n" not in text else len(text.rsplit("\n", 1)[1])


def indent_of_last(text: str, indent: int) -> int:
    if "\n" not in text:
        return indent
    last = text.rsplit("\n", 1)[1]
    return len(last) - len(last.lstrip(" "))


Gap = tuple[int, int]  # (id of the chain or sum, k): the gap after its piece k


@dataclass
class Plan:
    """Where one statement's value must break, and the comments that go at its gaps."""

    comments: dict[Gap, list[Comment]] = field(default_factory=dict)
    author: set[Gap] = field(default_factory=set)  # gaps the author broke: they stay broken
    forced: set[int] = field(default_factory=set)  # ids of nodes with a kept break somewhere inside
    hoisted: list[Comment] = field(default_factory=list)  # to lines of their own before the statement
    last: Comment | None = None  # at the end of the statement's last line


def plan(values, comments: list[Comment]) -> Plan:
    """Sort a statement's comments (all after its first value starts, in source order) into gaps.

    A comment goes to the first gap whose next piece starts after it: a comment after
    a step, or after `+`, stays at the end of that line.  Of the comments after every
    gap, the last ends the statement's last line; any others join the last gap (a
    statement without gaps has them on lines of their own before it).  Gaps are taken
    in the order they are printed (keyword arguments after positional ones, whatever
    the source's order), and never an earlier one than the comment before took, so
    the comments keep their order.
    """
    out = Plan()
    gaps: list[tuple[Pos, Gap]] = []  # (where the next piece starts, gap), in printing order
    order: list[tuple[object, list]] = []  # every node, children first

    def walk(e) -> None:
        kids = _children(e)
        pieces = _pieces(e)
        for k, kid in enumerate(kids):
            walk(kid)
            if pieces is not None and k + 1 < len(pieces):
                after = pieces[k + 1]
                gaps.append((start_pos(after.span), (id(e), k)))
                if after.span.line > kid.span.end_line:
                    out.author.add((id(e), k))
        order.append((e, kids))

    for value in values:
        walk(value)
    tail, i = [], 0
    for c in comments:
        while i < len(gaps) and gaps[i][0] <= c.pos:
            i += 1
        if i < len(gaps):
            out.comments.setdefault(gaps[i][1], []).append(c)
        else:
            tail.append(c)
    if tail:
        out.last = tail.pop()
    if tail and gaps:
        out.comments.setdefault(gaps[-1][1], []).extend(tail)
    elif tail:
        out.hoisted = tail
    broken = out.author | set(out.comments)
    for e, kids in order:
        pieces = _pieces(e)
        if any((id(e), k) in broken for k in range(len(pieces or []) - 1)) \
                or any(id(kid) in out.forced for kid in kids):
            out.forced.add(id(e))
    return out


class ExprLayout:
    """Expressions of one module: flat, or broken by a statement's ``Plan``."""

    src: list[str]  # the source's lines, for numbers exactly as written

    def __init__(self) -> None:
        self.plan = Plan()

    def use(self, p: Plan) -> None:
        self.plan = p

    # ---- flat ---------------------------------------------------------------------------
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
        if isinstance(e, ast.Index):
            return self.flat(e.value, _POSTFIX) + self.subscripts(e)
        raise TypeError(f"agqc fmt: no layout for {type(e).__name__}")

    def subscripts(self, e: ast.Index) -> str:
        return "[" + ", ".join(self.subscript(i) for i in e.items) + "]"

    def subscript(self, item) -> str:
        if not isinstance(item, ast.Slice):
            return self.flat(item)
        return ":".join("" if end is None else self.flat(end) for end in (item.start, item.stop))

    def annotation(self, a: ast.Annotation) -> str:
        if not a.args:
            return "@" + a.name
        args = [f"{x.name}={self.flat(x.value)}" if isinstance(x, ast.Kwarg) else self.flat(x) for x in a.args]
        return f"@{a.name}({', '.join(args)})"

    def tensor_type(self, t: ast.TensorType) -> str:
        dims = "[" + ", ".join(self.flat(d) for d in t.dims) + "]"
        return dims if t.dtype == "float" else t.dtype + dims

    # ---- broken -------------------------------------------------------------------------
    def expr(self, e, need: int, col: int, indent: int) -> str:
        """``e`` starting at column ``col`` of a line indented ``indent``.

        Flat unless the plan breaks it or it is too wide; a parenthesised operand
        too wide (with no break of the author's inside) stays flat as one unit.
        """
        paren = _level(e) < need
        if id(e) not in self.plan.forced:
            flat = self.flat(e, need)
            if paren or col + len(flat) <= WIDTH:
                return flat
        return "(" + self._broken(e, col + 1, indent) + ")" if paren else self._broken(e, col, indent)

    def _broken(self, e, col: int, indent: int) -> str:
        if isinstance(e, ast.Chain):
            return self.chain(e, col, indent)
        if isinstance(e, ast.BinOp) and e.op in "+-":
            return self.sum(e, col, indent)
        if isinstance(e, ast.BinOp):
            left_need, right_need = _operand_levels(e)
            left = self.expr(e.left, left_need, col, indent) + f" {e.op} "
            return left + self.expr(e.right, right_need, end_col(col, left), indent_of_last(left, indent))
        if isinstance(e, ast.Neg):
            return "-" + self.expr(e.operand, _UNARY, col + 1, indent)
        if isinstance(e, ast.Annotated):
            inner = self.expr(e.expr, _PRIMARY, col, indent)
            return inner + "".join(" " + self.annotation(a) for a in e.annotations)
        if isinstance(e, ast.Index):
            return self.expr(e.value, _POSTFIX, col, indent) + self.subscripts(e)
        if isinstance(e, ast.Call):
            text = e.func + "("
            items = [(None, a) for a in e.args] + [(k.name, k.value) for k in e.kwargs]
            for i, (name, value) in enumerate(items):
                text += (", " if i else "") + (f"{name}=" if name else "")
                text += self.expr(value, 1, end_col(col, text), indent_of_last(text, indent))
            return text + ")" + (f" as {e.alias}" if e.alias else "")
        return self.flat(e)

    def _gap(self, e, k: int, text: str, cont: int) -> tuple[str, bool]:
        """Comments at gap k of ``e`` (the first at the line's end, the rest on lines of their
        own), and whether the next piece must start a new line."""
        comments = self.plan.comments.get((id(e), k), [])
        if comments:
            text += "  " + comments[0].text + "".join("\n" + " " * cont + c.text for c in comments[1:])
        return text, bool(comments) or (id(e), k) in self.plan.author

    def _joined(self, piece, need: int, col: int, indent: int, reserve: int) -> str | None:
        """``piece`` laid out at ``col`` on the current line, or None if it does not fit there.

        A piece with no kept break must fit flat (with ``reserve`` columns after it), the
        closing parenthesis of a parenthesised one aside; one with kept breaks inside
        always joins (as the author wrote it: a break before it would be kept too).
        Each piece is thus laid out once, at one column: no trial layouts.
        """
        if id(piece) in self.plan.forced:
            return self.expr(piece, need, col, indent)
        text = self.flat(piece, need)
        closing = 1 if _level(piece) < need else 0
        return text if col + len(text) - closing + reserve <= WIDTH else None

    def chain(self, e: ast.Chain, col: int, indent: int) -> str:
        """Each `-> step` joins the line if it fits, else starts a line one level in.

        A step the author started on a new line stays there, so a chain written one
        stage (or one group of stages) per line keeps its lines; a comment after a
        step stays at the end of that step's line.
        """
        cont = indent + STEP
        text = self.expr(e.head, _HEAD, col, indent)
        for k, step in enumerate(e.steps):
            text, must = self._gap(e, k, text, cont)
            if not must:
                at = end_col(col, text)
                joined = self._joined(step, _POSTFIX, at + 4, indent_of_last(text, indent), 0)
                if joined is not None:
                    text += " -> " + joined
                    continue
            text += "\n" + " " * cont + "-> " + self.expr(step, _POSTFIX, cont + 3, cont)
        return text

    def sum(self, e: ast.BinOp, col: int, indent: int) -> str:
        """Terms join the line while they fit, else start a line one level in, after `+`."""
        terms, ops = _terms(e)
        cont = indent + STEP
        text = self.expr(terms[0], _SUM, col, indent)
        for k, (op, term) in enumerate(zip(ops, terms[1:])):
            text, must = self._gap(e, k, text + " " + op, cont)
            if not must:
                at = end_col(col, text)
                reserve = 2 if k < len(ops) - 1 else 0  # room for the ` +` after it
                joined = self._joined(term, _PRODUCT, at + 1, indent_of_last(text, indent), reserve)
                if joined is not None:
                    text += " " + joined
                    continue
            text += "\n" + " " * cont + self.expr(term, _PRODUCT, cont, cont)
        return text
