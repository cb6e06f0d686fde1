"""Which files the playground may read and write, and writing them atomically.

Takes the served folder (``root``) and a path the page sent (``"specs/cgan.agq"``, relative to
the folder, ``/`` between parts); gives the resolved ``Path`` inside the folder, or raises
``Refused`` with the reason: an absolute path, a ``..`` part, a name not ending in ``.agq``, a
symlink (or a folder on the way) leading outside the folder, something that is not a regular
file, or a file over ``MAX_FILE_BYTES``.  ``list_specs`` gives every ``.agq`` file under the
folder; ``read_spec`` its text; ``save_spec`` writes a temporary file in the same folder and
``os.replace`` s it over the spec, so a reader sees the old text or the new, never half.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path, PurePosixPath

from ..policy import MAX_FILE_BYTES

MAX_LISTED = 2_000  # .agq files listed (and mirrored for a check); a folder with more is surely not a course's
SKIPPED_FOLDERS = {"node_modules", "__pycache__", "build", "runs"}  # besides hidden ones (.git, .venv)


_UMASK = os.umask(0o022)  # read once, at import: setting it later would race the server's threads
os.umask(_UMASK)


class Refused(Exception):
    """A path or a text the playground will not read or write; the message says why."""


class Changed(Refused):
    """The file changed on disk since the editor opened it (or exists, for a new file): nothing was written."""


def resolve_spec(root: Path, relative: str, must_exist: bool = True) -> Path:
    """The spec ``relative`` names inside ``root`` (already resolved), followed through symlinks."""
    if not isinstance(relative, str) or not relative or "\x00" in relative or "\\" in relative:
        raise Refused("a spec is named by a path relative to the served folder, such as `specs/cgan.agq`")
    parts = PurePosixPath(relative)
    if parts.is_absolute() or relative.startswith("~"):
        raise Refused(f"`{relative}` is an absolute path; name a spec relative to the served folder")
    if ".." in parts.parts:
        raise Refused(f"`{relative}` leaves the served folder (`..`)")
    if parts.suffix != ".agq" or parts.name == ".agq":
        raise Refused(f"`{relative}` is not a spec: only `.agq` files are opened and saved")
    resolved = (root / parts).resolve()
    if not resolved.is_relative_to(root):
        raise Refused(f"`{relative}` leads outside the served folder (a symlink)")
    if resolved.suffix != ".agq":
        raise Refused(f"`{relative}` is a link to a file that is not a spec")
    try:
        info = resolved.stat()
    except FileNotFoundError:
        if must_exist:
            raise Refused(f"`{relative}` does not exist") from None
        if not resolved.parent.is_dir():
            raise Refused(f"the folder of `{relative}` does not exist") from None
        return resolved
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"`{relative}` is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise Refused(f"`{relative}` has {info.st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a spec may have")
    return resolved


def list_specs(root: Path, under: Path | None = None) -> list[str]:
    """Every ``.agq`` file under ``under`` (default ``root``) that ``resolve_spec`` accepts, relative to ``root``.

    Hidden folders and build outputs are skipped; at most ``MAX_LISTED`` files, in sorted order.
    """
    found: list[str] = []
    for folder, dirs, files in os.walk(under or root):  # does not follow symlinked folders
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        for name in sorted(files):
            if not name.endswith(".agq") or name.startswith("."):
                continue
            relative = (Path(folder) / name).relative_to(root).as_posix()
            try:
                resolve_spec(root, relative)
            except Refused:
                continue
            found.append(relative)
            if len(found) >= MAX_LISTED:
                return found
    return found


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_spec(root: Path, relative: str) -> str:
    """The spec's text (UTF-8; a file that is not is refused)."""
    path = resolve_spec(root, relative)
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Refused(f"`{relative}` is larger than the {MAX_FILE_BYTES:,} bytes a spec may have")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Refused(f"`{relative}` is not UTF-8 text (byte {err.start})") from None


def check_text(text: object) -> str:
    """``text`` if it may be checked or saved: a string of at most ``MAX_FILE_BYTES`` bytes."""
    if not isinstance(text, str):
        raise Refused("the request carries no spec text")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise Refused(f"the text has {size:,} bytes, more than the {MAX_FILE_BYTES:,} a spec may have")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("the text is not valid Unicode (a lone surrogate)") from None
    return text


def save_spec(root: Path, relative: str, text: str, base: str | None = None, create: bool = False) -> str:
    """Write ``text`` over the spec atomically; returns the new text's digest.

    ``base``: the digest of the text the editor started from; when the file on disk has changed
    since, nothing is written (``Changed``). ``create``: the spec is a new file, in a folder that exists
    (``Changed`` when it exists already).
    """
    check_text(text)
    path = resolve_spec(root, relative, must_exist=not create)
    exists = path.exists()
    if exists and create:
        raise Changed(f"`{relative}` exists already; open it, or choose another name")
    if exists and base is not None and digest(read_spec(root, relative)) != base:
        raise Changed(f"`{relative}` has changed on disk since it was opened; reload it, or save again to overwrite")
    mode = stat.S_IMODE(path.stat().st_mode) if exists else None
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        else:
            os.chmod(temporary, 0o666 & ~_UMASK)  # as a new file would be (mkstemp makes it 0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest(text)
