"""Inlining modules into one file: which names a module's source binds at module level, and what each becomes.

Takes the source of Python modules that import one another relatively (``from . import data as datasets``,
``from .datafiles import read_idx``) and their other imports absolutely, in an order where each imports only those
before it. Gives, for one file holding them all:

- ``Source.read()``: a module cut into its docstring, its ``__future__`` features, its imports (``Import``, each
  to be hoisted to the top of the file once), its relative imports, and ``body(renames)``, the rest of its text
  with its module-level names renamed;
- ``Names``: the file's one namespace, handing out a name for each definition and import, with ``_`` (then
  ``_2``, ...) added to a name already taken;
- ``link()``: each module's module-level names -> the file's names (a name imported from a sibling module is that
  module's), and the namespace object standing for each module imported whole; ``namespace_attributes()``: the
  names used through each such object.

A renamed name is changed only where Python would resolve it to the module-level one (``module_refs()`` follows
its scopes); what it cannot resolve (``global``, ``:=``, ``match``, ``import *``) raises NotImplementedError.
Imports: the standard library only. agqc/train/emit.py builds the training script with it.
"""
from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

__all__ = ["Import", "Source", "Names", "bindings", "module_refs", "link", "namespace_attributes"]


# ---- scopes: which names in a module's source are its module-level globals ---------------------------------------

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _unsupported(node: ast.AST, what: str) -> NotImplementedError:
    return NotImplementedError(f"line {getattr(node, 'lineno', '?')}: the training-script emitter does not resolve "
                               f"{what}; keep agqc/train/core free of it")


def bindings(nodes: Iterable[ast.AST]) -> set[str]:
    """The names these statements bind in their own scope (not inside the functions, classes or comprehensions
    they define)."""
    bound: set[str] = set()
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)  # decorators, defaults and bases bind nothing (no walrus: see below)
            continue
        if isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            raise _unsupported(node, "`global` and `nonlocal`")
        if isinstance(node, ast.NamedExpr):
            raise _unsupported(node, "`:=`")
        if isinstance(node, (ast.MatchAs, ast.MatchStar, ast.MatchMapping)):
            raise _unsupported(node, "`match`")
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(a.name == "*" for a in node.names):
                raise _unsupported(node, "`import *`")
            bound.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        todo.extend(ast.iter_child_nodes(node))
    return bound


def _arguments(args: ast.arguments) -> list[ast.arg]:
    return [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []), *args.kwonlyargs,
            *([args.kwarg] if args.kwarg else [])]


@dataclass
class Refs:
    """A module's references to its module-level names: Name nodes, and the name of each top-level def and class."""

    names: list[ast.Name] = field(default_factory=list)
    definitions: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = field(default_factory=list)

    def visit(self, node: ast.AST, scopes: list[tuple[str, set[str]]]) -> None:
        if isinstance(node, ast.Name):
            if scopes and scopes[-1][0] == "class" and isinstance(node.ctx, ast.Load) and node.id in scopes[-1][1]:
                raise _unsupported(node, f"a class body reading its own `{node.id}` (global until assigned)")
            if self._global(node.id, scopes):
                self.names.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not scopes:
                self.definitions.append(node)
            args = _arguments(node.args)
            # decorators, defaults and annotations are evaluated where the function is defined
            for outer in (*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d),
                          *(a.annotation for a in args if a.annotation), *([node.returns] if node.returns else [])):
                self.visit(outer, scopes)
            inner = scopes + [("function", {a.arg for a in args} | bindings(node.body))]
            for statement in node.body:
                self.visit(statement, inner)
        elif isinstance(node, ast.Lambda):
            for outer in (*node.args.defaults, *(d for d in node.args.kw_defaults if d)):
                self.visit(outer, scopes)
            self.visit(node.body, scopes + [("function", {a.arg for a in _arguments(node.args)})])
        elif isinstance(node, ast.ClassDef):
            if not scopes:
                self.definitions.append(node)
            for base in (*node.decorator_list, *node.bases, *node.keywords):
                self.visit(base, scopes)
            inner = scopes + [("class", bindings(node.body))]
            for statement in node.body:
                self.visit(statement, inner)
        elif isinstance(node, _COMPREHENSIONS):
            self.visit(node.generators[0].iter, scopes)  # the first iterable is evaluated outside
            inner = scopes + [("comprehension", bindings(g.target for g in node.generators))]
            for i, g in enumerate(node.generators):
                for part in ([g.target] if i == 0 else [g.target, g.iter]) + list(g.ifs):
                    self.visit(part, inner)
            for part in ([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]):
                self.visit(part, inner)
        else:
            for child in ast.iter_child_nodes(node):
                self.visit(child, scopes)

    @staticmethod
    def _global(name: str, scopes: list[tuple[str, set[str]]]) -> bool:
        """Python's rule: the innermost scope, then the enclosing functions (a class body is seen only by its own
        statements), then the module."""
        for depth, (kind, bound) in enumerate(reversed(scopes)):
            if name in bound and (depth == 0 or kind != "class"):
                return False
        return True


