"""A small LSP client for ``agqc lsp``, over stdio: what the tests, the latency benchmark and a
student trying the server by hand drive it with.

Takes nothing but the spec files to open; gives ``Session``, an async context manager that starts
``python -m agqc lsp`` as a subprocess through pygls's ``LanguageClient``, initialises it, and offers
``open``/``change`` (full text), ``diagnostics`` (waits for the next publication for a URI), and the
requests (``hover``, ``definition``, ``symbols``, ``complete``, ``format``, ``actions``), each with
0-based positions as LSP has them.  ``log`` keeps every publication received, in order.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from .convert import uri_of

TIMEOUT = 30.0  # seconds any one answer may take (the first check imports the checker)


class Session:
    """One server process and the client talking to it."""

    def __init__(self, cwd: str | Path | None = None) -> None:
        self.cwd = str(cwd) if cwd is not None else None
        self.client = LanguageClient("agqc-client", "0")
        self.queues: dict[str, asyncio.Queue[lsp.PublishDiagnosticsParams]] = {}
        self.log: list[lsp.PublishDiagnosticsParams] = []
        self.versions: dict[str, int] = {}

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: lsp.PublishDiagnosticsParams) -> None:
            self.log.append(params)
            self._queue(params.uri).put_nowait(params)

    def _queue(self, uri: str) -> asyncio.Queue:
        return self.queues.setdefault(uri, asyncio.Queue())

    async def __aenter__(self) -> "Session":
        await self.client.start_io(sys.executable, "-m", "agqc", "lsp", cwd=self.cwd)
        await self.client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(),
                                                                process_id=None, root_uri=None))
        self.client.initialized(lsp.InitializedParams())
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), TIMEOUT)
            self.client.exit(None)
        finally:
            await self.client.stop()

    def open(self, path: str | Path, text: str | None = None) -> str:
        """Open a spec (with ``text`` as its unsaved buffer, or the file's); returns its URI."""
        uri = uri_of(str(path))
        self.versions[uri] = 1
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
            uri=uri, language_id="agq", version=1, text=Path(path).read_text() if text is None else text)))
        return uri

    def change(self, uri: str, text: str) -> int:
        """Replace the buffer's whole text; returns the new version."""
        self.versions[uri] += 1
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            [lsp.TextDocumentContentChangeWholeDocument(text=text)]))
        return self.versions[uri]

    async def diagnostics(self, uri: str, version: int | None = None) -> list[lsp.Diagnostic]:
        """The next diagnostics published for ``uri`` (for ``version`` of it, when given)."""
        while True:
            params = await asyncio.wait_for(self._queue(uri).get(), TIMEOUT)
            if version is None or params.version in (None, version):
                return list(params.diagnostics)

    def _doc(self, uri: str) -> lsp.TextDocumentIdentifier:
        return lsp.TextDocumentIdentifier(uri=uri)

    async def hover(self, uri: str, line: int, character: int) -> str | None:
        result = await asyncio.wait_for(self.client.text_document_hover_async(
            lsp.HoverParams(self._doc(uri), lsp.Position(line, character))), TIMEOUT)
        return result.contents.value if result is not None else None  # type: ignore[union-attr]

    async def definition(self, uri: str, line: int, character: int) -> list[lsp.Location]:
        result = await asyncio.wait_for(self.client.text_document_definition_async(
            lsp.DefinitionParams(self._doc(uri), lsp.Position(line, character))), TIMEOUT)
        if result is None:
            return []
        return list(result) if isinstance(result, list) else [result]  # type: ignore[list-item]

    async def symbols(self, uri: str) -> list[Any]:
        return list(await asyncio.wait_for(self.client.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(self._doc(uri))), TIMEOUT) or [])

    async def complete(self, uri: str, line: int, character: int) -> list[lsp.CompletionItem]:
        result = await asyncio.wait_for(self.client.text_document_completion_async(
            lsp.CompletionParams(self._doc(uri), lsp.Position(line, character))), TIMEOUT)
        return list(result.items if isinstance(result, lsp.CompletionList) else result or [])

    async def format(self, uri: str) -> list[lsp.TextEdit]:
        return list(await asyncio.wait_for(self.client.text_document_formatting_async(
            lsp.DocumentFormattingParams(self._doc(uri), lsp.FormattingOptions(tab_size=4, insert_spaces=True))),
            TIMEOUT) or [])

    async def actions(self, uri: str, diagnostic: lsp.Diagnostic) -> list[lsp.CodeAction]:
        result = await asyncio.wait_for(self.client.text_document_code_action_async(lsp.CodeActionParams(
            self._doc(uri), diagnostic.range, lsp.CodeActionContext(diagnostics=[diagnostic]))), TIMEOUT)
        return [a for a in result or [] if isinstance(a, lsp.CodeAction)]
