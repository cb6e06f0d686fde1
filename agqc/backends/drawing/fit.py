"""Fit the slide: choose the depth and the columns that make a drawing readable on a 16:9 slide.

Takes the program, the ``DrawOptions`` and a writer (scene, columns -> DOT text); gives the DOT
text and its ``Fit``.  A drawing is measured with Graphviz's own layout (``dot -Tplain``: the
bounding box in points).  Shown fitted to a 1920x1080 slide, its box text (``TEXT_PT``, what
``dot.py`` sets for nodes) is ``TEXT_PT * min(1920 / width_pt, 1080 / height_pt)`` pixels (never
enlarged past the PNG's own size); at least ``MIN_TEXT_PX`` reads from the back of a lecture hall.
The automatic depth is the deepest of ``depth_candidates`` that fits, with its long chains wrapped
into up to ``MAX_COLUMNS`` columns (``dot.py``); when none fits, the most readable one is drawn and
a ``NotReadable`` warning says so.  Without Graphviz nothing is measured: the item count decides,
as ``auto_depth`` does.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ...ir import Program
from ...policy import READABLE_ITEMS
from .model_scene import build_scene, depth_candidates
from .render import RenderError, have_dot, render_bytes
from .scene import DrawOptions, Scene

SLIDE_PX = (1920, 1080)
MIN_TEXT_PX = 12.0
TEXT_PT = 10  # the node font size dot.py sets; edge labels and details are smaller, titles larger
PNG_DPI = 150  # as render.PNG_DPI: a PNG smaller than the slide is shown at its own size
MAX_COLUMNS = 4
MEASURED_ITEMS = 3 * READABLE_ITEMS  # past this a layout takes seconds, and no slide holds it at 12 px


class NotReadable(UserWarning):
    """The drawing does not fit a 16:9 slide with text of at least ``MIN_TEXT_PX`` pixels."""


@dataclass(frozen=True)
class Fit:
    width_pt: float
    height_pt: float

    @property
    def scale(self) -> float:
        """Pixels on a 1920x1080 slide per point of the drawing."""
        return min(SLIDE_PX[0] / self.width_pt, SLIDE_PX[1] / self.height_pt, PNG_DPI / 72)

    @property
    def text_px(self) -> float:
        return TEXT_PT * self.scale

    @property
    def fits(self) -> bool:
        return self.text_px >= MIN_TEXT_PX

    def describe(self) -> str:
        return (f"{self.width_pt:.0f}x{self.height_pt:.0f} pt, box text {self.text_px:.1f} px on a "
                f"{SLIDE_PX[0]}x{SLIDE_PX[1]} slide")


@lru_cache(maxsize=256)  # a spec drawn again (build, then draw; a notebook re-showing it) is not laid out again
def measure(dot_text: str) -> Fit:
    """The drawing's size as Graphviz lays it out (``dot -Tplain``'s first line: graph scale w h, inches)."""
    head = render_bytes(dot_text, "plain").decode().split("\n", 1)[0].split()
    return Fit(float(head[2]) * 72, float(head[3]) * 72)


Writer = Callable[[Scene, int], str]


def layout(program: Program, options: DrawOptions, write: Writer) -> tuple[str, Fit | None]:
    """The DOT text to draw and how it fits; warns ``NotReadable`` when it cannot fit."""
    if not have_dot():
        return write(build_scene(program, options), 1), None
    depths = [options.depth] if options.depth is not None else depth_candidates(program, options)
    best: tuple[str, Fit] | None = None
    for depth in depths:
        scene = build_scene(program, options, depth)
        if len(scene.items()) > MEASURED_ITEMS:
            continue
        previous = 0.0
        for columns in range(1, MAX_COLUMNS + 1):
            text = write(scene, columns)
            try:
                fit = measure(text)
            except RenderError:  # dot failed or ran out of time: drawing it will say so, clearly
                return text, None
            if best is None or fit.text_px > best[1].text_px:
                best = (text, fit)
            if fit.fits:
                return text, fit
            if fit.text_px <= previous:  # more columns only widen it now
                break
            previous = fit.text_px
    if best is None:  # every depth too busy to measure
        scene = build_scene(program, options, depths[-1])
        _warn(f"{len(scene.items())} boxes are more than a slide holds at {MIN_TEXT_PX:.0f} px")
        return write(scene, 1), None
    _warn(best[1].describe() + f", under the {MIN_TEXT_PX:.0f} px a lecture hall can read")
    return best


def _warn(what: str) -> None:
    warnings.warn(NotReadable(f"this drawing does not fit a 16:9 slide: {what}; draw less of it at once "
                              "(--depth, --expand, --range, --network or --block)"), stacklevel=4)
