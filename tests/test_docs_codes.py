"""The documentation names what the code has: every diagnostic code, every size limit, every draw option.

Each test reads a table (or an option list) in ``docs/`` and compares it with the
one place the code keeps that fact: ``agqc/errorcodes.py``, ``agqc/policy.py``,
the command-line parser.  A code, limit or option added without its line fails here.
"""
from __future__ import annotations

import argparse
import re

from agqc import cli, policy
from agqc.errorcodes import CODES, Code
from conftest import ROOT


def _section(path, heading: str) -> str:
    """The text under one ``## heading`` of a Markdown page, up to the next heading of that level."""
    text = (ROOT / path).read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def _table(section: str) -> dict[str, list[str]]:
    """Rows of the Markdown tables in a section whose first cell is one `backticked` name: name -> cells."""
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        match = re.fullmatch(r"`([^`]+)`", cells[0]) if cells else None
        if match:
            rows[match.group(1)] = cells[1:]
    return rows


def test_every_diagnostic_code_is_in_the_language_reference_table():
    documented = _table(_section("docs/language.md", "Diagnostics"))
    missing = [code.value for code in Code if code.value not in documented]
    assert not missing, ("docs/language.md's diagnostic table lacks "
                         + ", ".join(f"| `{c}` | {CODES[Code(c)]} |" for c in missing))


def test_the_code_table_names_only_real_codes_each_with_its_description():
    documented = _table(_section("docs/language.md", "Diagnostics"))
    assert documented, "docs/language.md has a diagnostic table"
    unknown = sorted(set(documented) - {c.value for c in Code})
    assert not unknown, f"docs/language.md lists codes agqc does not have: {unknown}"
    differ = {c: cells[0] for c, cells in documented.items() if cells and cells[0] != CODES[Code(c)]}
    assert not differ, f"descriptions differ from agqc/errorcodes.py's CODES: {differ}"


def _limits() -> dict[str, int]:
    return {name: value for name, value in vars(policy).items() if name.isupper() and isinstance(value, int)}


def test_the_security_page_lists_every_limit_in_policy_with_its_value():
    documented = _table(_section("docs/security.md", "Limits"))
    limits = _limits()
    assert len(limits) >= 15
    missing = sorted(set(limits) - set(documented))
    assert not missing, f"docs/security.md's limit table lacks {missing} (agqc/policy.py)"
    wrong = {n: (documented[n][0], f"{v:,}") for n, v in limits.items() if documented[n][0] != f"{v:,}"}
    assert not wrong, f"docs/security.md gives other values than agqc/policy.py: {wrong}"
    stale = sorted(set(documented) - set(limits))
    assert not stale, f"docs/security.md lists limits agqc/policy.py does not have: {stale}"


def test_the_security_page_sends_readers_to_policy_for_the_limits():
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert not re.search(r"limits in\s+`docs/language\.md`", text), "docs/language.md lists no limits"
    assert "`agqc/policy.py`" in _section("docs/security.md", "What is not guaranteed")


def test_the_drawing_page_documents_every_draw_option():
    commands = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    draw = commands.choices["draw"]
    options = [max(a.option_strings, key=len) for a in draw._actions if a.option_strings and a.dest != "help"]
    assert "--block" in options
    text = (ROOT / "docs" / "drawings.md").read_text(encoding="utf-8")
    documented = {cell.split()[0] for cell in re.findall(r"^\| `([^`]+)`", text, flags=re.MULTILINE)}
    missing = [o for o in options if o not in documented and not (o == "--output" and "-o" in documented)]
    assert not missing, f"docs/drawings.md's option table lacks {missing}"
    assert re.search(r"^agqc draw specs/\S+ --block \w+", text, flags=re.MULTILINE), "an example of --block"
