"""Drawings: a checked ``Program`` -> DOT text (and SVG/PNG/PDF via Graphviz).

``to_dot(program, options)`` runs the two stages: ``scene`` (what is shown:
nested clusters, collapsed blocks, typed edges) and ``dot`` (how: colours,
shapes, labels from ``style``).  ``render`` calls Graphviz's ``dot``; ``html`` makes the interactive page.
"""
from __future__ import annotations

from ...ir import Program
from .dot import write_dot
from .fit import NotReadable, layout
from .frozen import frozen_ids, stage_selectors
from .html import to_html
from .model_scene import DrawingTooBig, build_scene
from .render import FORMATS, INSTALL_HINT, RenderError, have_dot, render, render_bytes
from .scene import DrawOptions, Scene
from .style import THEMES, look

__all__ = ["DrawingTooBig", "DrawOptions", "FORMATS", "INSTALL_HINT", "NotReadable", "RenderError", "Scene", "THEMES",
           "build_scene", "have_dot", "render", "render_bytes", "to_dot", "to_html"]


def to_dot(program: Program, options: DrawOptions | None = None) -> str:
    options = options or DrawOptions()
    if options.theme not in THEMES:
        raise KeyError(f"no drawing theme `{options.theme}`; the themes are {', '.join(THEMES)}")
    if options.frozen is not None:
        stage_selectors(program, options.frozen)  # an unknown stage is the user's error, before any drawing

    def write(scene: Scene, columns: int) -> str:
        frozen = frozen_ids(program, scene, options)
        with look(options.theme, frozen, options.frozen or ""):
            return write_dot(scene, options, columns)
    return layout(program, options, write)[0]  # the depth and columns that fit a slide (fit.py)
