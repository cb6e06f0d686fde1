"""The Python API: ``agqc.load(path)`` -> a checked ``Spec``.

``Spec`` wraps the checked IR program and offers ``build()`` (an
``nn.Module``), ``summary()``, ``emit_python()``, ``draw(path)`` and
``example_inputs()``.  Torch is imported only by the methods that need it.
"""
from __future__ import annotations

from pathlib import Path

from .diagnostics import Diagnostic, render
from .frontend import check
from .ir import Program


class Spec:
    def __init__(self, program: Program):
        self.program = program

    @property
    def name(self) -> str:
        return self.program.model

    @property
    def networks(self) -> list[str]:
        return [n.name for n in self.program.networks]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.program.diagnostics if d.severity == "warning"]

    def require_model(self) -> None:
        """Building needs a model: a file of blocks alone is an error here."""
        if not self.program.networks:
            from .diagnostics import AgqcError, Diagnostic, Span
            raise AgqcError([Diagnostic("error", "no-model", "this file defines no model, so there is nothing to build",
                                        Span(self.program.file, 1, 1, 1, 2),
                                        ("add `model Name { classifier net = SomeBlock() }`",))])

    def emit_python(self) -> str:
        self.require_model()
        from .backends.torch_source import emit_source
        return emit_source(self.program)

    def build(self):
        """A fresh ``nn.Module`` for the whole model (networks as attributes)."""
        self.require_model()
        from .backends.torch_module import build_module
        return build_module(self.program)

    def example_inputs(self, network: str | None = None, sizes: dict[str, int] | None = None, seed: int = 0):
        from .backends.torch_module import example_inputs
        return example_inputs(self.graph(network), sizes, seed)

    def graph(self, network: str | None = None):
        """The IR graph of one network, or of the model's flow (or its only network)."""
        if network is not None:
            return self.program.graph(self.program.network(network).graph)
        if self.program.flow is not None:
            return self.program.flow
        return self.program.graph(self.program.networks[0].graph)

    def output_types(self, network: str | None = None):
        return self.graph(network).output_types()

    def summary(self):
        self.require_model()
        from .backends.summary import summarize
        return summarize(self.program)

    def to_dot(self) -> str:
        self.require_model()
        from .backends.graphviz_dot import to_dot
        return to_dot(self.program)

    def draw(self, path: str | Path, format: str | None = None) -> Path:
        from .backends.graphviz_dot import render as render_dot
        path = Path(path)
        fmt = format or path.suffix.lstrip(".") or "svg"
        if fmt == "dot":
            path.write_text(self.to_dot())
        else:
            render_dot(self.to_dot(), path, fmt)
        return path

    def render_warnings(self) -> str:
        return "\n".join(render(d, self.program.sources) for d in self.warnings)


def load(path: str | Path) -> Spec:
    """Parse and check a spec. Raises ``agqc.AgqcError`` listing every problem."""
    return Spec(check(path))
