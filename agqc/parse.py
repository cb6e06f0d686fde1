"""Parse: .agq source text -> ``agqc.ast.Module``.

Takes a file's text and name; gives the AST, or raises ``AgqcError`` with a
``syntax`` diagnostic that says what was expected and what was found.  The
grammar is ``grammar/agq.lark`` (shipped as the ``agqc.grammar`` package);
Lark builds an LALR parser with positions, and one Transformer turns the
parse tree into frozen dataclasses (after lark's examples/advanced/create_ast).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .diagnostics import AgqcError, Diagnostic, Span, did_you_mean
from .errorcodes import Code
from .kinds import Severity
from .policy import MAX_DIGITS, MAX_PROGRAM_TOKENS, MAX_TOKENS

# Tokens after which a newline never ends a statement: the line goes on.
_CONTINUE_AFTER = {"_ARROW", "COMMA", "EQUAL", "PLUS", "MINUS", "STAR", "SLASH",
                   "_FLOORDIV", "LBRACE", "COLON", "AT"}
_OPENERS, _CLOSERS = {"LPAR", "LSQB"}, {"RPAR", "RSQB"}

_READABLE = {
    "_NL": "end of line", "_ARROW": "`->`", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a string", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`",
    "LBRACE": "`{`", "RBRACE": "`}`", "COMMA": "`,`", "EQUAL": "`=`", "COLON": "`:`",
    "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`", "_FLOORDIV": "`//`",
    "AT": "`@`", "DOT": "`.`", "$END": "end of file",
}



class ProgramTooLarge(AgqcError):
    """The whole program's token limit was passed in this file: the files not yet read are past it too."""


class TooManyTokens(Exception):
    def __init__(self, token: Token):
        super().__init__("more tokens than the budget")
        self.token = token


class _Continuations:
    """Postlexer: keeps only the newlines that end a statement."""

    always_accept = ("_NL",)

    def __init__(self):
        self.open: list[Token] = []  # brackets not yet closed, for "unclosed (" diagnostics
        self.last: Token | None = None  # the last real token, to place end-of-line errors
        self.before_last: Token | None = None
        self.final: Token | None = None  # the newline that ends a file without one: the end of the file
        self.budget = MAX_TOKENS  # tokens this file may have: set per parse
        self.count = 0  # tokens the last parse read

    def process(self, stream):
        depth, prev, pending = 0, None, None
        self.open, self.last, self.before_last, self.count, self.final = [], None, None, 0, None
        for tok in stream:
            if self.count >= self.budget:  # parsing costs ~20 us a token: stop before it takes minutes
                raise TooManyTokens(tok)
            self.count += 1
            if tok.type == "_NL":
                if depth == 0 and prev is not None and prev.type not in _CONTINUE_AFTER:
                    pending = pending or tok
                continue
            if pending is not None and tok.type != "_ARROW":
                yield pending
                prev = pending
            pending = None
            if tok.type == "RBRACE" and prev is not None and prev.type not in ("_NL", "LBRACE"):
                yield Token.new_borrow_pos("_NL", "\n", tok)  # `{ x = f(x) }` on one line
            if tok.type in _OPENERS:
                depth += 1
                self.open.append(tok)
            elif tok.type in _CLOSERS and depth > 0:
                depth -= 1
                self.open.pop()
            self.before_last, self.last = self.last, tok
            yield tok
            prev = tok
        if prev is not None and prev.type != "_NL":
            self.final = Token("_NL", "\n", end_pos=0, line=prev.end_line, column=prev.end_column,
                               end_line=prev.end_line, end_column=prev.end_column)
            yield self.final


_POSTLEX = _Continuations()


@lru_cache(maxsize=1)
def _parser() -> Lark:
    text = resources.files("agqc.grammar").joinpath("agq.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=True,
                postlex=_POSTLEX, start="start", cache=True)


