"""The Python API: ``agqc.load(path, overrides)`` -> a checked ``Spec``.

``Spec`` wraps the checked IR program and offers ``build()`` (an
``nn.Module``), ``summary()``, ``parameter_counts()``, ``emit_python()``, ``draw(path)`` and
``example_inputs()``.  Torch is imported only by the methods that need it.
"""
from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Iterable, Mapping

from .diagnostics import Diagnostic, render
from .errorcodes import Code
from .frontend import check
from .ir import Program
from .kinds import Severity


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
            raise AgqcError([Diagnostic(Severity.ERROR, Code.NO_MODEL,
                                        "this file defines no model, so there is nothing to build",
                                        Span(self.program.file, 1, 1, 1, 2),
                                        ("add `model Name { classifier net = SomeBlock() }`",))])

    def emit_python(self) -> str:
        self.require_model()
        from .backends.torch_source import emit_source
        return emit_source(self.program)

    def build(self, device: str | None = None):
        """A fresh ``nn.Module`` for the whole model (networks as attributes).

        ``device="meta"`` gives the module's structure with no memory for weights,
        so an 8-billion-parameter spec builds in a second.
        """
        self.require_model()
        from .backends.torch_module import build_module
        return build_module(self.program, device=device)

    def example_inputs(self, network: str | None = None, sizes: dict[str, int] | None = None, seed: int = 0):
        """Random inputs for one network, or for the model's forward (symbolic sizes default to 2)."""
        from .backends.torch_module import example_inputs
        if network is not None:
            return example_inputs(self.graph(network).input_types(), sizes, seed)
        signature = self._signature()
        per_graph = groupby(zip(signature.graphs, signature.types), key=lambda pair: pair[0])
        return tuple(x for _, pairs in per_graph for x in example_inputs([t for _, t in pairs], sizes, seed))

    def input_types(self, network: str | None = None):
        if network is not None:
            return self.graph(network).input_types()
        return list(self._signature().types)

    def _signature(self):
        from .passes.annotate import annotate
        self.require_model()
        annotate(self.program)
        assert self.program.signature is not None, "the annotate pass computes the forward signature"
        return self.program.signature

    def _side_by_side(self) -> bool:
        return self.program.flow is None and len(self.program.networks) > 1

    def graph(self, network: str | None = None):
        """The IR graph of one network, or of the model's flow (or its only network)."""
        if network is not None:
            return self.program.graph(self.program.network(network).graph)
        if self.program.flow is not None:
            return self.program.flow
        return self.program.graph(self.program.networks[0].graph)

    def output_types(self, network: str | None = None):
        if network is None and self._side_by_side():
            return [t for n in self.program.networks for t in self.program.graph(n.graph).output_types()]
        return self.graph(network).output_types()

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per network, in the model's order (a tied weight counted once), without making any.

        The numbers ``summary()`` totals, read from the annotate pass alone (about a millisecond).
        """
        from .passes.annotate import annotate
        annotate(self.program)
        counts = {}
        for net in self.program.networks:
            facts = self.program.graph(net.graph).facts
            assert facts is not None, "the annotate pass stores each graph's facts"
            counts[net.name] = facts.params
        return counts

    def summary(self):
        self.require_model()
        from .backends.summary import summarize
        return summarize(self.program)

    def to_dot(self, depth: int | None = None, network: str | None = None, direction: str = "TB",
               shapes: bool = True, params: bool = True, block: str | None = None, theme: str = "default",
               frozen: str | None = None, expand: str | tuple[str, ...] = (), range: str | None = None) -> str:
        """The drawing as DOT text; ``depth=None`` picks the deepest level that fits a 16:9 slide
        with text of at least 12 px, wrapping long chains into columns (a ``NotReadable`` warning
        when nothing fits).

        ``expand``: names to open as well, the rest kept at the depth (``"h.0"``: one copy of a
        repeat; ``"GPT2Block"``: a block by name, every instance the drawing shows, else the first);
        ``range``: ``"FROM:TO"``, only the part between two named nodes.

        ``network`` draws one network alone, ``block`` one block as the model first uses it;
        ``theme``: ``default``, ``print`` (black on white, greyscale-safe) or ``colorblind``;
        ``frozen``: a stage of the train section, whose frozen networks, blocks and layers are marked ❄.
        """
        self.require_model()
        from .backends.drawing import DrawOptions, to_dot
        if network is not None:
            self.require_network(network)
        return to_dot(self.program, DrawOptions(depth=depth, network=network, block=block, direction=direction,
                                               shapes=shapes, params=params, theme=theme, frozen=frozen,
                                               expand=_names(expand), range=_span(range)))

    def to_html(self, depth: int | None = None, network: str | None = None, direction: str = "TB",
                shapes: bool = True, params: bool = True, block: str | None = None, theme: str = "default",
                frozen: str | None = None, expand: str | tuple[str, ...] = (), range: str | None = None) -> str:
        """The drawing as one self-contained interactive HTML page (needs Graphviz's ``dot``).

        Clicking a collapsed block opens its drawing beside it, clicking again closes it; hovering a
        node shows its shapes, parameters, precision and ``.agq`` line.  Options as for ``to_dot``.
        """
        self.require_model()
        from .backends.drawing import DrawOptions, to_html
        if network is not None:
            self.require_network(network)
        return to_html(self.program, DrawOptions(depth=depth, network=network, block=block, direction=direction,
                                                 shapes=shapes, params=params, theme=theme, frozen=frozen,
                                                 expand=_names(expand), range=_span(range)))

    def draw(self, path: str | Path, format: str | None = None, dpi: int | None = None, **options) -> Path:
        """Write the drawing (svg, png, pdf, dot or html, from ``format`` or the file's suffix).

        ``dpi``: a PNG's resolution (default 150); ``options`` as for ``to_dot``.
        """
        from .backends.drawing import render_bytes
        path = Path(path)
        fmt = format or path.suffix.lstrip(".") or "svg"
        if fmt == "html":
            path.write_text(self.to_html(**options), encoding="utf-8")
            return path
        dot = self.to_dot(**options)
        path.write_bytes(dot.encode() if fmt == "dot" else render_bytes(dot, fmt, dpi))
        return path

    def deploy(self, model):
        """Store the quantised layers of a built (trained) model in their low-precision form, in place.

        int8/int4 weights become integers with per-channel scales, binary weights bits
        (eight per byte) with alpha, fp8 weights fp8 values with scales; the model
        then predicts exactly as the trained QAT model did.  Returns the model.
        """
        namespace = type(model).forward.__globals__  # the generated source's globals
        if "deploy" in namespace:
            namespace["deploy"](model)
        return model

    def train(self, out: str | Path | None = None, epochs: int | None = None, seed: int | None = None,
              device: str = "cpu", progress: bool = True):
        """Train as the spec's `train` section says; a ``Run`` with the trained ``model`` and its ``history``.

        ``out`` also writes a run folder as `agqc train` does; in a notebook the progress is a bar per epoch.
        """
        if self.program.train is None:
            raise ValueError(f"{self.program.file} has no `train` section (docs/training.md says how to write one)")
        from .train.session import train
        return train(self, Path(out) if out is not None else None, epochs, seed, device, progress=progress)

    def data(self, split: str = "test") -> dict:
        """The train section's data as the trainer reads it (transforms applied, no augmentation): a dict of
        tensors with the examples first, e.g. ``{"images": [1000, 1, 28, 28], "labels": [1000]}``."""
        if self.program.train is None:
            raise ValueError(f"{self.program.file} has no `train` section, so no data")
        from .train.core.loop import load_split
        return load_split(self.program.train.to_json(), split, "cpu")

    def require_network(self, name: str) -> None:
        if name not in self.networks:
            from .diagnostics import did_you_mean
            hint = did_you_mean(name, self.networks)
            raise KeyError(f"{self.name} has no network named `{name}`; its networks are {', '.join(self.networks)}"
                           + (f" ({hint})" if hint else ""))

    def network(self, name: str) -> "NetworkView":
        """One network, for drawing it alone (and showing it in a notebook)."""
        self.require_network(name)
        return NetworkView(self, name)

    def _repr_svg_(self) -> str | None:
        """Notebooks show a loaded spec as its drawing (None, hence text, without Graphviz)."""
        return _svg(self.to_dot()) if self.program.networks else None

    def render_warnings(self) -> str:
        return "\n".join(render(d, self.program.sources) for d in self.warnings)


class NetworkView:
    def __init__(self, spec: Spec, name: str):
        self.spec, self.name = spec, name

    def __repr__(self) -> str:
        return f"<network {self.name} of {self.spec.name}>"

    def to_dot(self, **options) -> str:
        return self.spec.to_dot(network=self.name, **options)

    def draw(self, path: str | Path, format: str | None = None, **options) -> Path:
        return self.spec.draw(path, format, network=self.name, **options)

    def _repr_svg_(self) -> str | None:
        return _svg(self.to_dot())


def _names(expand: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (expand,) if isinstance(expand, str) else tuple(expand)


def _span(text: str | None) -> tuple[str, str] | None:
    """``"FROM:TO"`` -> ``("FROM", "TO")``; a ``KeyError`` (the user's mistake) when it is not two names."""
    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise KeyError(f"--range expects FROM:TO, two node names such as `wpe:ln_f`; found `{text}`")
    return parts[0].strip(), parts[1].strip()


def _svg(dot: str) -> str | None:
    from .backends.drawing import have_dot, render_bytes
    return render_bytes(dot, "svg").decode() if have_dot() else None


def load(path: str | Path, overrides: Iterable[str] | Mapping[str, object] = ()) -> Spec:
    """Parse and check a spec. Raises ``agqc.AgqcError`` listing every problem.

    ``overrides`` change the spec as ``--set`` does: ``["epochs=3", "precision=fp64"]`` or
    ``{"epochs": 3, "WIDTH": 512}`` (agqc/overrides.py says what NAME may be).
    """
    from .overrides import parse_override
    texts = [f"{k}={v}" for k, v in overrides.items()] if isinstance(overrides, Mapping) else list(overrides)
    return Spec(check(path, tuple(parse_override(t) for t in texts)))
