"""Build: a checked spec -> every output file, written atomically.

Takes a ``Spec``, a stem and an output folder; makes the generated source,
the DOT and SVG drawing, the summary (text and JSON) and one ``.pt2``
``torch.export`` program per network in a fresh folder beside it, and only
when all succeeded swaps that folder in (``agqc.outdir``).  A failed or
killed build leaves the earlier folder exactly as it was.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .outdir import FolderRefused, staged_folder
from .policy import BUILD_WEIGHTS_LIMIT, MAX_BUILD_LAYERS


@dataclass
class BuildResult:
    files: list[Path]
    summary_text: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know about what was written


def output_stem(spec_path: str | Path) -> str:
    """The name a spec's outputs take (``build/cgan/cgan.py``): its file name without ``.agq``.

    Never ``.``, ``..`` or hidden: ``...agq`` would otherwise write into ``build/../``.
    """
    return Path(spec_path).stem.lstrip(".") or "spec"


class BuildError(Exception):
    """A problem with what the user asked the build for (a weights file that does not fit, say)."""


def build(spec, stem: str, out: Path, deploy: bool = False, weights: Path | None = None,
          real_weights: bool = False) -> BuildResult:
    """Write every output into a fresh folder beside ``out``; only when all succeeded does it replace ``out``.

    Above ``BUILD_WEIGHTS_LIMIT`` parameters no weights are made (the module is built with fake
    tensors) and each ``.pt2`` holds its program with placeholder weights on the meta device,
    unless ``real_weights`` asks for real ones.
    """
    result = BuildResult([], "")
    try:
        with staged_folder(out) as staging:
            result.summary_text = _write_outputs(spec, stem, staging, deploy, weights, real_weights, result)
            names = sorted(p.name for p in staging.iterdir())
    except FolderRefused as err:
        raise BuildError(str(err)) from None
    result.files = [out / name for name in names]
    return result


def _write_outputs(spec, stem: str, tmp: Path, deploy: bool, weights: Path | None, real_weights: bool,
                   result: BuildResult) -> str:
    from .backends.drawing import INSTALL_HINT, RenderError, have_dot, render
    from .backends.export import placeholder_mode
    from .backends.torch_module import build_module

    warnings, notes = result.warnings, result.notes
    source = spec.emit_python()
    (tmp / f"{stem}.py").write_text(source)
    summary = spec.summary()
    _check_layer_budget(spec)
    params = summary.total_params
    large = params > BUILD_WEIGHTS_LIMIT and not real_weights  # then no weights are made: fake tensors
    with placeholder_mode() if large else contextlib.nullcontext():
        module = build_module(spec.program, source)
    deployed = _weights_and_deploy(spec, module, weights, deploy, large, tmp / f"{stem}.deploy.pt") \
        if deploy or weights else ""
    dot = spec.to_dot()
    (tmp / f"{stem}.dot").write_text(dot)
    if have_dot():
        try:
            render(dot, tmp / f"{stem}.svg", "svg")
        except RenderError as err:
            raise BuildError(str(err)) from None
    else:
        warnings.append(f"no drawing rendered ({stem}.dot written): {INSTALL_HINT}")
    (tmp / f"{stem}.summary.txt").write_text(summary.text() + deployed)
    (tmp / f"{stem}.summary.json").write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    exported = _export_networks(spec, module, tmp, large, warnings)
    size = f"{params:,} parameters ({_gib(params)} of fp32 weights)"
    if large and exported:
        one = len(exported) == 1
        notes.append(f"{', '.join(exported)} hold{'s the program' if one else ' the programs'} only: "
                     f"{'its' if one else 'their'} weights are placeholders on the meta device, because {size} "
                     f"are over `agqc build`'s limit of {BUILD_WEIGHTS_LIMIT:,}. Load trained weights with "
                     "torch.export.load(FILE).module().load_state_dict(weights, assign=True), or build with "
                     "--real-weights to make and export real ones")
    elif real_weights and params > BUILD_WEIGHTS_LIMIT:
        notes.append(f"made real weights for {size}, as --real-weights asks "
                     f"(over `agqc build`'s limit of {BUILD_WEIGHTS_LIMIT:,})")
    return summary.text() + deployed


def _gib(params: int) -> str:
    return f"{params * 4 / 2**30:.2f} GiB"


def _export_networks(spec, module, out_dir: Path, meta: bool, warnings: list[str]) -> list[str]:
    """One ``torch.export`` program per network, by the same path as ``agqc lower --target export``
    (on the meta device, placeholders for weights and inputs, when ``meta``); the files written.
    A network whose example inputs are too large to make gets a warning instead."""
    import torch

    from .backends.export import ExampleTooLarge, export_program
    written = []
    for net in spec.program.networks:
        try:
            lowered = export_program(spec, net.name, device="meta" if meta else None,
                                     module=getattr(module, net.name), dynamic=False)
        except ExampleTooLarge as err:
            warnings.append(f"no {net.name}.pt2: {err}")
            continue
        torch.export.save(lowered.program, str(out_dir / f"{net.name}.pt2"))
        written.append(f"{net.name}.pt2")
    return written


def _check_layer_budget(spec) -> None:
    layers = sum(spec.program.expanded_size(n.graph) for n in spec.program.networks)
    if layers > MAX_BUILD_LAYERS:
        raise BuildError(f"this model expands to {layers:,} layers; agqc builds models of up to {MAX_BUILD_LAYERS:,} "
                         "(a module per layer); `agqc summary` and `agqc draw` still work")


def _weights_and_deploy(spec, module, weights: Path | None, deploy: bool, large: bool, target: Path) -> str:
    """Load trained weights (tensors only: never a pickle), pack them when deploying; a report line."""
    import torch
    if large:
        params = spec.summary().total_params
        raise BuildError(f"--deploy and --weights need real weights, and this model has {params:,} parameters, "
                         f"over `agqc build`'s limit of {BUILD_WEIGHTS_LIMIT:,}, so none are made; "
                         f"add --real-weights to make them ({_gib(params)} of fp32)")
    if weights is not None:
        state = read_weights(weights)
        try:
            module.load_state_dict(state)
        except RuntimeError as err:  # missing or unexpected keys, or shapes that differ
            detail = " ".join(str(err).split())
            raise BuildError(f"cannot load weights from {weights}: {detail[:400]}") from None
    if not deploy:
        return ""
    before = _state_bytes(module)
    spec.deploy(module.eval())
    torch.save(module.state_dict(), target)
    after = _state_bytes(module)
    return (f"deployed weights ({target.name}): {after:,} bytes, against {before:,} bytes before packing "
            f"({before / after:.2f}x smaller)\n")


def read_weights(path: Path) -> dict:
    """A state_dict from a file: tensors only (never a pickle), from a regular file, keyed by name.

    A ``.safetensors`` file (a run's ``best`` or ``last``; the training state ``last`` also
    holds is left out) or what ``torch.save(model.state_dict(), FILE)`` wrote.
    """
    import torch
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read forever
            raise BuildError(f"cannot load weights from {path}: not a regular file")
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError

            from .train.checkpoint import read, weights_only
            try:
                return weights_only(read(path)[0])
            except (SafetensorError, ValueError) as err:
                raise BuildError(f"cannot load weights from {path}: {' '.join(str(err).split())[:300]}") from None
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as err:
        detail = ("the file is empty or cut short" if isinstance(err, EOFError)  # missing, empty, truncated, unsafe
                  else " ".join(str(err).split()) or type(err).__name__)
        raise BuildError(f"cannot load weights from {path}: {detail[:400]}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise BuildError(f"cannot load weights from {path}: expected a state_dict (parameter names mapped to "
                         "tensors, as torch.save(model.state_dict(), FILE) writes)")
    return state


def _state_bytes(module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def write_atomically(files: dict[Path, str | bytes]) -> None:
    """Write each file via a temporary sibling and a rename; a failed write leaves no temporary behind.

    A symlink is followed (the file it points at is rewritten, the link stays), and a file
    that exists keeps its permissions (a private 0600 spec stays private).
    """
    for path, content in files.items():
        if path.is_dir():  # checked first: the rename would fail only after the temporary was written
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
        if path.is_symlink():
            path = path.resolve()
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content.encode() if isinstance(content, str) else content)
            os.chmod(tmp, mode)  # mkstemp makes 0600; a new file should read like any other
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise




def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