def parse_source(text: str, file: str, budget: int = MAX_TOKENS) -> ast.Module:
    """Parse one file's text. Raises AgqcError on a syntax error or past ``budget`` tokens.

    ``budget`` below ``MAX_TOKENS`` is what the files already read leave of the whole program's
    limit (``MAX_PROGRAM_TOKENS``), so many files each under the per-file limit stay bounded too.
    """
    _POSTLEX.budget = min(budget, MAX_TOKENS)
    try:
        tree = _parser().parse(text)
        items = _ToAst(file).transform(tree)
    except UnexpectedInput as exc:
        raise AgqcError([_syntax_diagnostic(exc, text, file)]) from None
    except TooManyTokens as exc:
        t = exc.token
        where = Span(file, t.line, t.column, t.line, t.column + 1)
        if budget >= MAX_TOKENS:
            raise AgqcError([Diagnostic(Severity.ERROR, Code.LIMIT, f"this file has more than {MAX_TOKENS:,} tokens, "
                                        "over agqc's limit", where,
                                        ("split the spec into files joined by `import`",))]) from None
        raise ProgramTooLarge([Diagnostic(
            Severity.ERROR, Code.LIMIT, f"with this file, the spec and the files it imports have more than "
            f"{MAX_PROGRAM_TOKENS:,} tokens, over agqc's limit", where,
            ("the limit counts every file together, so that checking stays fast",))]) from None
    except (RecursionError, VisitError) as exc:
        if isinstance(exc, VisitError) and isinstance(exc.orig_exc, AgqcError):
            raise exc.orig_exc from None
        if isinstance(exc, VisitError) and not isinstance(exc.orig_exc, RecursionError):
            raise
        raise AgqcError([Diagnostic(Severity.ERROR, Code.LIMIT, "an expression is nested or chained too deeply to read",
                                    Span(file, 1, 1, 1, 2),
                                    ("split it with constants or intermediate names",))]) from None
    return ast.Module(file, tuple(items), tokens=_POSTLEX.count)


def _syntax_diagnostic(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    unclosed = _unclosed(exc, file)
    if unclosed is not None:
        return unclosed
    line, col = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "end of file"
        found, width = f"`{char}`", 1
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        found = "end of file" if tok.type == "$END" else (
            "end of line" if tok.type == "_NL" else f"`{tok.value}`")
        width = max(1, len(str(tok.value).strip()))
        if tok.type in ("$END", "_NL"):
            line, col = _after_last_token(text)
            width = 1
    else:  # UnexpectedEOF
        found, width = "end of file", 1
        line, col = _after_last_token(text)
    if isinstance(exc, UnexpectedCharacters):  # the lexer's "allowed" is every token: no help
        return Diagnostic(Severity.ERROR, Code.SYNTAX, f"unexpected character {found}",
                          Span(file, line, col, line, col + 1),
                          (f"{found} cannot appear in .agq outside a comment or a string",))
    expected = sorted({_READABLE.get(t, f"`{t.lower()}`") for t in _expected(exc)})
    message = f"unexpected {found}"
    notes = (f"expected {_one_of(expected)}, found {found}",) if expected else ()
    if isinstance(exc, UnexpectedToken) and exc.token.type == "NAME" and _POSTLEX.before_last is not None \
            and _POSTLEX.before_last.type == "RPAR":
        notes = ("to pass the result on to another op, put `->` between them: `linear(10) -> relu()`",)
    joined = _split_name(exc)
    if joined:
        notes = (f"did you mean `{joined}`? A name has no spaces inside",)
    return Diagnostic(Severity.ERROR, Code.SYNTAX, message, Span(file, line, col, line, col + width), notes)


def _split_name(exc: UnexpectedInput) -> str | None:
    """``conv2 d``: an op's name typed with a space, joined again; None when it is not one."""
    from .ops.registry import all_ops
    before = _POSTLEX.before_last
    if not isinstance(exc, UnexpectedToken) or exc.token.type not in ("NAME", "NUMBER") or before is None \
            or before.type != "NAME" or before.end_line != exc.token.line:
        return None
    joined = before.value + exc.token.value
    return joined if joined in all_ops() else None


def _unclosed(exc: UnexpectedInput, file: str) -> Diagnostic | None:
    """An error lines after an unclosed bracket is best shown at the bracket."""
    if not _POSTLEX.open or not isinstance(exc, UnexpectedToken):
        return None
    opener = _POSTLEX.open[-1]
    at_end = exc.token.type == "$END" or exc.token is _POSTLEX.final  # on the last line too
    if not at_end and (exc.token.line or 0) <= opener.line:
        return None
    closer = {"(": ")", "[": "]"}[opener.value]
    if at_end:
        found = "end of file"
    elif exc.token.type == "_NL":  # the newline before `}` that the postlexer inserts, or a line's end
        found = f"the end of line {exc.token.line}"
    else:
        found = f"`{exc.token.value}` on line {exc.token.line}"
    return Diagnostic(Severity.ERROR, Code.SYNTAX, f"`{opener.value}` is never closed",
                      Span(file, opener.line, opener.column, opener.line, opener.column + 1),
                      (f"expected `{closer}`, found {found}",))


def _after_last_token(text: str) -> tuple[int, int]:
    last = _POSTLEX.last
    if last is None:
        return _last_position(text)
    return last.end_line, last.end_column


def _expected(exc: UnexpectedInput) -> set[str]:
    names = set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    return {n for n in names if not n.startswith("__")}


def _one_of(items: list[str]) -> str:
    if len(items) > 8:
        items = items[:8] + ["..."]
    return items[0] if len(items) == 1 else "one of " + ", ".join(items)


def _last_position(text: str) -> tuple[int, int]:
    lines = text.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


def _span(file: str, meta) -> Span:
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column)


