"""agqc's size limits, in one place: what a spec may ask for, and when weights are made.

Takes nothing; gives the limits every stage enforces.  Each limit keeps some
stage's work (memory, time) bounded on a 2-core laptop-sized machine, or
stops a mistake (a 40-digit size) early with a located diagnostic.
"""

# ---- reading a spec ----------------------------------------------------------------------
MAX_FILE_BYTES = 1_000_000  # the largest shipped file is about 20 kB
MAX_TOKENS = 100_000  # the largest shipped file (std.transformer) has about 3,000
MAX_PROGRAM_TOKENS = 200_000  # the spec and every file it imports: parsing stays under ~5 s
MAX_DIGITS = 30  # sizes stop at 2**40 (13 digits); a longer integer is surely a mistake
MAX_INT = 2**40  # sizes beyond this are surely mistakes, and would overflow counts
RECURSION_LIMIT = 20_000  # long constant sums and chains recurse once per term

# ---- checking ----------------------------------------------------------------------------
MAX_REPEAT = 100_000  # copies in one repeat
MAX_SIZE_TERMS = 64  # terms in one symbolic size (1+T is 2); GPT-2's MAC count has 2
MAX_SIZE_DEGREE = 12  # symbols multiplied in one term (B*T*T is 3); beyond, sums multiply out explosively
MAX_EXPANDED_NODES = 2_000_000  # layers with repeats multiplied out; Llama-3-8B has about 1,000

# ---- building and lowering ----------------------------------------------------------------
MAX_BUILD_LAYERS = 100_000  # each layer is a Python module object; Llama-3-8B has about 1,000
BUILD_WEIGHTS_LIMIT = 50_000_000  # parameters: `agqc build` above this makes no weights (.pt2: placeholders)
LOWER_WEIGHTS_LIMIT = 1_000_000_000  # parameters (4 GB of fp32): `agqc lower` above this exports placeholders

MAX_EXAMPLE_ELEMENTS = 1 << 26  # numbers in the example inputs an export traces with (256 MiB in fp32)

# ---- summaries and drawings --------------------------------------------------------------
SHOWN_COPIES = 64  # a repeat with more copies lists the first and counts the rest (they are identical)
MAX_DRAWN_ITEMS = 2_000  # beyond this Graphviz takes minutes and nobody can read the result
MAX_DRAWN_EDGES = 2_500  # arrows: dense skips make dot slow long before the boxes do (3,250 arrows: 11 s)
READABLE_ITEMS = 40  # the automatic depth keeps a drawing at most this busy (a slide's worth)
