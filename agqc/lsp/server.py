"""The language server: pygls wired to agqc's checker, registry and formatter.

Takes LSP messages over stdio (``agqc lsp``; ``main`` returns the exit status); gives diagnostics
published on open and on every change (full-text sync, checked from the editor's buffers, never the
files on disk where a buffer is open), hover, definition, document symbols, completion, formatting and
quick fixes.  Each request first makes sure its document's analysis matches the buffer, so an answer
never describes older text.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from .. import __version__
from .actions import formatting, quick_fixes
from .analysis import Analysis, analyse
from .complete import completions
from .convert import by_uri, path_of
from .hover import hover
from .navigate import definition, symbols

PARSED_KEPT = 256  # syntax trees cached before the cache starts again


class AgqcServer(LanguageServer):
    """A pygls server that keeps one ``Analysis`` per open document and what it published where."""

    def __init__(self) -> None:
        super().__init__("agqc", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}
        self.published: dict[str, dict[str, list[lsp.Diagnostic]]] = {}  # checked uri -> file uri -> its list
        self.pending: dict[str, asyncio.Task] = {}
        self.parsed: dict = {}  # (file, text) -> syntax tree: the imports a keystroke leaves alone are not parsed again

    def path(self, uri: str) -> Path:
        """A document's path; an unsaved, untitled one is taken to sit in the working folder."""
        return path_of(uri) or Path.cwd() / (uri.rsplit("/", 1)[-1].replace(":", "_") + ".agq")

    def buffers(self, skip: str) -> dict[str, str]:
        """The other open documents' texts, by resolved path: an import reads the buffer, not the file."""
        return {str(self.path(uri).resolve()): self.workspace.get_text_document(uri).source
                for uri in self.analyses if uri != skip}

    def analysis(self, uri: str) -> Analysis:
        """The document's analysis, checked again first if the buffer has changed since."""
        text = self.workspace.get_text_document(uri).source
        current = self.analyses.get(uri)
        if current is None or current.text != text.replace("\r\n", "\n").replace("\r", "\n"):
            self.refresh(uri)
        return self.analyses[uri]

    def refresh(self, uri: str) -> None:
        """Check the document now and publish its diagnostics (and clear those that went away)."""
        doc = self.workspace.get_text_document(uri)
        if len(self.parsed) > PARSED_KEPT:
            self.parsed.clear()
        result = analyse(self.path(uri), doc.source, self.buffers(uri), self.parsed)
        self.analyses[uri] = result
        before = self.published.get(uri, {})
        now = by_uri(result.diagnostics, uri, result.text)
        self.published[uri] = now
        for target in sorted(set(before) | set(now)):
            merged: list[lsp.Diagnostic] = []
            for lists in self.published.values():
                for d in lists.get(target, []):
                    if d not in merged:
                        merged.append(d)
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                uri=target, diagnostics=merged, version=doc.version if target == uri else None))

    def changed(self, uri: str) -> None:
        """A buffer changed: check it now, then (later, so this answer is not delayed) the other open documents."""
        self.refresh(uri)
        for other in list(self.analyses):
            if other != uri:
                task = self.pending.pop(other, None)
                if task is not None:
                    task.cancel()
                self.pending[other] = asyncio.get_event_loop().create_task(self._later(other))

    async def _later(self, uri: str) -> None:
        await asyncio.sleep(0.2)  # a burst of edits elsewhere checks this one once
        self.pending.pop(uri, None)
        if uri in self.analyses:
            self.refresh(uri)

    def closed(self, uri: str) -> None:
        self.analyses.pop(uri, None)
        before = self.published.pop(uri, {})
        for target in before:
            merged = [d for lists in self.published.values() for d in lists.get(target, [])]
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=target, diagnostics=merged))


def _pos(position: lsp.Position) -> tuple[int, int]:
    """An LSP position (0-based) as agqc's 1-based (line, col)."""
    return position.line + 1, position.character + 1


def build() -> AgqcServer:
    """A server with every feature registered."""
    server = AgqcServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: AgqcServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.changed(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: AgqcServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.changed(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: AgqcServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.changed(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: AgqcServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.closed(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: AgqcServer, params: lsp.HoverParams) -> lsp.Hover | None:
        text = hover(ls.analysis(params.text_document.uri), *_pos(params.position))
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text)) if text else None

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: AgqcServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
        return definition(ls.analysis(params.text_document.uri), *_pos(params.position))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: AgqcServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        return symbols(ls.analysis(params.text_document.uri))

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["@"]))
    def on_completion(ls: AgqcServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        items = completions(ls.analysis(params.text_document.uri), *_pos(params.position))
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls: AgqcServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
        uri = params.text_document.uri
        return formatting(ls.workspace.get_text_document(uri).source, str(ls.path(uri)))

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def on_code_action(ls: AgqcServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        return quick_fixes(ls.workspace.get_text_document(uri).source, uri, params.context.diagnostics)

    return server


def main(args: object = None) -> int:
    """Serve over stdio until the editor says exit; 0 once it has."""
    del args  # `agqc lsp` takes no options
    build().start_io()
    return 0
