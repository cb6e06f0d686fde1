"""Every diagnostic agqc can report, in one place (after mypy's errorcodes.py).

Takes nothing; gives ``CODES``, a map from a short, stable code (what users
see in ``error[code]`` and what tests name) to a one-line description that
``docs/language.md`` lists.  Messages are built by the stage that detects the
problem, but every code used anywhere must be declared here: a test checks it.
"""

CODES: dict[str, str] = {
    # syntax and files
    "syntax": "the text does not follow the .agq grammar",
    "import-not-found": "an imported file or standard-library module does not exist",
    "import-cycle": "files import each other in a cycle",
    "import-outside-root": "an import points outside the spec's folder and the standard library",
    # names
    "unknown-name": "a name that is not a tensor, constant, parameter or dimension in scope",
    "unknown-op": "a call to something that is neither an op nor a block",
    "unknown-arg": "a keyword argument the op or block does not take",
    "unknown-precision": "a precision annotation agqc does not know",
    "unknown-role": "a network role that is not one of the known roles",
    "duplicate-name": "a name defined twice where it must be unique",
    # calls and values
    "missing-arg": "a required argument was not given",
    "too-many-args": "more positional arguments than the op or block takes",
    "arg-type": "an argument of the wrong kind (tensor, integer, number, text, flag)",
    "bad-value": "an argument or dimension with a value that cannot work (zero, negative, too large)",
    "not-a-tensor": "a tensor was expected, something else was found",
    "tuple-value": "a call returning several tensors used where one tensor is expected",
    "unpack-count": "the number of names on the left does not match the values on the right",
    "symbolic-dim": "a dimension must be a known number here but is symbolic",
    "recursive-block": "a block that (directly or not) calls itself",
    # shapes and dtypes
    "shape-mismatch": "a tensor's shape does not fit what the op or block expects",
    "bad-heads": "a feature size that does not split evenly into attention heads, or heads that cannot be shared",
    "bad-tie": "a weight tied to a layer whose table does not fit, or a tied layer with a bias",
    "dtype-mismatch": "an integer tensor where a float one is expected, or the reverse",
    "return-type": "a block returns a shape other than the one it declares",
    "missing-return": "a block or model flow with no return statement",
    "unused-input": "a declared input that nothing uses",
    "repeat-shape": "a repeat body changes the shape of a tensor it carries",
    "misplaced": "a statement where it is not allowed (a network outside a model, say)",
    "no-model": "the spec defines no model to build",
    "limit": "the spec exceeds one of agqc's size limits",
    # warnings
    "unused-value": "a tensor computed and never used",
    "precision-kept": "a precision-sensitive op kept at fp32 inside a lower-precision region",
}
