"""Drawings: a checked ``Program`` -> DOT text (and SVG/PNG/PDF via Graphviz).

``to_dot(program, options)`` runs the two stages: ``scene`` (what is shown:
nested clusters, collapsed blocks, typed edges) and ``dot`` (how: colours,
shapes, labels from ``style``).  ``render`` calls Graphviz's ``dot``; ``html`` makes the interactive page.
"""
from __future__ import annotations

from ...ir import Program
from .dot import write_dot
from .html import to_html
from .model_scene import DrawingTooBig, build_scene
from .render import FORMATS, INSTALL_HINT, RenderError, have_dot, render, render_bytes
from .scene import DrawOptions, Scene

__all__ = ["DrawingTooBig", "DrawOptions", "FORMATS", "INSTALL_HINT", "RenderError", "Scene", "build_scene",
           "have_dot", "render", "render_bytes", "to_dot", "to_html"]


def to_dot(program: Program, options: DrawOptions | None = None) -> str:
    options = options or DrawOptions()
    return write_dot(build_scene(program, options), options)
