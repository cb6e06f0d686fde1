"""Budget: a checked ``Program`` -> a ``limit`` error when its layers, expanded, are too many.

Takes the program and the reporter.  A repeat is one body graph in the IR,
but the summary, the drawing at full depth and the built module all visit
every copy: ``repeat 100000 { repeat 100000 { ... } }`` is small to check
and impossible to build.  Counting each graph once (memoised), with repeats
multiplied out, keeps every later stage's work bounded.
"""
from __future__ import annotations

from ..diagnostics import Reporter
from ..ir import Program

MAX_EXPANDED_NODES = 2_000_000  # Llama-3-8B expands to about 1,000 layers; this is 2,000 times more


def expanded_size(program: Program, key: str, memo: dict[str, int]) -> int:
    """Nodes in one graph with every call and repeat copy counted."""
    if key not in memo:
        memo[key] = 0  # a cycle cannot occur (recursion is an error), but stay finite regardless
        total = 0
        for node in program.graph(key).nodes():
            inner = expanded_size(program, node.callee, memo) if node.callee else 0
            total += 1 + node.count * inner
        memo[key] = total
    return memo[key]


def check_budget(program: Program, reporter: Reporter) -> None:
    memo: dict[str, int] = {}
    for net in program.networks:
        size = expanded_size(program, net.graph, memo)
        if size > MAX_EXPANDED_NODES:
            reporter.error("limit", f"network `{net.name}` expands to {size:,} layers, over agqc's budget of "
                           f"{MAX_EXPANDED_NODES:,} (repeats multiplied out)", net.span,
                           "lower a repeat count: summaries, drawings and builds visit every copy")
