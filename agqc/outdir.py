"""Output folders replaced whole: a build is written beside its folder, then swapped in at once.

Takes the folder a build writes (``build/cgan/``); gives ``staged_folder``, a
context manager that yields an empty temporary sibling to write into and, when
the block ends without an error, puts it in place of the folder with two renames.
So a build that fails or is killed leaves the earlier folder exactly as it was
(never a new ``G.pt2`` beside an old ``cgan.py``), a refused build creates no
folder, and files an earlier build wrote that this one does not (``first.pt2``)
do not linger.  Temporaries a killed build left are removed by the next build of
the same folder.  A folder holding files agqc does not write is never replaced:
``-o .`` must not delete a project.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OUTPUT_SUFFIXES = (".py", ".dot", ".svg", ".png", ".pdf", ".summary.txt", ".summary.json", ".deploy.pt", ".pt2")


class FolderRefused(Exception):
    """The output folder is not one agqc may replace; the message says why and what to do."""


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    out = _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        yield staging
        _swap(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a swap


def _check_replaceable(out: Path) -> Path:
    if out.is_symlink():
        if not out.exists():
            raise FolderRefused(f"cannot write {out}: it is a symlink to nothing")
        out = out.resolve()
    if out.exists() and not out.is_dir():
        raise FolderRefused(f"cannot write {out}: it is a file, not a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if not _ours(p))
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise FolderRefused(f"cannot build into {out}: it holds files agqc did not write ({shown}), and a build "
                                "replaces its folder whole; choose a new or empty folder with -o")
    return out


def _ours(entry: Path) -> bool:
    """What an agqc build leaves in its folder (and hidden temporaries older versions made there)."""
    if entry.name.startswith("."):
        return True
    return entry.is_file() and not entry.is_symlink() and entry.name.endswith(OUTPUT_SUFFIXES)


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        os.rename(staging, out)
    elif _exchange(staging, out):  # one step: `out` is the old folder, then the new one, never neither
        shutil.rmtree(staging, ignore_errors=True)  # which now holds the earlier build
    else:  # no renameat2 here: two renames, with a moment between them when `out` is missing
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "previous")
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux's ``renameat2(RENAME_EXCHANGE)``); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # the kernel or the file system cannot
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove_leftovers(out: Path) -> None:
    """Temporaries of an earlier build of this folder that was killed before it could clean up."""
    for pattern in (f".{out.name}.building-*", f".{out.name}.old-*"):
        for leftover in out.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)
