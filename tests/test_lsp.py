"""``agqc lsp`` driven by a real LSP client over stdio (pygls's ``LanguageClient``; ``agqc.lsp.client``).

Each test starts ``python -m agqc lsp``, opens specs (often with an unsaved buffer that differs from
the file on disk) and checks what comes back: diagnostics with agqc's codes and spans, hover, go to
definition into the standard library, document symbols, completion, formatting and quick fixes.
"""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs pygls: pip install 'agqc[lsp]'")

from lsprotocol import types as lsp  # noqa: E402

from agqc.fmt import format_source  # noqa: E402
from agqc.lsp.client import Session  # noqa: E402
from agqc.lsp.convert import uri_of  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
STDLIB = ROOT / "agqc" / "stdlib"
DNN = (SPECS / "dnn_classifier.agq").read_text()


def run(scenario) -> None:
    asyncio.run(scenario())


def line_of(text: str, needle: str) -> int:
    """The 0-based line holding ``needle`` (the first)."""
    return next(i for i, line in enumerate(text.split("\n")) if needle in line)


def apply(text: str, edit: lsp.TextEdit) -> str:
    lines = text.split("\n")
    r = edit.range
    head = "\n".join(lines[:r.start.line] + [lines[r.start.line][:r.start.character]])
    tail_line = lines[r.end.line] if r.end.line < len(lines) else ""
    tail = "\n".join([tail_line[r.end.character:]] + lines[r.end.line + 1:])
    return head + edit.new_text + tail


def test_diagnostics_come_from_the_buffer_and_clear_when_fixed(tmp_path: Path) -> None:
    spec = tmp_path / "dnn.agq"
    spec.write_text(DNN)  # the file on disk is correct: only the buffer is broken
    broken = DNN.replace("linear(512)", "lineer(512)")
    row = line_of(broken, "lineer(512)")

    async def scenario() -> None:
        async with Session() as s:
            uri = s.open(spec, broken)
            found = await s.diagnostics(uri)
            assert [(d.code, d.range.start.line, d.range.start.character) for d in found] == \
                [("unknown-op", row, broken.split("\n")[row].index("lineer"))]
            d = found[0]
            assert d.severity == lsp.DiagnosticSeverity.Error and d.source == "agqc"
            assert d.range.end.character - d.range.start.character == len("lineer")
            assert "unknown op or block `lineer`" in d.message and "did you mean `linear`?" in d.message
            # the trail note points at the network's declaration, as a related place
            assert d.related_information and d.related_information[0].location.uri == uri
            assert d.related_information[0].location.range.start.line == line_of(broken, "classifier net")

            version = s.change(uri, DNN)
            assert await s.diagnostics(uri, version) == []

            unused = DNN.replace("    logits = h", "    spare = h -> relu()\n    logits = h")
            version = s.change(uri, unused)
            (warning,) = await s.diagnostics(uri, version)
            assert (warning.code, warning.severity) == ("unused-value", lsp.DiagnosticSeverity.Warning)
            assert warning.range.start.line == line_of(unused, "spare =")

    run(scenario)


