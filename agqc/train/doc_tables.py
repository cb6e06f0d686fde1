"""docs/training.md's reference tables, generated from the training registries.

``tables()`` gives each table's markdown by name (settings, techniques, objectives,
optimizers, schedules, datasets, transforms, augmentations, ...); ``update(text)`` puts
each between its ``<!-- table: NAME -->`` and ``<!-- end -->`` markers.  Run
``python -m agqc.train.doc_tables`` to rewrite the file; tests/test_train_docs.py fails
when the file and the registries disagree.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from .core import data as datasets
from .options import (
    CLIPS,
    GENERATED,
    INITS,
    METRICS,
    MONITORS,
    OBJECTIVES,
    OPTIMIZERS,
    REGULARIZERS,
    SCHEDULES,
    SETTINGS,
    TECHNIQUE_OPS,
    TECHNIQUES,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"
_MARKED = re.compile(r"(<!-- table: (\w+) -->\n)(.*?)(<!-- end -->)", re.S)


def _signature(params) -> str:
    shown = []
    for p in params:
        if p.default is datasets.REQUIRED:
            shown.append(p.name)
        else:
            default = p.default
            text = f'"{default}"' if isinstance(default, str) else str(default).lower() if isinstance(
                default, bool) else f"{default:g}" if isinstance(default, float) else str(default)
            shown.append(f"{p.name}={text}")
    return ", ".join(shown)


def _calls(registry) -> str:
    rows = ["| call | what it does |", "|---|---|"]
    rows += [f"| `{e.name}({_signature(e.params)})` | {e.doc} |" for e in registry.values()]
    return "\n".join(rows)


def _settings() -> str:
    rows = ["| setting | per network / stage | value | what it does |", "|---|---|---|---|"]
    for s in SETTINGS.values():
        target = {"none": "", "network": "`KEY net = ...`", "module": "`KEY layer = ...`",
                  "input": "`KEY input = ...` (required)"}[s.target.value].replace("KEY", s.key)
        where = ", ".join(filter(None, [target, "not in a stage" if not s.per_stage else ""]))
        rows.append(f"| `{s.key}` | {where} | {s.value.value} | {s.doc} |")
    return "\n".join(rows)


def _techniques() -> str:
    rows = ["| # | technique (lecture 4) | turned on by |", "|---|---|---|"]
    by_number = {s.technique: f"`{s.key} = ...` in the train section" for s in SETTINGS.values() if s.technique}
    by_number.update({n: f"the op `{op}` in a block" for n, _, op in TECHNIQUE_OPS})
    extra = {6: "; real plus generated data: `augment = generated(spec=..., weights=...)` mixes a trained cGAN's "
                "images into each batch (and a GAN's D sees real and generated images every step)",
             9: " (sgd, adam, adamw, rmsprop)"}
    for n, name in sorted(TECHNIQUES.items()):
        rows.append(f"| {n} | {name} | {by_number[n]}{extra.get(n, '')} |")
    return "\n".join(rows)


def _objectives() -> str:
    rows = ["| objective | needs | loss |", "|---|---|---|"]
    rows += [f"| `{o.name}({_signature(o.params)})` | {o.needs} | {o.doc} |" for o in OBJECTIVES.values()]
    return "\n".join(rows)


def _datasets() -> str:
    rows = ["| dataset | fields per example | what and where from |", "|---|---|---|"]
    for d in datasets.DATASETS.values():
        rows.append(f"| `{d.name}({_signature(d.params)})` | {_fields(d)} | {d.doc} ({d.licence}) |")
    return "\n".join(rows)


def _fields(d) -> str:
    try:
        described = d.describe({})
    except (datasets.DataMissing, ValueError, TypeError):  # a file the user names: its arrays decide
        return "from the file"
    return ", ".join(f"`{name}` {'int' if f.dtype == 'int' else ''}{list(f.shape)}" for name, f in described.items())


def tables() -> dict[str, str]:
    return {"settings": _settings(), "techniques": _techniques(), "objectives": _objectives(),
            "optimizers": _calls(OPTIMIZERS), "schedules": _calls(SCHEDULES), "inits": _calls(INITS),
            "clips": _calls(CLIPS), "regularizers": _calls(REGULARIZERS), "early_stop": _calls(METRICS),
            "monitors": _calls(MONITORS), "datasets": _datasets(), "transforms": _calls(datasets.TRANSFORMS),
            "augmentations": _calls({**datasets.AUGMENTATIONS, "generated": GENERATED})}


def update(text: str) -> str:
    made = tables()
    return _MARKED.sub(lambda m: m[1] + made[m[2]] + "\n" + m[4], text)


if __name__ == "__main__":
    DOC.write_text(update(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"updated {DOC}\n")
