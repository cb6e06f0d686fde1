"""Diagnostics: located, coded messages instead of exceptions.

Takes spans and messages from every stage; gives ``Diagnostic`` records,
``Reporter`` (collects them so all problems in a file are reported in one
run) and ``render`` (the ``file:line:col: error[code]: message`` text with
the source line and a caret under the span).  ``AgqcError`` carries a list of
diagnostics out of a stage that cannot go on.
"""
from __future__ import annotations

import os
import re
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errorcodes import CODES, Code
from .kinds import Severity
from .policy import MAX_FILE_BYTES


@dataclass(frozen=True)
class Span:
    """A stretch of a source file, 1-based lines and columns, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def short(self) -> str:
        return f"{Path(self.file).name}:{self.line}"


NO_SPAN = Span("<agqc>", 0, 0, 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: Code
    message: str
    span: Span
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"undeclared diagnostic code {self.code!r}")


class AgqcError(Exception):
    """A user's mistake: one or more error diagnostics. Exit status 1."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("\n".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == Severity.ERROR]


_LINE = re.compile(r"\b(from|at) line (\d+)")  # a note's reference to a line of the diagnostic's own file


@dataclass(frozen=True)
class Site:
    """One block instantiation in progress: the block and the call that asked for it.

    ``origin`` maps a span inside the called block to where the caller wrote the argument
    it uses (``heads=heads`` -> the caller's ``12``), or None; it is given only for blocks
    whose text the user does not own (the standard library), whose mistakes are the
    caller's arguments.
    """

    block: str
    call: Span
    origin: Callable[[Span], Span | None] | None = None
    network: str | None = None  # the block of a network: its declaration, not a call

    def note(self) -> str:
        if self.network:
            return f"in {self.block}, as network `{self.network}` declared at {self.call.where()}"
        return f"in {self.block}, called at {self.call.where()}"


@dataclass
class Reporter:
    """Collects diagnostics; ``raise_if_errors`` ends a stage that found some.

    While blocks are being instantiated (``within``), each diagnostic gets the
    instantiation trail as notes, innermost call first and the outermost (the
    user's own call) last, as C++ compilers list template instantiations; a
    diagnostic inside a standard-library block that comes from an argument the
    caller gave is moved to that argument.  A diagnostic is kept once, however
    many instantiations reach it (graphs are cached per configuration; two
    configurations may hit the same line): the trail of the first is shown.
    """

    items: list[Diagnostic] = field(default_factory=list)
    error_count: int = 0  # every error reported, repeats included: "did this stage fail?"

    keep: Callable[[Code], bool] | None = None  # while set, diagnostics whose code fails it are dropped
    sites: list[Site] = field(default_factory=list)  # the instantiations in progress, outermost first
    _seen: set[Diagnostic] = field(default_factory=set, repr=False)  # as reported, before the trail
    _moved: set[tuple[Severity, Code, Span]] = field(default_factory=set, repr=False)  # moved to an argument

    @contextmanager
    def within(self, site: Site) -> Iterator[None]:
        """Report what happens inside the block instantiated at ``site`` with that in the trail."""
        self.sites.append(site)
        try:
            yield
        finally:
            self.sites.pop()

    def error(self, code: Code, message: str, span: Span, *notes: str) -> None:
        self.error_count += 1
        self._add(Diagnostic(Severity.ERROR, code, message, span, tuple(notes)))

    @contextmanager
    def only(self, keep: Callable[[Code], bool]) -> Iterator[None]:
        """Report only diagnostics whose code passes ``keep`` inside the block."""
        outer, self.keep = self.keep, keep
        try:
            yield
        finally:
            self.keep = outer

    def warning(self, code: Code, message: str, span: Span, *notes: str) -> None:
        self._add(Diagnostic(Severity.WARNING, code, message, span, tuple(notes)))

    def _add(self, diagnostic: Diagnostic) -> None:
        if self.keep is not None and not self.keep(diagnostic.code):
            return
        if diagnostic in self._seen:  # a block instantiated twice reports once
            return
        self._seen.add(diagnostic)
        placed = self._in_context(diagnostic)
        if placed.span != diagnostic.span:  # moved to the caller's argument: one complaint per argument and code
            key = (placed.severity, placed.code, placed.span)
            if key in self._moved:
                return
            self._moved.add(key)
        self.items.append(placed)

    def _in_context(self, d: Diagnostic) -> Diagnostic:
        """``d`` with the instantiation trail as notes, moved to the caller's argument where that is the cause."""
        if not self.sites:
            return d
        span = d.span
        moved: list[str] = []  # where the value was used, once moved to the argument
        for site in reversed(self.sites):  # innermost first: each maps a span in its block to its caller's text
            arg = site.origin(span) if site.origin is not None else None
            if arg is None:
                break
            if not moved:
                moved.append(f"the value given here is used at {d.span.where()}, in {site.block}")
            span = arg
        own = list(d.notes)
        if span.file != d.span.file:  # "(from line 27)" meant the block's file, not the caller's
            own = [_LINE.sub(lambda m: f"{m[1]} {Path(d.span.file).name}:{m[2]}", n) for n in own]
        trail = [site.note() for site in reversed(self.sites)]
        return replace(d, span=span, notes=tuple(own + moved + trail))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == Severity.WARNING]

    def raise_if_errors(self) -> None:
        """Stop with every error, and the warnings found so far, in file order."""
        if self.errors:
            raise AgqcError(sorted(self.items, key=_order))


