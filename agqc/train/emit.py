"""`agqc emit --train`: a checked spec with a `train` section -> one standalone, readable training script.

``emit_training_script(spec)`` gives the text of a Python file that needs torch and the standard library only (and
whatever package the dataset ships in, as `agqc train` does) and trains the model exactly as `agqc train` does: the
same seed, the same weights at the start, the same batches, losses and numbers. It holds, in order:

- the model's classes, as `agqc emit` writes them;
- the training runtime, ``agqc/train/core/`` (datafiles, data, objectives, parts, loop), inlined module by module:
  each module's docstring becomes a comment, its imports move to the top of the file (once each), and a module that
  another one imports whole (``from . import data as datasets``) becomes a ``types.SimpleNamespace`` of the names
  used through it, so ``datasets.load(...)`` reads as before;
- ``PLAN``, the checked plan (``TrainPlan.to_json()``) as a Python literal;
- ``main()``: the command line, then what ``agqc.train.session.make_trainer`` does (seed, build, Trainer) and a line
  per epoch.

Every module shares one namespace in the script, so a top-level name the model's classes use (a block called
``Trainer``, say) would clash with the runtime's: such a runtime name is renamed in the script (``Trainer_``), and
only the references that reach the module-level name are changed (scopes are resolved as Python resolves them).
The model's names are never renamed: ``block:Name`` selectors find modules by their class's name.
"""
from __future__ import annotations

import ast
import inspect
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from ..backends.torch_graph import source_name
from ..backends.torch_source import header_comment

if TYPE_CHECKING:
    from ..api import Spec

CORE = Path(__file__).resolve().parent / "core"
CORE_MODULES = ("datafiles", "data", "objectives", "parts", "loop")  # each imports only those before it
CORE_TITLES = {"datafiles": "data files", "data": "datasets, transforms and batches", "objectives": "losses",
               "parts": "initialisation, optimisers, schedules, averages, monitors", "loop": "the training loop"}
WIDTH = 116  # the longest line the emitter makes itself (the core's own lines are as written, up to 120)
GLUE_BUILTINS = {"float", "isinstance", "open", "print", "__name__"}  # what main() calls
SCRIPT_IMPORTS = ("argparse", "copy", "json", "os", "types", "torch")  # what main() and the namespaces use


# ---- scopes: which names in a module's source are its module-level globals ---------------------------------------

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _unsupported(node: ast.AST, what: str) -> NotImplementedError:
    return NotImplementedError(f"line {getattr(node, 'lineno', '?')}: the training-script emitter does not resolve "
                               f"{what}; keep agqc/train/core free of it")


def _bindings(nodes: Iterable[ast.AST]) -> set[str]:
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
class _Refs:
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
            inner = scopes + [("function", {a.arg for a in args} | _bindings(node.body))]
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
            inner = scopes + [("class", _bindings(node.body))]
            for statement in node.body:
                self.visit(statement, inner)
        elif isinstance(node, _COMPREHENSIONS):
            self.visit(node.generators[0].iter, scopes)  # the first iterable is evaluated outside
            inner = scopes + [("comprehension", _bindings(g.target for g in node.generators))]
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


def module_refs(tree: ast.Module) -> _Refs:
    refs = _Refs()
    for statement in tree.body:
        refs.visit(statement, [])
    return refs


# ---- one source file, cut into what the script keeps --------------------------------------------------------------

@dataclass(frozen=True)
class _Import:
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
class _Source:
    """A module's text, with what the script moves elsewhere: docstring, imports, `if TYPE_CHECKING:` blocks."""

    name: str
    text: str
    tree: ast.Module
    doc: str | None = None
    future: set[str] = field(default_factory=set)
    imports: list[_Import] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)  # `from . import data as datasets`: datasets -> data
    siblings: dict[str, tuple[str, str]] = field(default_factory=dict)  # `from .x import a as b`: b -> (x, a)
    dropped: set[int] = field(default_factory=set)  # line numbers (1-based) not copied

    @classmethod
    def read(cls, name: str, text: str) -> _Source:
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
        return _bindings(kept)

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


def _imports(statement: ast.Import | ast.ImportFrom) -> list[_Import]:
    if isinstance(statement, ast.Import):
        return [_Import(a.name, None, a.asname or a.name.split(".")[0]) for a in statement.names]
    return [_Import(statement.module or "", a.name, a.asname or a.name) for a in statement.names]


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


# ---- names: one namespace for the model, the runtime and main() ------------------------------------------------

