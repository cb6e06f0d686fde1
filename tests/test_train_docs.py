"""docs/training.md agrees with the training registries it documents.

Its reference tables are generated (``python -m agqc.train.doc_tables``); this fails
when a setting, objective, optimiser, schedule, dataset, transform or augmentation is
added, removed or redescribed without regenerating them, and when one of the
lecture's twelve stability techniques has no line that turns it on.
"""
from __future__ import annotations

import re

from agqc.train import doc_tables
from agqc.train.options import SETTINGS, TECHNIQUE_OPS, TECHNIQUES


def test_the_generated_tables_are_up_to_date():
    text = doc_tables.DOC.read_text(encoding="utf-8")
    assert set(re.findall(r"<!-- table: (\w+) -->", text)) == set(doc_tables.tables()), "a table is missing"
    assert doc_tables.update(text) == text, "run `python -m agqc.train.doc_tables` to regenerate docs/training.md"


def test_every_stability_technique_is_one_setting_or_op():
    by_setting = {s.technique for s in SETTINGS.values() if s.technique}
    by_op = {n for n, _, _ in TECHNIQUE_OPS}
    assert by_setting | by_op == set(TECHNIQUES) == set(range(1, 13))
    assert not by_setting & by_op
    table = doc_tables.tables()["techniques"]
    for n, name in TECHNIQUES.items():
        assert f"| {n} | {name} |" in table
