"""Every diagnostic agqc can report, in one place (after mypy's errorcodes.py).

Takes nothing; gives ``Code``, an enum of short, stable codes (what users see
in ``error[code]`` and what tests name), and ``CODES``, each code's one-line
description that ``docs/language.md`` lists.  Messages are built by the stage
that detects the problem; the code is always a ``Code`` member, so a type
checker (and not only a test at run time) sees a misspelt one.
"""
from enum import StrEnum


class Code(StrEnum):
    # syntax and files
    SYNTAX = "syntax"
    IMPORT_NOT_FOUND = "import-not-found"
    IMPORT_CYCLE = "import-cycle"
    IMPORT_OUTSIDE_ROOT = "import-outside-root"
    # names
    UNKNOWN_NAME = "unknown-name"
    UNKNOWN_OP = "unknown-op"
    UNKNOWN_ARG = "unknown-arg"
    UNKNOWN_PRECISION = "unknown-precision"
    UNKNOWN_ROLE = "unknown-role"
    DUPLICATE_NAME = "duplicate-name"
    RESERVED_NAME = "reserved-name"
    # calls and values
    MISSING_ARG = "missing-arg"
    TOO_MANY_ARGS = "too-many-args"
    ARG_TYPE = "arg-type"
    BAD_VALUE = "bad-value"
    NOT_A_TENSOR = "not-a-tensor"
    TUPLE_VALUE = "tuple-value"
    UNPACK_COUNT = "unpack-count"
    SYMBOLIC_DIM = "symbolic-dim"
    RECURSIVE_BLOCK = "recursive-block"
    # shapes and dtypes
    SHAPE_MISMATCH = "shape-mismatch"
    BAD_HEADS = "bad-heads"
    BAD_TIE = "bad-tie"
    DTYPE_MISMATCH = "dtype-mismatch"
    RETURN_TYPE = "return-type"
    MISSING_RETURN = "missing-return"
    UNUSED_INPUT = "unused-input"
    REPEAT_SHAPE = "repeat-shape"
    MISPLACED = "misplaced"
    NO_MODEL = "no-model"
    LIMIT = "limit"
    # training (a model's `train` section)
    UNKNOWN_SETTING = "unknown-setting"
    DATA_MISSING = "data-missing"
    DATA_MISMATCH = "data-mismatch"
    OBJECTIVE_MISMATCH = "objective-mismatch"
    NOT_TRAINED = "not-trained"
    # warnings
    UNUSED_VALUE = "unused-value"
    PRECISION_KEPT = "precision-kept"


CODES: dict[Code, str] = {
    Code.SYNTAX: "the text does not follow the .agq grammar",
    Code.IMPORT_NOT_FOUND: "an imported file or standard-library module does not exist",
    Code.IMPORT_CYCLE: "files import each other in a cycle",
    Code.IMPORT_OUTSIDE_ROOT: "an import points outside the spec's folder and the standard library",
    Code.UNKNOWN_NAME: "a name that is not a tensor, constant, parameter or dimension in scope",
    Code.UNKNOWN_OP: "a call to something that is neither an op nor a block",
    Code.UNKNOWN_ARG: "a keyword argument the op or block does not take",
    Code.UNKNOWN_PRECISION: "a precision annotation agqc does not know",
    Code.UNKNOWN_ROLE: "a network role that is not one of the known roles",
    Code.DUPLICATE_NAME: "a name defined twice where it must be unique",
    Code.RESERVED_NAME: "a name generated PyTorch cannot hold (a Python keyword, a member of nn.Module)",
    Code.MISSING_ARG: "a required argument was not given",
    Code.TOO_MANY_ARGS: "more positional arguments than the op or block takes",
    Code.ARG_TYPE: "an argument of the wrong kind (tensor, integer, number, text, flag)",
    Code.BAD_VALUE: "an argument or dimension with a value that cannot work (zero, negative, too large)",
    Code.NOT_A_TENSOR: "a tensor was expected, something else was found",
    Code.TUPLE_VALUE: "a call returning several tensors used where one tensor is expected",
    Code.UNPACK_COUNT: "the number of names on the left does not match the values on the right",
    Code.SYMBOLIC_DIM: "a dimension must be a known number here but is symbolic",
    Code.RECURSIVE_BLOCK: "a block that (directly or not) calls itself",
    Code.SHAPE_MISMATCH: "a tensor's shape does not fit what the op or block expects",
    Code.BAD_HEADS: "a feature size that does not split evenly into attention heads, or heads that cannot be shared",
    Code.BAD_TIE: "a weight tied to a layer whose table does not fit, or a tied layer with a bias",
    Code.DTYPE_MISMATCH: "an integer tensor where a float one is expected, or the reverse",
    Code.RETURN_TYPE: "a block returns a shape other than the one it declares",
    Code.MISSING_RETURN: "a block or model flow with no return statement",
    Code.UNUSED_INPUT: "a declared input that nothing uses",
    Code.REPEAT_SHAPE: "a repeat body changes the shape of a tensor it carries",
    Code.MISPLACED: "a statement where it is not allowed (a network outside a model, say)",
    Code.NO_MODEL: "the spec defines no model to build",
    Code.LIMIT: "the spec exceeds one of agqc's size limits",
    Code.UNKNOWN_SETTING: "a train-section setting, dataset, objective, optimiser or other training word agqc does "
                          "not know, or one given where it does not belong",
    Code.DATA_MISSING: "a data file or package the train section names is not there (agqc never downloads)",
    Code.DATA_MISMATCH: "training data whose shape or dtype does not fit the model input it feeds",
    Code.OBJECTIVE_MISMATCH: "an objective the model's roles or outputs cannot serve",
    Code.NOT_TRAINED: "a network the objective trains without an optimiser, or one frozen in every stage",
    Code.UNUSED_VALUE: "a tensor computed and never used",
    Code.PRECISION_KEPT: "a precision-sensitive op kept at fp32 inside a lower-precision region",
}
assert set(CODES) == set(Code), "every code has its description"
