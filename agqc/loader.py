"""Loader: a spec path -> every file it imports, and the global scope.

Takes the main file's path; gives ``Scope`` (constants evaluated, blocks by
name, the main file's model, and each file's text for diagnostics).  Imports
are relative file paths (``import "layers.agq"``) or standard-library
modules shipped with agqc (``import std.gan``).  Reports missing files,
import cycles, imports outside the spec's folder and duplicate names.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import ast
from .diagnostics import AgqcError, Reporter, Span, decode_error_span, did_you_mean
from .errorcodes import Code
from .names import check_names
from .parse import ProgramTooLarge, parse_source
from .policy import MAX_FILE_BYTES, MAX_PROGRAM_TOKENS

if TYPE_CHECKING:
    from .values import Value

STDLIB = Path(__file__).parent / "stdlib"


@dataclass
class Scope:
    main: str
    consts: dict[str, Value] = field(default_factory=dict)
    const_spans: dict[str, Span] = field(default_factory=dict)
    blocks: dict[str, ast.Block] = field(default_factory=dict)
    model: ast.Model | None = None
    sources: dict[str, str] = field(default_factory=dict)
    tokens: int = 0  # read so far, in every file: the whole program has a limit as each file does
    overrides: tuple = ()  # `--set NAME=VALUE` (agqc.overrides.Override), spliced into the main file
    buffers: dict[str, str] = field(default_factory=dict)  # resolved path -> unsaved text, read instead of the file
    parsed: dict | None = None  # (file, text) -> ast.Module: a caller's cache of files parsed before (agqc lsp)


def load(path: str | Path, reporter: Reporter, overrides: tuple = (),
         buffers: dict[str, str] | None = None, parsed: dict | None = None) -> Scope:
    """Parse the main file and its imports, with ``overrides`` spliced into the main file; evaluate constants.

    ``buffers`` maps resolved paths to text an editor holds unsaved: read instead of those files.
    ``parsed``, a dict the caller keeps between loads, holds each file's syntax tree by (name, text).
    """
    path = Path(path)
    scope = Scope(main=str(path), overrides=tuple(overrides), buffers=dict(buffers or {}), parsed=parsed)
    root = path.resolve().parent
    order: list[ast.Module] = []
    _load_file(path, None, root, scope, reporter, [], order, set(), [])
    reporter.raise_if_errors()
    from .evaluate import eval_const  # constants may use integer arithmetic

    for module in order:
        for item in module.items:
            if isinstance(item, ast.Const) and _define(item.name, item.name_span, scope, reporter):
                scope.consts[item.name] = eval_const(item.value, scope.consts, reporter)
                scope.const_spans[item.name] = item.name_span
            elif isinstance(item, ast.Block) and _define(item.name, item.name_span, scope, reporter):
                scope.blocks[item.name] = item
                _unique_params(item, reporter)
            elif isinstance(item, ast.Model) and module.file == str(path):
                if scope.model is not None:
                    reporter.error(Code.DUPLICATE_NAME, f"a spec defines one model; `{item.name}` is a second",
                                   item.name_span, f"the first is `{scope.model.name}` at line {scope.model.span.line}")
                else:
                    scope.model = item
    return scope


def _unique_params(block: ast.Block, reporter: Reporter) -> None:
    first: dict[str, Span] = {}
    for p in block.params:
        if p.name in first:
            reporter.error(Code.DUPLICATE_NAME, f"`{block.name}` declares the parameter `{p.name}` twice", p.span,
                           f"first declared at {first[p.name].where()}")
        first.setdefault(p.name, p.span)


def _define(name: str, span: Span, scope: Scope, reporter: Reporter) -> bool:
    """False (and an error) when the name is taken: the first definition stays."""
    if name in scope.consts or name in scope.blocks:
        first = scope.const_spans.get(name) or scope.blocks[name].name_span
        reporter.error(Code.DUPLICATE_NAME, f"`{name}` is defined twice", span,
                       f"first defined at {first.where()}")
        return False
    return True


class SourceTooLarge(Exception):
    """A spec file over ``MAX_FILE_BYTES``."""


def read_source(path: Path) -> str:
    """A spec's text, read safely: only from a regular file, and never more than ``MAX_FILE_BYTES``.

    ``stat`` follows symlinks, so a link to ``/dev/zero`` is judged by what it points at;
    a FIFO or a device is refused before it is opened (opening a FIFO blocks, and a device
    can be endless), and the read is bounded whatever the size the file reports.  Newlines
    are read as ``Path.read_text`` reads them.  Raises ``OSError`` (missing, unreadable, not
    a regular file), ``SourceTooLarge`` or ``UnicodeDecodeError``.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a spec is a .agq text file)")
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise SourceTooLarge(path)
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _load_file(path: Path, span: Span | None, root: Path, scope: Scope, reporter: Reporter,
               stack: list[Path], order: list, done: set, via: list[Span]) -> None:
    key = path.resolve()
    if key in stack:
        start = stack.index(key)
        cycle = " -> ".join(p.name for p in stack[start:] + [key])
        # reported at the import where the cycle starts: in the file the user is checking, if it is in the cycle
        where = via[start] if start < len(via) else span or _top(path)
        reporter.error(Code.IMPORT_CYCLE, f"import cycle: {cycle}", where,
                       "a file cannot import itself, directly or not")
        return
    if key in done or scope.tokens > MAX_PROGRAM_TOKENS:  # past the limit: said once, at the file that passed it
        return
    try:
        text = _buffered(scope.buffers[str(key)], path) if str(key) in scope.buffers else read_source(path)
    except SourceTooLarge:
        reporter.error(Code.LIMIT, f"{path.name} is larger than {MAX_FILE_BYTES:,} bytes", span or _top(path))
        return
    except UnicodeDecodeError as exc:
        where = decode_error_span(str(path), exc.object, exc)
        reporter.error(Code.SYNTAX, f"{path.name} is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} "
                       f"at line {where.line}, column {where.col}", span or where, "save the file as UTF-8")
        return
    except OSError as exc:
        reporter.error(Code.IMPORT_NOT_FOUND, f"cannot read {path}: {exc.strerror or exc}", span or _top(path))
        return
    scope.sources[str(path)] = text
    try:
        module = parse_cached(text, str(path), MAX_PROGRAM_TOKENS - scope.tokens, scope.parsed)
    except AgqcError as err:
        for d in err.diagnostics:
            reporter._add(d)
        if isinstance(err, ProgramTooLarge):
            scope.tokens = MAX_PROGRAM_TOKENS + 1  # the files not yet read are past the limit too: said once
        return
    scope.tokens += module.tokens
    if span is None and scope.overrides:  # the main file
        from .overrides import apply
        module = apply(module, list(scope.overrides), scope.sources, reporter)
    check_names(module, reporter)
    stack.append(key)
    for item in module.items:
        if isinstance(item, ast.Import):
            target = _resolve_import(item, path, root, reporter)
            if target is not None:
                via.append(item.span)  # the import this file is left by
                _load_file(target, item.span, root, scope, reporter, stack, order, done, via)
                via.pop()
    stack.pop()
    done.add(key)
    order.append(module)


