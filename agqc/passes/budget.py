"""Budget: a checked ``Program`` -> a ``limit`` error when its layers, expanded, are too many.

Takes the program and the reporter.  A repeat is one body graph in the IR,
but the summary, the drawing at full depth and the built module all visit
every copy: ``repeat 100000 { repeat 100000 { ... } }`` is small to check
and impossible to build.  The IR counts each graph's expanded size once
(``Program.expanded_size``, memoised); this pass compares it with the
policy's limit.
"""
from __future__ import annotations

from ..diagnostics import Reporter
from ..errorcodes import Code
from ..ir import Program
from ..policy import MAX_EXPANDED_NODES


def check_budget(program: Program, reporter: Reporter) -> None:
    for net in program.networks:
        size = program.expanded_size(net.graph)
        if size > MAX_EXPANDED_NODES:
            reporter.error(Code.LIMIT, f"network `{net.name}` expands to {size:,} layers, over agqc's "
                           f"budget of {MAX_EXPANDED_NODES:,} (repeats multiplied out)", net.span,
                           "lower a repeat count: summaries, drawings and builds visit every copy")
