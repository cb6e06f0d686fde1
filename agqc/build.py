"""Build: a checked spec -> every output file, written atomically.

Takes a ``Spec``, a stem and an output folder; makes the generated source,
the DOT and SVG drawing, the summary (text and JSON) and one ``.pt2``
``torch.export`` program per network in a temporary folder, and only when
all succeeded moves them into place.  A failed build leaves earlier outputs
untouched.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


EXPORT_LIMIT = 50_000_000  # parameters: above this a build makes no weights, hence no .pt2


@dataclass
class BuildResult:
    files: list[Path]
    summary_text: str
    warnings: list[str] = field(default_factory=list)


def build(spec, stem: str, out: Path) -> BuildResult:
    from .backends.export import export_networks
    from .backends.drawing import INSTALL_HINT, have_dot, render
    from .backends.torch_module import build_module

    out.mkdir(parents=True, exist_ok=True)
    warnings = []
    with tempfile.TemporaryDirectory(prefix=f".{stem}.", dir=out) as tmp:
        tmp = Path(tmp)
        source = spec.emit_python()
        (tmp / f"{stem}.py").write_text(source)
        summary = spec.summary()
        large = summary.total_params > EXPORT_LIMIT
        module = build_module(spec.program, source, device="meta" if large else None)
        dot = spec.to_dot()
        (tmp / f"{stem}.dot").write_text(dot)
        if have_dot():
            render(dot, tmp / f"{stem}.svg", "svg")
        else:
            warnings.append(f"no drawing rendered ({stem}.dot written): {INSTALL_HINT}")
        (tmp / f"{stem}.summary.txt").write_text(summary.text())
        (tmp / f"{stem}.summary.json").write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
        if large:
            warnings.append(f"no .pt2 export: {summary.total_params:,} parameters would need "
                            f"{summary.total_params * 4 / 2**30:.1f} GiB of fp32 weights (agqc exports models up to "
                            f"{EXPORT_LIMIT // 10**6}M parameters); the module was checked on the meta device")
        else:
            export_networks(spec.program, module, tmp)
        files = sorted(tmp.iterdir())
        for f in files:
            os.replace(f, out / f.name)
    return BuildResult([out / f.name for f in files], summary.text(), warnings)


def write_atomically(files: dict[Path, str | bytes]) -> None:
    """Write each file via a temporary sibling and a rename."""
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content.encode() if isinstance(content, str) else content)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result should read like any file
        os.replace(tmp, path)




def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
