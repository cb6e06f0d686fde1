"""What a spec cannot do: run code, read files outside its import roots, or load pickles.

Each guarantee in docs/security.md has a test here that tries to break it.
"""
from __future__ import annotations

import ast as python_ast
import pickle
import subprocess
import sys

import pytest
import torch

import agqc
from conftest import ROOT

NET = "block N(x: [B, 4]) -> [B, 4] {\n    return x -> linear(4)\n}\nmodel M {\n    network n = N()\n}\n"


def test_a_hostile_file_name_stays_data_in_the_generated_code(tmp_path):
    name = 'a"""\nimport os; os.system("touch PWNED")\n""".agq'
    path = tmp_path / name
    path.write_text(NET)
    spec = agqc.load(path)
    source = spec.emit_python()
    tree = python_ast.parse(source)
    top = [type(node).__name__ for node in tree.body]
    assert set(top) <= {"Expr", "Import", "ImportFrom", "ClassDef", "FunctionDef"}, top
    assert not any(isinstance(n, python_ast.Call) and getattr(n.func, "attr", "") == "system"
                   for n in python_ast.walk(tree))
    spec.build()(torch.randn(2, 4))
    assert not (tmp_path / "PWNED").exists() and not (ROOT / "PWNED").exists()


@pytest.mark.parametrize("comment", [
    '# """\n# import os; os.system("touch PWNED")\n# """\n',
    '# ends in a quote"\n# \\"""\n# import os; os.system("touch PWNED") #\n',
    '# a backslash at the end \\\n# \\N{oops} \\x00 \\u12 and a form feed \x0c and a bell \x07\n',
])
def test_a_hostile_header_comment_stays_data_in_the_docstring(tmp_path, comment):
    path = tmp_path / "spec.agq"
    path.write_text(comment + NET)
    source = agqc.load(path).emit_python()
    tree = python_ast.parse(source)
    top = [type(node).__name__ for node in tree.body]
    assert set(top) <= {"Expr", "Import", "ImportFrom", "ClassDef", "FunctionDef"}, top
    assert top[0] == "Expr" and "Expr" not in top[1:], top  # the docstring, and no other bare expression
    assert not any(isinstance(n, python_ast.Call) and getattr(n.func, "attr", "") == "system"
                   for n in python_ast.walk(tree))
    doc = python_ast.get_docstring(tree)
    assert all(word in doc for word in ("os.system", "oops") if word in comment)  # kept, as text
    agqc.load(path).build()(torch.randn(2, 4))
    assert not (tmp_path / "PWNED").exists() and not (ROOT / "PWNED").exists()


@pytest.mark.parametrize("text", [
    'import "../outside.agq"\n' + NET,
    'import "/etc/passwd"\n' + NET,
    'import "sub/../../outside.agq"\n' + NET,
])
def test_imports_cannot_leave_the_spec_folder(tmp_path, text):
    (tmp_path / "outside.agq").write_text(NET.replace("model M", "model Other"))
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "sub").mkdir()
    spec = inner / "spec.agq"
    spec.write_text(text)
    with pytest.raises(agqc.AgqcError) as info:
        agqc.load(spec)
    assert {d.code for d in info.value.errors} == {"import-outside-root"}


def test_the_language_has_no_way_to_run_python(tmp_path):
    attempts = ['const X = __import__("os")\n', 'const X = eval("1")\n', 'const X = open("/etc/passwd")\n']
    for text in attempts:
        path = tmp_path / "spec.agq"
        path.write_text(text + NET)
        with pytest.raises(agqc.AgqcError):
            agqc.load(path)


class _Exploit:
    def __reduce__(self):
        return (open, (str(ROOT / "PWNED_BY_PICKLE"), "w"))


def test_weights_are_never_unpickled(tmp_path, write_spec):
    bad = tmp_path / "weights.pt"
    with open(bad, "wb") as fh:
        pickle.dump({"n.linear.weight": _Exploit()}, fh)
    result = subprocess.run([sys.executable, "-m", "agqc", "build", str(write_spec(NET)), "--weights", str(bad),
                             "-o", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1 and "cannot load weights" in result.stderr, result.stderr
    assert not (ROOT / "PWNED_BY_PICKLE").exists()
