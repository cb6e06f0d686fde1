"""The editor and browser commands: ``agqc lsp`` (a language server over stdio) and ``agqc serve`` (a playground).

Takes the parsed arguments (``add_parsers`` declares them on ``agqc.cli``'s parser); each command imports
its module only when run, so ``agqc check`` pays nothing for them.  Returns an exit status.
"""
from __future__ import annotations


def add_parsers(sub) -> None:
    sub.add_parser("lsp", help="a Language Server Protocol server over stdio (for editors; docs/editors.md)")
    s = sub.add_parser("serve", help="a live playground in the browser: edit a spec, see its diagnostics, drawing "
                       "and summary as you type (docs/playground.md)")
    s.add_argument("folder", nargs="?", default=".", help="the folder whose specs it may open and save (default .)")
    s.add_argument("--port", type=int, default=8765, help="the port on 127.0.0.1 (default 8765; 0: any free port)")
    s.add_argument("--open", metavar="SPEC", help="the spec to show first, relative to the folder")


def cmd_lsp(args) -> int:
    from .lsp.server import main
    return main(args)


def cmd_serve(args) -> int:
    from .serve.app import main
    return main(args)


COMMANDS = {"lsp": cmd_lsp, "serve": cmd_serve}
