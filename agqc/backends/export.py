"""Export backend: each network -> a ``torch.export`` program (``.pt2``).

Takes a built module and the checked program; traces every network with
example inputs made from its checked input types (symbolic sizes become 2).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..ir import Program
from .torch_module import example_inputs


def export_networks(program: Program, module: torch.nn.Module, out_dir: Path) -> list[Path]:
    written = []
    module.eval()
    for net in program.networks:
        network = getattr(module, net.name)
        args = example_inputs(program.graph(net.graph))
        exported = torch.export.export(network, args)
        path = out_dir / f"{net.name}.pt2"
        torch.export.save(exported, str(path))
        written.append(path)
    return written