def _present(children):
    return [c for c in children if c is not None]


def _binop(op: str):
    """A transformer rule for one binary operator."""
    def rule(self, meta, c):
        return ast.BinOp(op, c[0], c[1], self._s(meta))
    return rule


@v_args(meta=True)
class _ToAst(Transformer):
    """Parse tree -> AST. One method per grammar rule or alias."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _s(self, meta) -> Span:
        return _span(self.file, meta)

    # top level
    def start(self, meta, items):
        return items

    def import_file(self, meta, c):
        return ast.Import(c[0][1:-1], False, self._s(meta))

    def import_std(self, meta, c):
        return ast.Import(c[0], True, self._s(meta))

    def dotted(self, meta, c):
        return ".".join(str(t) for t in c)

    def const_def(self, meta, c):
        return ast.Const(str(c[0]), c[1], self._s(meta), _tok_span(self.file, c[0]))

    def block_def(self, meta, c):
        decorators, name, params, outputs, body = c
        if outputs is not None and not isinstance(outputs, tuple):
            outputs = (outputs,)
        return ast.Block(str(name), params, outputs, body, decorators, self._s(meta),
                         _tok_span(self.file, name))

    def model_def(self, meta, c):
        decorators, name, body = c
        return ast.Model(str(name), body, decorators, self._s(meta), _tok_span(self.file, name))

    def decorators(self, meta, c):
        return tuple(_present(c))

    def params(self, meta, c):
        return tuple(_present(c))

    def tensor_param(self, meta, c):
        return ast.TensorParam(str(c[0]), c[1], self._s(meta))

    def config_param_default(self, meta, c):
        return ast.ConfigParam(str(c[0]), c[1], self._s(meta))

    def config_param(self, meta, c):
        return ast.ConfigParam(str(c[0]), None, self._s(meta))

    def type_tuple(self, meta, c):
        return tuple(_present(c))

    def tensor_type(self, meta, c):
        dtype = str(c[0]) if c[0] is not None else "float"
        return ast.TensorType(dtype, tuple(_present(c[1:])), self._s(meta))

    def body(self, meta, c):
        return tuple(c)

    # statements
    def stmt(self, meta, c):
        decorators, simple = c
        if not decorators:
            return simple
        return type(simple)(**{**simple.__dict__, "annotations": decorators + simple.annotations})

    def assign(self, meta, c):
        return ast.Assign(tuple(str(t) for t in c[:-1]), c[-1], (), self._s(meta))

    def return_stmt(self, meta, c):
        return ast.Return(tuple(c), (), self._s(meta))

    def repeat_stmt(self, meta, c):
        count, alias, body = c
        if isinstance(count, Token):
            count = self._token_expr(count)
        return ast.Repeat(count, str(alias) if alias else None, body, (), self._s(meta))

    def input_decl(self, meta, c):
        return ast.InputDecl(str(c[0]), c[1], (), self._s(meta), _tok_span(self.file, c[0]))

    def network_decl(self, meta, c):
        role, name, value = c
        return ast.NetworkDecl(str(role), str(name), value, (), self._s(meta),
                               _tok_span(self.file, role), _tok_span(self.file, name))

    def _section_word(self, tok: Token, word: str) -> None:
        """``NAME {`` opens a section only when NAME is the section's word (no keyword is reserved for it)."""
        if str(tok) != word:
            hint = did_you_mean(str(tok), [word]) or f"a section here is written `{word} {{ ... }}`"
            raise AgqcError([Diagnostic(Severity.ERROR, Code.SYNTAX, f"unknown section `{tok}`",
                                        _tok_span(self.file, tok), (hint,))])

    def train_section(self, meta, c):
        self._section_word(c[0], "train")
        settings, stages = c[1]
        return ast.TrainSection(settings, stages, (), self._s(meta))

    def train_body(self, meta, c):
        return (tuple(x for x in c if isinstance(x, ast.Setting)), tuple(x for x in c if isinstance(x, ast.Stage)))

    def setting(self, meta, c):
        key, target, *values = c
        return ast.Setting(str(key), str(target) if target else None, tuple(values), self._s(meta),
                           _tok_span(self.file, key), _tok_span(self.file, target) if target else None)

    def stage(self, meta, c):
        word, name, (settings, stages) = c
        self._section_word(word, "stage")
        if stages:
            raise AgqcError([Diagnostic(Severity.ERROR, Code.MISPLACED, "a stage cannot hold stages",
                                        stages[0].span, ("stages follow each other in the train section",))])
        return ast.Stage(str(name), settings, self._s(meta), _tok_span(self.file, name))

    # expressions
    def _token_expr(self, tok: Token):
        span = _tok_span(self.file, tok)
        if tok.type == "NUMBER":
            return ast.Number(_number(tok, self.file), span)
        return ast.Name(str(tok), span)

    def chain(self, meta, c):
        return ast.Chain(c[0], tuple(c[1:]), self._s(meta))

    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")
    floordiv = _binop("//")
    truediv = _binop("/")

    def neg(self, meta, c):
        return ast.Neg(c[0], self._s(meta))

    def index(self, meta, c):
        return ast.Index(c[0], tuple(_present(c[1:])), self._s(meta))

    def slice(self, meta, c):
        return ast.Slice(c[0], c[1], self._s(meta))

    def annotated(self, meta, c):
        return ast.Annotated(c[0], tuple(c[1:]), self._s(meta))

    def name(self, meta, c):
        return ast.Name(str(c[0]), self._s(meta))

    def number(self, meta, c):
        return ast.Number(_number(c[0], self.file), self._s(meta))

    def string(self, meta, c):
        return ast.String(str(c[0])[1:-1], self._s(meta))

    def true(self, meta, c):
        return ast.Bool(True, self._s(meta))

    def false(self, meta, c):
        return ast.Bool(False, self._s(meta))

    def call(self, meta, c):
        func, *args, alias = c
        args = _present(args)
        positional = tuple(a for a in args if not isinstance(a, ast.Kwarg))
        kwargs = tuple(a for a in args if isinstance(a, ast.Kwarg))
        return ast.Call(str(func), positional, kwargs, str(alias) if alias else None,
                        self._s(meta), _tok_span(self.file, func))

    def kwarg(self, meta, c):
        return ast.Kwarg(str(c[0]), c[1], self._s(meta))

    def annotation(self, meta, c):
        return ast.Annotation(str(c[0]), tuple(_present(c[1:])), self._s(meta))


def _number(tok: Token, file: str = "") -> int | float:
    text = str(tok)
    if any(ch in text for ch in ".eE"):
        return float(text)
    if len(text) > MAX_DIGITS:  # int() of thousands of digits is slow, and Python refuses past 4,300
        raise AgqcError([Diagnostic(Severity.ERROR, Code.LIMIT,
                                    f"a number with {len(text):,} digits is over agqc's size "
                                    "limit", Span(file, tok.line, tok.column, tok.end_line, tok.end_column))])
    return int(text)