def module_refs(tree: ast.Module) -> Refs:
    refs = Refs()
    for statement in tree.body:
        refs.visit(statement, [])
    return refs


# ---- one source file, cut into what the script keeps --------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    """An absolute import of one name, as (module, attr, name): ``import os`` is ("os", None, "os"), ``import
    torch.nn.functional as F`` ("torch.nn.functional", None, "F"), ``from typing import IO`` ("typing", "IO", "IO");
    ``name`` is the name the module's own text binds, ``line(bound)`` the import binding the script's name."""

    module: str
    attr: str | None
    name: str

    def line(self, bound: str) -> str:
        if self.attr is not None:
            return f"from {self.module} import {self.attr}" + (f" as {bound}" if bound != self.attr else "")
        if self.name != self.module.split(".")[0]:  # import x.y as z
            return f"import {self.module} as {bound}"
        if bound == self.name:
            return f"import {self.module}"
        if "." in self.module:  # `import importlib.util` binds importlib, and cannot bind another name
            raise ValueError(f"the training script imports {self.module}, whose name `{self.name}` the model uses; "
                             "rename that block or model")
        return f"import {self.module} as {bound}"


@dataclass
class Source:
    """A module's text, with what the script moves elsewhere: docstring, imports, `if TYPE_CHECKING:` blocks."""

    name: str
    text: str
    tree: ast.Module
    doc: str | None = None
    future: set[str] = field(default_factory=set)
    imports: list[Import] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)  # `from . import data as datasets`: datasets -> data
    siblings: dict[str, tuple[str, str]] = field(default_factory=dict)  # `from .x import a as b`: b -> (x, a)
    dropped: set[int] = field(default_factory=set)  # line numbers (1-based) not copied

    @classmethod
    def read(cls, name: str, text: str) -> Source:
        tree = ast.parse(text)
        src = cls(name, text, tree)
        for i, statement in enumerate(tree.body):
            if i == 0 and isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
                    and isinstance(statement.value.value, str):
                src.doc = inspect.cleandoc(statement.value.value)
            elif isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                src.future.update(a.name for a in statement.names)
            elif isinstance(statement, ast.ImportFrom) and statement.level:
                src._relative(statement)
            elif isinstance(statement, (ast.Import, ast.ImportFrom)):
                src.imports += _imports(statement)
            elif isinstance(statement, ast.If) and _type_checking_only(statement):
                # imports for annotations only: the script imports them at the top
                src.imports += [i for s in statement.body if isinstance(s, (ast.Import, ast.ImportFrom))
                                for i in _imports(s)]
            elif isinstance(statement, ast.Assign) and [ast.unparse(t) for t in statement.targets] == ["__all__"]:
                pass  # a package's public names: nothing in one file
            else:
                continue
            src._drop(statement)
        return src

    def _relative(self, statement: ast.ImportFrom) -> None:
        if statement.level != 1:
            raise _unsupported(statement, "imports from outside agqc/train/core")
        for a in statement.names:
            if statement.module is None:
                self.modules[a.asname or a.name] = a.name
            else:
                self.siblings[a.asname or a.name] = (statement.module, a.name)

    def _drop(self, statement: ast.stmt) -> None:
        lines = range(statement.lineno, (statement.end_lineno or statement.lineno) + 1)
        for other in self.tree.body:  # `import x; y = 1` on one line would lose y
            if other is not statement and (other.lineno in lines or (other.end_lineno or other.lineno) in lines):
                raise _unsupported(statement, "a statement sharing a line with an import")
        self.dropped.update(lines)

    def definitions(self) -> set[str]:
        """The module-level names its own statements define (functions, classes, assignments)."""
        kept = [s for s in self.tree.body if s.lineno not in self.dropped]
        return bindings(kept)

    def public(self) -> set[str]:
        """The names the module offers when imported whole: its public definitions, and the public names it imports
        from a sibling module (a re-export, as data.py's ``from .transforms import transform``)."""
        return {n for n in self.definitions() | set(self.siblings) if not n.startswith("_")}

    def free(self) -> set[str]:
        """The names it uses without defining or importing them: builtins."""
        known = self.definitions() | {i.name for i in self.imports} | set(self.modules) | set(self.siblings)
        return {n.id for n in module_refs(self.tree).names} - known

    def body(self, renames: dict[str, str]) -> str:
        """The module's text less the dropped lines, each module-level name renamed as ``renames`` says; the blank
        lines around a dropped statement are kept to at most two."""
        lines = re.split(r"\r\n|\r|\n", self.text)  # the line breaks ast counts (not splitlines()'s form feeds)
        edits: dict[int, list[tuple[int, int, str]]] = {}
        refs = module_refs(self.tree)
        for node in refs.names:
            if renames.get(node.id, node.id) != node.id:
                edits.setdefault(node.lineno, []).append((node.col_offset, node.end_col_offset or 0,
                                                          renames[node.id]))
        for d in refs.definitions:
            if renames.get(d.name, d.name) != d.name:
                start = _name_column(lines[d.lineno - 1], d)
                edits.setdefault(d.lineno, []).append((start, start + len(d.name.encode()), renames[d.name]))
        for number, changes in edits.items():
            raw = lines[number - 1].encode()  # ast columns count UTF-8 bytes
            for start, end, new in sorted(changes, reverse=True):
                raw = raw[:start] + new.encode() + raw[end:]
            lines[number - 1] = raw.decode()
        out: list[str] = []
        run: list[str] = []  # the blank lines since the last line of text
        dropped_in_run = False
        for number, line in enumerate(lines, 1):
            if number in self.dropped:
                dropped_in_run = True
            elif not line.strip():
                run.append("")
            else:
                out += run[:2] if dropped_in_run else run
                out.append(line)
                run, dropped_in_run = [], False
        return "\n".join(out).strip("\n")


