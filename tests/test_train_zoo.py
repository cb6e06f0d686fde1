"""Every shipped spec with a train section trains: its own plan, cut to two steps a stage.

The plan is the spec's as checked (data, objective, optimisers, stages, techniques);
only the length changes, so a recipe that cannot run fails here, not in a lecture.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import agqc
from agqc.train.session import make_trainer

ROOT = Path(__file__).resolve().parent.parent
TRAINED = [p for p in sorted((ROOT / "specs").glob("*.agq")) if "    train {" in p.read_text()]


def test_the_zoo_has_train_sections():
    assert len(TRAINED) >= 8, [p.name for p in TRAINED]


@pytest.mark.parametrize("path", TRAINED, ids=lambda p: p.stem)
def test_shipped_recipe_runs(path):
    spec = agqc.load(path)
    plan = spec.program.train
    short = replace(plan, stages=tuple(replace(s, epochs=1, steps=2) for s in plan.stages))
    trainer = make_trainer(spec, short)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    history = trainer.run()
    assert len(history) == len(plan.stages)
    assert all(math.isfinite(v) for row in history for k, v in row.items() if isinstance(v, float)), history
    after = trainer.model.state_dict()
    for stage in plan.stages:
        for net in stage.trained:
            assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net + ".")), (
                f"{net} did not change in {path.name}")
