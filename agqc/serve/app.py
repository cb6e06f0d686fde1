"""``agqc serve [DIR] [--port N] [--open SPEC]``: start the playground and print its address.

Takes the parsed arguments (``folder``, ``port``: 0 for any free port, ``open``: the spec shown
first, relative to the folder or to the working folder); serves until Ctrl-C and returns the
exit status: 0, or 1 for a folder, spec or port it cannot use (said on stderr).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .files import Refused, resolve_spec
from .server import Playground


def main(args) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        return _fail(f"{args.folder} is not a folder")
    root = folder.resolve()
    first = None
    if args.open:
        try:
            first = _first(root, args.open)
        except Refused as err:
            return _fail(str(err))
    if not 0 <= args.port <= 65535:
        return _fail(f"--port {args.port} is not a port (0 to 65535; 0 picks a free one)")
    try:
        server = Playground(root, args.port, first)
    except OSError as err:
        return _fail(f"cannot listen on 127.0.0.1:{args.port}: {err.strerror or err} (try --port 0)")
    where = server.url + (f"#{first}" if first else "")
    print(f"agqc serve: {where} (specs under {root}; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _first(root: Path, name: str) -> str:
    """``name`` as a path relative to the folder: given so, or as a path from the working folder into it."""
    given = Path(name)
    if not given.is_absolute() and not (root / given).exists() and given.resolve().is_relative_to(root):
        name = given.resolve().relative_to(root).as_posix()
    elif given.is_absolute() and given.resolve().is_relative_to(root):
        name = given.resolve().relative_to(root).as_posix()
    resolve_spec(root, name)
    return name


def _fail(message: str) -> int:
    print(f"agqc serve: {message}", file=sys.stderr)
    return 1