def _order(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.col, d.code)


def decode_error_span(file: str, data: bytes, exc: UnicodeDecodeError) -> Span:
    """Where the first byte that is not UTF-8 sits, as a line and column."""
    # Count as the text is read (universal newlines, characters not bytes), which is how spans count.
    before = data[:exc.start].decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return Span(file, line, col, line, col + 1)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """A note suggesting the nearest known spelling, or None."""
    close = get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


# Text that is no file but is quoted like one: each `--set NAME=VALUE` is the one-line pseudo-file `--set NAME`.
_TYPED: dict[str, str] = {}


def typed_source(name: str, text: str) -> None:
    """Remember ``text`` as pseudo-file ``name``'s, for diagnostics that point into it."""
    _TYPED[name] = text


def _display_text(file: str) -> str | None:
    """A file's text to quote a line from: only a regular file, and only its first ``MAX_FILE_BYTES``."""
    if file in _TYPED:
        return _TYPED[file]
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):  # a FIFO or a device: never open it
            return None
        with open(file, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES)
    except OSError:
        return None
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def render(diagnostic: Diagnostic, sources: dict[str, str] | None = None) -> str:
    """The text a person reads: location, code, message, source line, caret, notes."""
    d, span = diagnostic, diagnostic.span
    head = f"{span.where()}: {d.severity}[{d.code}]: {d.message}"
    lines = [head]
    text = (sources or {}).get(span.file)
    if text is None and span.line > 0:
        text = _display_text(span.file)
    # Spans count lines by "\n" alone (as Lark does), so split on it, not on every Unicode line break.
    source = text.split("\n") if text is not None else []
    if 0 < span.line <= len(source):
        source_line = source[span.line - 1].expandtabs(1)
        gutter = f"{span.line:>5} | "
        end = span.end_col if span.end_line == span.line else len(source_line) + 1
        width = max(1, min(end, len(source_line) + 1) - span.col)
        lines.append(gutter + source_line)
        lines.append(" " * (len(gutter) - 2) + "| " + " " * (span.col - 1) + "^" * width)
    lines.extend(f"  note: {note}" for note in d.notes)
    return "\n".join(visible(line) for line in lines)


# Control characters from a spec (an escape sequence in a string or a comment) would act on the
# user's terminal: each is shown as its one-column Unicode picture (U+2400...), so carets stay aligned.
_PICTURES = {c: 0x2400 + c for c in range(32) if c != 9} | {127: 0x2421} | {c: 0xFFFD for c in range(0x80, 0xA0)}


def visible(text: str) -> str:
    """``text`` with every control character but the tab shown as a picture, one column each."""
    return text.translate(_PICTURES)