def _buffered(text: str, path: Path) -> str:
    """An editor's unsaved text, held to the limit a file on disk is."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise SourceTooLarge(path)
    return text


def parse_cached(text: str, file: str, budget: int, cache: dict | None) -> ast.Module:
    """``parse_source``, or the tree parsed before from the same name and text (within the same budget)."""
    key = (file, text)
    if cache is not None and key in cache and cache[key].tokens < budget:  # the trees are frozen: safe to share
        return cache[key]
    module = parse_source(text, file, budget=budget)
    if cache is not None:
        cache[key] = module
    return module


def _resolve_import(item: ast.Import, importer: Path, root: Path, reporter: Reporter) -> Path | None:
    if item.is_std:
        parts = item.target.split(".")
        if parts[0] != "std" or len(parts) < 2:
            reporter.error(Code.IMPORT_NOT_FOUND, f"`import {item.target}`: a bare name imports from the standard "
                           "library, as `std.NAME`", item.span,
                           f'to import a file, quote it: import "{item.target}.agq"')
            return None
        target = STDLIB.joinpath(*parts[1:]).with_suffix(".agq")
        if not _is_file(target):
            known = sorted(p.stem for p in STDLIB.glob("*.agq"))
            note = did_you_mean(item.target.removeprefix("std."), known) or (
                "the standard library has: " + ", ".join(f"std.{k}" for k in known))
            reporter.error(Code.IMPORT_NOT_FOUND, f"no standard-library module `{item.target}`", item.span, note)
            return None
        return target
    target = (importer.parent / item.target)
    if "\0" in item.target:
        reporter.error(Code.IMPORT_NOT_FOUND, "an import path cannot contain a NUL character", item.span)
        return None
    resolved = target.resolve()
    if not (resolved.is_relative_to(root) or resolved.is_relative_to(STDLIB.resolve())):
        reporter.error(Code.IMPORT_OUTSIDE_ROOT, f"`{item.target}` is outside the spec's folder {root}",
                       item.span, "imports may only reach files under the main spec's folder")
        return None
    if not _is_file(target):
        reporter.error(Code.IMPORT_NOT_FOUND, f"no file `{item.target}` next to {importer.name}", item.span,
                       f"looked for {target}")
        return None
    return target


def _is_file(path: Path) -> bool:
    """Like Path.is_file, but a name the OS rejects (too long, say) is just not a file."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _top(path: Path) -> Span:
    return Span(str(path), 1, 1, 1, 2)
