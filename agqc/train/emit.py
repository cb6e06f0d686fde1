"""`agqc emit --train`: a checked spec with a `train` section -> one standalone, readable training script.

``emit_training_script(spec)`` gives the text of a Python file that needs torch and the standard library only (and
whatever package the dataset ships in, as `agqc train` does) and trains the model exactly as `agqc train` does: the
same seed, the same weights at the start, the same batches, losses and numbers. It holds, in order:

- the model's classes, as `agqc emit` writes them;
- the training runtime, ``agqc/train/core/`` (datafiles, schema, transforms, data, objectives, parts, loop),
  inlined module by module (agqc/train/inline.py): each module's docstring becomes a comment, its imports move to
  the top of the file (once each), a name it imports from another (``from .transforms import transform``, which
  data.py re-exports) is that module's name, and a module that another one imports whole (``from . import data as
  datasets``) becomes a ``types.SimpleNamespace`` of the names used through it, so ``datasets.load(...)`` reads as
  before;
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
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..backends.torch_graph import source_name
from ..backends.torch_source import header_comment
from .inline import Import, Names, link, namespace_attributes
from .inline import Source as _Source
from .inline import bindings as _bindings  # noqa: F401 -- tests/test_train_emit.py reads it from here

if TYPE_CHECKING:
    from ..api import Spec

CORE = Path(__file__).resolve().parent / "core"
# in order: each imports only those before it
CORE_MODULES = ("datafiles", "schema", "transforms", "data", "objectives", "parts", "loop")
CORE_TITLES = {"datafiles": "data files", "schema": "fields and parameters",
               "transforms": "transforms and augmentations", "data": "datasets and batches", "objectives": "losses",
               "parts": "initialisation, optimisers, schedules, averages, monitors", "loop": "the training loop"}
WIDTH = 116  # the longest line the emitter makes itself (the core's own lines are as written, up to 120)
GLUE_BUILTINS = {"float", "isinstance", "open", "print", "__name__"}  # what main() calls
SCRIPT_IMPORTS = ("argparse", "copy", "json", "os", "types", "torch")  # what main() and the namespaces use


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
    if any(a.name == "generated" for stage in plan.stages for a in stage.augment):
        raise ValueError(f"model {spec.name} mixes in images from another spec's generator (`generated(...)`), "
                         "which a standalone script cannot build: train it with `agqc train`")
    model_source = _Source.read("model", spec.emit_python())
    cores = [_Source.read(m, (CORE / f"{m}.py").read_text(encoding="utf-8")) for m in CORE_MODULES]
    model_class = spec.program.model or "Model"

    names = Names(model_source.definitions())
    for imp in model_source.imports:
        if names.of_import(imp) != imp.name:
            raise ValueError(f"the model's source binds `{imp.name}` twice")
    # nothing may hide a builtin that any part calls, nor a name the caller keeps for itself
    names.taken |= set(avoid) | GLUE_BUILTINS | model_source.free() | set().union(*(src.free() for src in cores))
    script_imports = [Import(m, None, m) for m in SCRIPT_IMPORTS]
    for imp in (i for src in cores for i in src.imports):
        names.of_import(imp)
    maps, namespaces = link(cores, names)  # each module's module-level names -> script names
    script = {i.name: names.of_import(i) for i in script_imports}
    script |= {n: names.fresh(n) for n in ("PLAN", "main", "print_epoch", "save_weights")}

    sections = [_section("The model, as `agqc emit` writes it", None, model_source.body({}))]
    used_via = namespace_attributes(cores, namespaces)
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


def _namespace(name: str, src: _Source, renames: dict[str, str], attrs: set[str], types_name: str,
               users: list[str]) -> str:
    public = sorted(src.public())  # the module passed around whole: all it offers
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


def _import_block(imports: dict[Import, str], used: set[str]) -> str:
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