def _imports(statement: ast.Import | ast.ImportFrom) -> list[Import]:
    if isinstance(statement, ast.Import):
        return [Import(a.name, None, a.asname or a.name.split(".")[0]) for a in statement.names]
    return [Import(statement.module or "", a.name, a.asname or a.name) for a in statement.names]


def _type_checking_only(statement: ast.If) -> bool:
    return (isinstance(statement.test, ast.Name)
            and statement.test.id == "TYPE_CHECKING" and not statement.orelse
            and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statement.body))


def _name_column(line: str, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    """The UTF-8 column of a def's or class's name on its line."""
    raw = line.encode()
    match = re.compile(rb"(?:async\s+)?(?:def|class)\s+").match(raw, node.col_offset)
    if match is None or raw[match.end():match.end() + len(node.name.encode())] != node.name.encode():
        raise _unsupported(node, "a definition whose name is not on its `def` line")
    return match.end()


# ---- names: one namespace for every module, and whatever else the file defines -----------------------------------

class Names:
    """Script-level names, first come first served: the model's definitions and imports, then (kept out) every
    builtin any part calls and the caller's ``avoid``, then the runtime's imports (one name per distinct import),
    each runtime module's definitions and namespaces, and main()'s; a name already taken gets ``_`` (then ``_2``,
    ...) added."""

    def __init__(self, taken: Iterable[str]):
        self.taken = set(taken)
        self.imports: dict[Import, str] = {}

    def fresh(self, name: str) -> str:
        out, n = name, 1
        while out in self.taken:
            out = f"{name}_" if n == 1 else f"{name}_{n}"
            n += 1
        self.taken.add(out)
        return out

    def of_import(self, imp: Import) -> str:
        key = Import(imp.module, imp.attr, imp.name)
        if key not in self.imports:
            self.imports[key] = self.fresh(imp.name)
        return self.imports[key]


# ---- linking: each module's names in the one file ---------------------------------------------------------------

def link(sources: list[Source], names: Names) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """For each module, its module-level names -> the file's names (its imports, then its definitions in order,
    then its modules imported whole and names imported from a sibling); and for each module imported whole, the
    name of the namespace object standing for it. ValueError for an import of a module not before it."""
    maps: dict[str, dict[str, str]] = {}
    namespaces: dict[str, str] = {}  # core module -> the name of its namespace object
    for src in sources:
        own = {imp.name: names.of_import(imp) for imp in src.imports}
        for d in sorted(src.definitions(), key=lambda n: _first_line(src.tree, n)):
            own[d] = names.fresh(d)
        for alias, module in src.modules.items():
            if module not in maps:
                raise ValueError(f"core module {src.name} imports {module}, which is not before it in CORE_MODULES")
            if module not in namespaces:
                namespaces[module] = names.fresh(alias)
            own[alias] = namespaces[module]
        for alias, (module, attr) in src.siblings.items():
            if attr not in maps.get(module, {}):
                raise ValueError(f"core module {src.name} imports {attr} from {module}, which does not define it "
                                 "or is not before it in CORE_MODULES")
            own[alias] = maps[module][attr]  # a re-export: the defining module's name
        maps[src.name] = own
    return maps, namespaces


def namespace_attributes(sources: list[Source], namespaces: Iterable[str]) -> dict[str, set[str]]:
    """For each module imported whole, the names used through it (``*``: the module itself is passed around)."""
    used_via: dict[str, set[str]] = {m: set() for m in namespaces}
    for src in sources:
        for name, module in _namespace_uses(src):
            used_via[module].add(name)
    return used_via


def _first_line(tree: ast.Module, name: str) -> int:
    for statement in tree.body:
        if name in bindings([statement]):
            return statement.lineno
    return 0


def _namespace_uses(src: Source) -> Iterator[tuple[str, str]]:
    """(attribute, core module) for each ``alias.attribute`` where alias is a module imported whole."""
    refs = module_refs(src.tree)
    globals_ = {id(n) for n in refs.names}
    whole = set()
    for node in ast.walk(src.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and id(node.value) in globals_ \
                and node.value.id in src.modules:
            whole.add(id(node.value))
            yield node.attr, src.modules[node.value.id]
    for node in refs.names:
        if node.id in src.modules and id(node) not in whole:  # the module itself is passed around: all of it
            yield "*", src.modules[node.id]