def test_imports_read_sibling_files_and_buffers_and_relate_library_errors(tmp_path: Path) -> None:
    (tmp_path / "lib.agq").write_text("block Fold(x: [B, D], k) -> [B, 4, k] {\n    return x -> reshape(4, k)\n}\n")
    main = tmp_path / "main.agq"
    main.write_text('import "lib.agq"\n\nmodel M {\n    encoder net = Fold(k=5)\n    input x: [B, 16]\n'
                    '    return x -> net()\n}\n')
    for name in ("cnn_tf_best.agq", "cnn_tf_scratch.agq"):
        shutil.copy(SPECS / name, tmp_path / name)
    best = (tmp_path / "cnn_tf_best.agq").read_text()

    async def scenario() -> None:
        async with Session() as s:
            uri = s.open(main)
            here = await s.diagnostics(uri)
            lib = await s.diagnostics(uri_of(str(tmp_path / "lib.agq")))
            assert [(d.code, d.range.start.line, d.range.start.character) for d in lib] == \
                [("shape-mismatch", 1, 16)]
            assert "in Fold, as network `net` declared at" in lib[0].message
            # shown in the checked file too, at the declaration that led into lib.agq, related to the real place
            (call,) = here
            assert (call.code, call.range.start.line, call.range.start.character) == ("shape-mismatch", 3, 18)
            assert "lib.agq:2:17" in call.message
            assert call.related_information[0].location.uri == uri_of(str(tmp_path / "lib.agq"))

            scratch = s.open(tmp_path / "cnn_tf_scratch.agq")  # imports "cnn_tf_best.agq", its sibling
            assert await s.diagnostics(scratch) == []
            # an unsaved edit of the sibling is what the importer sees: its block is gone
            s.open(tmp_path / "cnn_tf_best.agq", best.replace("block ConvEncoder(", "block ConvEncoderX("))
            while not (found := await s.diagnostics(scratch)):
                pass
            assert "unknown-op" in {d.code for d in found}
            assert any("`ConvEncoder`" in d.message and "ConvEncoderX" in d.message for d in found)

    run(scenario)


def test_hover_shows_shapes_precision_parameters_and_op_signature() -> None:
    lines = DNN.split("\n")

    async def scenario() -> None:
        async with Session() as s:
            uri = s.open(SPECS / "dnn_classifier.agq")
            assert await s.diagnostics(uri) == []
            row = line_of(DNN, "linear(512)")
            text = await s.hover(uri, row, lines[row].index("linear(512)") + 2)
            assert "`[B, 512]` (float)" in text and "@fp32" in text and "401,920 parameters" in text
            assert "linear(x, out: int, bias: bool = True" in text and "fully connected" in text
            row = line_of(DNN, "@bf16 h = h")
            used = await s.hover(uri, row, lines[row].index("= h") + 2)  # h as read: the first layer's output
            assert "`[B, 512]`" in used and "@fp32" in used
            made = await s.hover(uri, row, lines[row].index("h ="))  # h as assigned: in bf16 now
            assert "`[B, 256]`" in made and "@bf16" in made
            row = line_of(DNN, "classifier net")
            block = await s.hover(uri, row, lines[row].index("MLP"))
            assert "block MLP(x: [B, 1, 28, 28], drop = 0.2) -> [B, CLASSES]" in block and "[B, 10]" in block
            assert await s.hover(uri, 0, 0) is None  # a comment

    run(scenario)


def test_definition_into_the_standard_library_and_document_symbols() -> None:
    gpt2 = (SPECS / "gpt2.agq").read_text()
    lines = gpt2.split("\n")
    transformer = (STDLIB / "transformer.agq").read_text()

    async def scenario() -> None:
        async with Session() as s:
            uri = s.open(SPECS / "gpt2.agq")
            assert await s.diagnostics(uri) == []
            row = line_of(gpt2, "GPT2Block(x")
            (loc,) = await s.definition(uri, row, lines[row].index("GPT2Block") + 1)
            assert loc.uri == uri_of(str(STDLIB / "transformer.agq"))
            assert loc.range.start.line == line_of(transformer, "block GPT2Block(")
            (loc,) = await s.definition(uri, line_of(gpt2, "import std.transformer"), 10)
            assert loc.uri == uri_of(str(STDLIB / "transformer.agq"))
            row = line_of(gpt2, "repeat LAYERS")
            (loc,) = await s.definition(uri, row, lines[row].index("LAYERS"))
            assert (loc.uri, loc.range.start.line) == (uri, line_of(gpt2, "const LAYERS"))
            outline = {sym.name: sym for sym in await s.symbols(uri)}
            assert {"std.transformer", "VOCAB", "LAYERS", "GPT2", "GPT2Small"} <= set(outline)
            assert outline["GPT2"].kind == lsp.SymbolKind.Function
            assert [c.name for c in outline["GPT2Small"].children] == ["lm"]

    run(scenario)