class _Names:
    """Script-level names, first come first served: the model's definitions and imports, then (kept out) every
    builtin any part calls and the caller's ``avoid``, then the runtime's imports (one name per distinct import),
    each runtime module's definitions and namespaces, and main()'s; a name already taken gets ``_`` (then ``_2``,
    ...) added."""

    def __init__(self, taken: Iterable[str]):
        self.taken = set(taken)
        self.imports: dict[_Import, str] = {}

    def fresh(self, name: str) -> str:
        out, n = name, 1
        while out in self.taken:
            out = f"{name}_" if n == 1 else f"{name}_{n}"
            n += 1
        self.taken.add(out)
        return out

    def of_import(self, imp: _Import) -> str:
        key = _Import(imp.module, imp.attr, imp.name)
        if key not in self.imports:
            self.imports[key] = self.fresh(imp.name)
        return self.imports[key]


# ---- the plan as a Python literal ---------------------------------------------------------------------------------

def python_literal(value: object, indent: int = 0, used: int = 0) -> str:
    """JSON-like data (dicts, lists, str, int, float, bool, None) as Python source: on one line when it fits in
    WIDTH, else one entry a line. ``used``: the columns already taken on the first line."""
    flat = _flat(value)
    if used + len(flat) <= WIDTH or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{_flat(k)}: {python_literal(v, indent + 4, len(pad) + len(_flat(k)) + 2)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + ",\n" + " " * indent + "}"
    items = [pad + python_literal(v, indent + 4, len(pad)) for v in value]
    return "[\n" + ",\n".join(items) + ",\n" + " " * indent + "]"


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'  # inf, -inf, nan have no literal
    if isinstance(value, str):
        quoted = json.dumps(value, ensure_ascii=False)  # double quotes, as the rest of the script
        return quoted if ast.literal_eval(quoted) == value else repr(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"the plan holds a {type(value).__name__}, which the script cannot write: {value!r}")


# ---- the script ---------------------------------------------------------------------------------------------------

def emit_training_script(spec: Spec, *, avoid: Iterable[str] = ()) -> str:
    """The standalone training script of ``spec`` (an ``agqc.api.Spec`` whose model has a `train` section).

    ``avoid``: names the script must not define at module level beyond the model's (tests use it to rename every
    runtime name). ValueError when the model has no `train` section.
    """
    plan = spec.program.train
    if plan is None:
        raise ValueError(f"model {spec.name or '(none)'} in {spec.program.file} has no `train` section, so there is "
                         "no training script to write: add `train { data = ... }` to the model")
    model_source = _Source.read("model", spec.emit_python())
    cores = [_Source.read(m, (CORE / f"{m}.py").read_text(encoding="utf-8")) for m in CORE_MODULES]
    model_class = spec.program.model or "Model"

    names = _Names(model_source.definitions())
    for imp in model_source.imports:
        if names.of_import(imp) != imp.name:
            raise ValueError(f"the model's source binds `{imp.name}` twice")
    # nothing may hide a builtin that any part calls, nor a name the caller keeps for itself
    names.taken |= set(avoid) | GLUE_BUILTINS | model_source.free() | set().union(*(src.free() for src in cores))
    script_imports = [_Import(m, None, m) for m in SCRIPT_IMPORTS]
    for imp in (i for src in cores for i in src.imports):
        names.of_import(imp)
    # each module's module-level names -> script names
    maps: dict[str, dict[str, str]] = {}
    namespaces: dict[str, str] = {}  # core module -> the name of its namespace object
    for src in cores:
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
            own[alias] = maps[module][attr]
        maps[src.name] = own
    script = {i.name: names.of_import(i) for i in script_imports}
    script |= {n: names.fresh(n) for n in ("PLAN", "main", "print_epoch", "save_weights")}

    sections = [_section("The model, as `agqc emit` writes it", None, model_source.body({}))]
    used_via: dict[str, set[str]] = {m: set() for m in namespaces}
    for src in cores:
        for name, module in _namespace_uses(src):
            used_via[module].add(name)
    for src in cores:
        text = src.body(maps[src.name])
        if src.name in namespaces:
            text += "\n\n\n" + _namespace(namespaces[src.name], src, maps[src.name], used_via[src.name],
                                          script["types"], [s.name for s in cores if src.name in s.modules.values()])
        sections.append(_section(f"agqc/train/core/{src.name}.py: {CORE_TITLES.get(src.name, src.name)}", src.doc,
                                 text))
    plan_json = json.loads(json.dumps(plan.to_json()))  # what options.json holds: plain lists, str enums as str
    sections.append(_section("The plan: `train` of " + source_name(spec.program.file) + ", checked and resolved",
                             "Every default filled in. main() changes only `epochs` (every stage) and `seed`.",
                             f"{script['PLAN']} = {python_literal(plan_json, 0, len(script['PLAN']) + 3)}"))
    trainer = maps["loop"].get("Trainer")
    if trainer is None:
        raise ValueError("agqc/train/core/loop.py defines no Trainer")
    sections.append(_main(script, model_class, trainer, spec, plan_json))

    body = "\n\n\n".join(sections) + "\n"
    used = {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
    futures = sorted(set().union(*(s.future for s in [model_source, *cores])))
    head = _docstring(spec, plan_json) + ("\n".join(f"from __future__ import {f}" for f in futures) + "\n\n"
                                          if futures else "")
    head += _import_block({**names.imports, **{i: script[i.name] for i in script_imports}}, used)
    text = head + "\n\n" + body
    compile(text, "<agqc training script>", "exec")  # a bug here must not reach a file
    return text


def _first_line(tree: ast.Module, name: str) -> int:
    for statement in tree.body:
        if name in _bindings([statement]):
            return statement.lineno
    return 0


def _namespace_uses(src: _Source) -> Iterator[tuple[str, str]]:
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


def _namespace(name: str, src: _Source, renames: dict[str, str], attrs: set[str], types_name: str,
               users: list[str]) -> str:
    public = sorted(d for d in src.definitions() if not d.startswith("_"))
    wanted = public if "*" in attrs else sorted(attrs)
    missing = [a for a in wanted if a not in renames]
    if missing:
        raise ValueError(f"{', '.join(users)} use {', '.join(missing)} from core module {src.name}, which does not "
                         "define them")
    head = f"{name} = {types_name}.SimpleNamespace("
    args = [f"{a}={renames[a]}" for a in wanted]
    lines, line = [], head
    for i, arg in enumerate(args):
        piece = arg + (")" if i == len(args) - 1 else ",")
        if len(line) + len(piece) + 1 > WIDTH and line != head:
            lines.append(line.rstrip())
            line = " " * len(head)
        line += piece + " "
    lines.append(line.rstrip() if args else head + ")")
    module_list = " and ".join(f"{u}.py" for u in users)
    return (f"# {module_list} {'calls' if len(users) == 1 else 'call'} these as {name}.<name>, as if {src.name}.py "
            "were imported\n" + "\n".join(lines))


def _section(title: str, doc: str | None, text: str) -> str:
    rule = "# " + "-" * (WIDTH - 2)
    comment = [rule, f"# {title}"]
    if doc:
        comment += ["#"] + [f"# {line}".rstrip() for line in doc.splitlines()]
    return "\n".join(comment + [rule]) + "\n\n" + text


def _docstring(spec: Spec, plan_json: dict) -> str:
    file = source_name(spec.program.file)
    model = spec.program.model or "Model"
    about = header_comment(spec.program.sources.get(spec.program.file, ""))
    stages = plan_json["stages"]
    epochs = sum(s["epochs"] for s in stages)
    lines = [f"{model}: a training script generated by agqc from {file}; edit the spec and re-emit.", ""]
    if about:
        lines += about + [""]
    lines += [
        f"It trains model {model} as `agqc train {file}` does ({len(stages)} stage{'s' * (len(stages) != 1)}, "
        f"{epochs} epoch{'s' * (epochs != 1)}, seed {plan_json['seed']}):",
        "the same initial weights, batches and noise, so the same losses and the same trained weights.",
        "It needs torch and the standard library only (and the package the dataset ships in, if any).",
        "",
        f"    python {Path(file).stem}_train.py [--epochs N] [--seed N] [--device cpu] [-o FOLDER]",
        "",
        "Below: the model's classes (as `agqc emit` writes them), agqc's training runtime (agqc/train/core),",
        "the checked plan (PLAN) and main(). Generated code: edit the spec and run `agqc emit --train` again.",
    ]
    return '"""' + "\n".join(lines) + '\n"""\n'


def _import_block(imports: dict[_Import, str], used: set[str]) -> str:
    """The imports whose names the script uses: standard library, then the rest (torch), each sorted."""
    groups: dict[bool, dict[str, list[str]]] = {True: {}, False: {}}
    for imp, bound in imports.items():
        if bound not in used:
            continue
        top = imp.module.split(".")[0]
        group = groups[top in sys.stdlib_module_names]
        if imp.attr is None:
            group.setdefault(f"0 {imp.module}", []).append(imp.line(bound))
        else:
            group.setdefault(f"1 {imp.module}", []).append(imp.line(bound).split(" import ", 1)[1])
    blocks = []
    for stdlib in (True, False):
        lines = []
        for key in sorted(groups[stdlib]):
            kind, module = key.split(" ", 1)
            if kind == "0":
                lines += sorted(set(groups[stdlib][key]))
            else:
                lines.append(f"from {module} import {', '.join(sorted(set(groups[stdlib][key])))}")
        if lines:
            blocks.append("\n".join(sorted(lines, key=lambda s: (s.startswith("from"), s))))
    return "\n\n".join(blocks) + "\n"


def _main(n: dict[str, str], model_class: str, trainer: str, spec: Spec, plan_json: dict) -> str:
    """main(): what `agqc train` does, from the command line; ``n`` maps each script-level name to its name here."""
    file = source_name(spec.program.file)
    seed = plan_json["seed"]
    text = f'''
def {n["print_epoch"]}(trainer, row):
    """One line per epoch, as `agqc train` prints it."""
    shown = "  ".join(f"{{k}} {{v:.4g}}" if isinstance(v, float) else f"{{k}} {{v}}" for k, v in row.items()
                      if k not in ("epoch", "stage") and not k.startswith("dead "))
    print(f"epoch {{row['epoch']}} ({{row['stage']}})  {{shown}}", flush=True)


def {n["save_weights"]}(trainer, folder):
    """The trained weights, with the averaged ones where the plan keeps averages (what val_ measured)."""
    for average in trainer.averages.values():
        average.swap()
    try:  # each tensor its own copy: safetensors refuses tensors sharing memory (tied weights)
        tensors = {{k: v.detach().to("cpu").clone().contiguous() for k, v in trainer.model.state_dict().items()}}
    finally:
        for average in trainer.averages.values():
            average.swap()
    try:
        from safetensors.torch import save_file
    except ImportError:
        path = {n["os"]}.path.join(folder, "weights.pt")
        {n["torch"]}.save(tensors, path)
    else:
        path = {n["os"]}.path.join(folder, "weights.safetensors")
        save_file(tensors, path)
    return path


def {n["main"]}(argv=None):
    parser = {n["argparse"]}.ArgumentParser(description="Train {model_class} as `agqc train {file}` does.")
    parser.add_argument("--epochs", type=int, help="epochs for every stage (default: the spec's)")
    parser.add_argument("--seed", type=int, help="the seed of weights, batches and noise (default: {seed})")
    parser.add_argument("--device", default="cpu", help="where to train: cpu, cuda, mps ... (default: cpu)")
    parser.add_argument("-o", "--out", help="a folder for the trained weights (weights.safetensors, or weights.pt "
                        "without safetensors) and history.json")
    args = parser.parse_args(argv)
    plan = {n["copy"]}.deepcopy({n["PLAN"]})
    if args.epochs is not None:
        for stage in plan["stages"]:
            stage["epochs"] = args.epochs
    if args.seed is not None:
        plan["seed"] = args.seed
    # The order agqc follows: seed, build the model (its initial weights come from the seed), then the trainer.
    {n["torch"]}.manual_seed(plan["seed"])
    model = {model_class}().to(args.device)
    trainer = {trainer}(model, plan, device=args.device)
    history = trainer.run(on_epoch={n["print_epoch"]})
    print("history (one JSON object per epoch):")
    for row in history:
        print({n["json"]}.dumps(row))
    if args.out:
        {n["os"]}.makedirs(args.out, exist_ok=True)
        with open({n["os"]}.path.join(args.out, "history.json"), "w") as f:
            {n["json"]}.dump(history, f, indent=1)
        print("wrote", {n["save_weights"]}(trainer, args.out), "and", {n["os"]}.path.join(args.out, "history.json"))


if __name__ == "__main__":
    {n["main"]}()
'''.strip("\n")
    if model_class in {"parser", "args", "plan", "stage", "model", "trainer", "history", "row", "f", "argv",
                       "average", "tensors", "path", "folder", "save_file", "shown", "k", "v"}:
        raise ValueError(f"a model named {model_class} would be hidden by a variable of the training script's "
                         "main(); rename the model")
    return _section("main(): the command line, then what `agqc train` does", None, text)