def test_completion_formatting_and_quick_fix(tmp_path: Path) -> None:
    spec = tmp_path / "dnn.agq"
    spec.write_text(DNN)
    messy = DNN.replace("const CLASSES = 10", "const   CLASSES=10").replace("h -> linear(256)", "h->linear( 256 )")
    broken = DNN.replace("dropout(drop)\n", "dropout(drp)\n", 1)

    async def scenario() -> None:
        async with Session() as s:
            uri = s.open(spec, messy)
            assert await s.diagnostics(uri) == []
            items = {i.label: i for i in await s.complete(uri, line_of(DNN, "logits = h"), 4)}
            assert {"linear", "conv2d", "MLP", "CLASSES", "classifier", "repeat"} <= set(items)
            assert items["linear"].insert_text == "linear(${1:out})$0"
            assert items["linear"].detail.startswith("linear(x, out: int")
            at = DNN.split("\n")[line_of(DNN, "@bf16")].index("@") + 1
            precisions = {i.label for i in await s.complete(uri, line_of(DNN, "@bf16"), at)}
            assert {"fp32", "bf16", "int8", "binary"} <= precisions and "linear" not in precisions

            (edit,) = await s.format(uri)
            assert apply(messy, edit) == format_source(messy, str(spec)) == DNN
            version = s.change(uri, DNN)
            await s.diagnostics(uri, version)
            assert await s.format(uri) == []

            version = s.change(uri, broken)
            (d,) = await s.diagnostics(uri, version)
            assert d.code == "unknown-name"
            (fix,) = await s.actions(uri, d)
            assert fix.kind == lsp.CodeActionKind.QuickFix and fix.title == "Replace `drp` with `drop`"
            (change,) = fix.edit.changes[uri]
            fixed = apply(broken, change)
            assert fixed == DNN
            version = s.change(uri, fixed)
            assert await s.diagnostics(uri, version) == []

    run(scenario)


def test_buffers_and_cached_parses_give_agqc_checks_diagnostics() -> None:
    """The server checks buffers with a cache of parsed files: the same diagnostics as ``agqc check``, every time."""
    from agqc.diagnostics import AgqcError
    from agqc.frontend import check
    from agqc.lsp.analysis import analyse

    def checked(path: Path) -> list:
        try:
            return check(path).diagnostics
        except AgqcError as err:
            return err.diagnostics

    cache: dict = {}
    paths = sorted((ROOT / "tests" / "broken").glob("*.agq")) + [SPECS / "cnn_tf_scratch.agq", SPECS / "gpt2.agq"]
    for path in paths:
        path = path.resolve()
        expected = checked(path)
        for _ in range(2):  # the second time, every file comes from the cache
            assert analyse(path, path.read_text(), parsed=cache).diagnostics == expected, path.name
    assert cache


def test_textmate_grammar_names_every_op_and_compiles() -> None:
    """docs/editors/agq.tmLanguage.json highlights the registry's ops: a new op is added to its `op` pattern."""
    import json
    import re

    from agqc.ops.registry import all_ops

    grammar = json.loads((ROOT / "docs" / "editors" / "agq.tmLanguage.json").read_text())
    op = grammar["repository"]["op"]["match"]
    names = op[len("\\b("):op.index(")")].split("|")
    assert sorted(names) == sorted(all_ops())
    assert grammar["scopeName"] == "source.agq"

    def patterns(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("match", "begin", "end"):
                    yield value
                else:
                    yield from patterns(value)
        elif isinstance(node, list):
            for item in node:
                yield from patterns(item)

    compiled = [re.compile(p) for p in patterns(grammar)]
    assert len(compiled) > 10
    assert re.search(op, "h = x -> linear(512)") and not re.search(op, "x -> linears(5)")
