"""The op registry: every primitive op declared once, with all its pieces.

Takes nothing; gives ``OpDef`` (signature, shape rule, parameter count, MAC
count, torch lowering, drawing label), ``REGISTRY`` (name -> OpDef, filled by
the modules in this package), ``lookup`` and ``bind_args``, which matches a
call's arguments to a signature (shared with block calls).  Shape rules raise
``ShapeError``; the elaborator turns it into a located diagnostic.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Mapping

from ..errorcodes import Code
from ..types import Dim, TensorType

REQUIRED = object()


@dataclass(frozen=True)
class Sym:
    """A symbolic dimension used as a value (``normal(B, 100)``)."""

    name: str


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # int | float | bool | str | dim | int? | name
    default: Any = REQUIRED
    choices: tuple = ()
    variadic: bool = False  # collects the remaining positional values
    valid: Callable[[Any], bool] | None = None  # a range check, e.g. a probability
    valid_text: str = ""  # what `valid` demands, for the message
    keyword: bool = False  # may only be given by name (``tie="wte"``)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and not self.variadic


@dataclass
class OpCall:
    """One use of an op, as a shape rule or lowering sees it."""

    inputs: list[TensorType]
    args: dict[str, Any]
    outputs: list[TensorType] = field(default_factory=list)
    refs: dict[str, Any] = field(default_factory=dict)  # "node" arguments: the named layer's op, args, outputs

    @property
    def x(self) -> TensorType:
        return self.inputs[0]

    @property
    def out(self) -> TensorType:
        return self.outputs[0]

    def tensor(self, name: str) -> TensorType | None:
        """An optional keyword tensor (``mask=``), or None when the call left it out."""
        index = self.args.get(name)
        return self.inputs[index] if index is not None else None


@dataclass
class LowerCtx:
    """What a torch lowering needs: the input expressions and a few helpers."""

    inputs: list[str]  # Python expressions for the input tensors (casts applied)
    call: OpCall
    attr: str  # "self.linear1": where a module-backed op lives
    dtype: str | None  # "torch.bfloat16", or None for the default float32
    dim: Callable[[Dim], str]  # a dimension as a Python expression
    device: str  # a Python expression for the device
    precision: Any = None  # the node's annotated Precision: fp8/int8/int4/binary layers are quantised

    def dtype_kw(self) -> str:
        return f", dtype={self.dtype}" if self.dtype else ""

    @property
    def quantized(self) -> bool:
        return self.precision is not None and self.precision.quantized

    def module_class(self, name: str) -> str:
        """``nn.Linear``, or ``QuantLinear`` (from the generated file) in a low-bit region."""
        return f"Quant{name}" if self.quantized else f"nn.{name}"

    def quant_kw(self) -> str:
        if not self.quantized:
            return ""
        p = self.precision
        return f', precision="{p.variant}"' + (", activations=True" if p.activations else "")


class ShapeError(Exception):
    """A shape rule's complaint, with the expected and the found shape."""

    def __init__(self, message: str, expected: str | None = None, found: str | None = None,
                 input_index: int | None = 0, code: Code = Code.SHAPE_MISMATCH, arg: str | None = None):
        super().__init__(message)
        self.message, self.expected, self.found = message, expected, found
        self.input_index, self.code, self.arg = input_index, code, arg


class Draw(StrEnum):
    """How a drawing shows an op."""

    BOX = "box"
    MERGE = "merge"  # a small circle: +, ×, concat
    NOISE = "noise"  # random input
    SAMPLE = "sample"  # reparameterised sampling


class TensorRT(StrEnum):
    """Where ``agqc lower --target tensorrt`` runs an op."""

    NATIVE = "native"  # in TensorRT, at the precision annotated (or kept, for precision-sensitive ops)
    IDENTITY = "identity"  # dropped: the op is the identity at inference
    RECURRENT = "recurrent"  # kept in PyTorch: agqc does not hand recurrent layers to TensorRT
    RANDOM = "random"  # kept in PyTorch: random sampling


@dataclass(frozen=True)
class OpDef:
    name: str
    summary: str
    inputs: int  # tensor inputs; -1: one or more; 0: none
    args: tuple[Arg, ...]
    infer: Callable[[OpCall], list[TensorType]]
    params: Callable[[OpCall], int]
    macs: Callable[[OpCall], Dim]
    lower: Callable[[LowerCtx], tuple[str | None, str]]  # (module in __init__, forward expr)
    label: Callable[[OpCall], str]
    input_dtype: str = "float"  # float | int | any
    precision_sensitive: bool = False
    random: bool = False
    draw: Draw = Draw.BOX
    tensor_args: tuple[str, ...] = ()  # optional tensors given by keyword (attention's mask=, bias=)
    helpers: Any = ()  # names in ``ops.helpers`` the generated source needs, or a function of the call's args
    module_if: Callable[[dict], bool] = lambda args: True  # a use without state of its own (a tied linear)
    quantized_params: Callable[[OpCall], int] | None = None  # weights stored low-bit under @int8 etc. (not biases)
    channels: Callable[[OpCall], int] | None = None  # output channels: one quantisation scale each
    tensorrt: TensorRT = TensorRT.NATIVE
    aten: tuple[str, ...] = ()  # the torch.ops.aten overloads it lowers to, where TensorRT must leave them alone

    def __post_init__(self) -> None:
        if (self.quantized_params is None) != (self.channels is None):
            raise ValueError(f"op {self.name}: a quantised layer declares both its weights and its channels")
        if self.random and self.tensorrt is TensorRT.NATIVE:
            object.__setattr__(self, "tensorrt", TensorRT.RANDOM)

    def helpers_for(self, args: Mapping[str, Any]) -> tuple[str, ...]:
        """The names in ``ops.helpers.HELPERS`` that a use of this op with these arguments calls."""
        return tuple(self.helpers(args) if callable(self.helpers) else self.helpers)

    def tied_layers(self, args: Mapping[str, Any]) -> tuple[str, ...]:
        """The earlier layers whose weights this use shares (its ``node`` arguments that are set)."""
        return tuple(args[a.name] for a in self.args if a.kind == "node" and args.get(a.name))

    @property
    def has_module(self) -> bool:
        """Whether the lowering keeps state in an nn.Module attribute."""
        return self.lower is not None and getattr(self.lower, "module", False)


REGISTRY: dict[str, OpDef] = {}
_loaded = False


def declare(op: OpDef) -> OpDef:
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name} declared twice")
    REGISTRY[op.name] = op
    return op


Lowering = Callable[[LowerCtx], tuple[str | None, str]]


def module_lowering(fn: Lowering) -> Lowering:
    """Marks a lowering whose first result is an nn.Module constructor."""
    fn.module = True  # type: ignore[attr-defined]
    return fn


def lookup(name: str) -> OpDef | None:
    _load()
    return REGISTRY.get(name)


def all_ops() -> dict[str, OpDef]:
    _load()
    return dict(REGISTRY)


def _load() -> None:
    global _loaded
    if not _loaded:  # a flag, not "is REGISTRY empty": a test may declare a toy op before the first lookup
        _loaded = True
        from . import attention, functional, indexing, layers, sequence  # noqa: F401  (each declares its ops)


# ---- argument binding, shared by ops and blocks ----------------------------
@dataclass
class BindProblem:
    code: Code
    message: str
    index: int | None = None  # positional index, or None
    kwarg: str | None = None
    note: str | None = None


def kind_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "int?":
        return value is None or kind_ok("int", value)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("str", "name", "node"):
        return isinstance(value, str)
    if kind == "dim":
        return kind_ok("int", value) or isinstance(value, Sym)
    return True  # "any"


KIND_WORDS = {"int": "an integer", "int?": "an integer", "float": "a number",
              "bool": "true or false", "str": "a string", "name": "a name",
              "node": 'the `as` name of an earlier layer, in quotes ("wte")',
              "dim": "a dimension (an integer or a symbolic size)", "any": "a value"}


def describe(value: Any) -> str:
    if not isinstance(value, (bool, int, float, str, Sym, list, tuple, type(None))):
        from ..evaluate import kind_of  # a tensor or a network where a plain value belongs
        return kind_of(value)
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, Sym):
        return f"symbolic size `{value.name}`"
    if isinstance(value, str):
        return f'"{value}"'
    return f"`{value}`"


def bind_args(sig: tuple[Arg, ...], positional: list[Any], kwargs: dict[str, Any]
              ) -> tuple[dict[str, Any], list[BindProblem]]:
    """Match values to a signature: (bound dict, problems list).

    A keyword that is not in the signature but is a near miss of a required
    argument left out (``kernel_size=3`` for ``kernel``) stands in for it: one
    ``unknown-arg`` problem, no ``missing-arg`` besides.
    """
    from difflib import get_close_matches

    from ..diagnostics import did_you_mean

    bound: dict[str, Any] = {}
    problems: list[BindProblem] = []
    fixed = [a for a in sig if not a.variadic and not a.keyword]
    variadic = next((a for a in sig if a.variadic), None)
    for i, value in enumerate(positional):
        if i < len(fixed):
            bound[fixed[i].name] = value
        elif variadic is not None:
            bound.setdefault(variadic.name, []).append(value)
        else:
            listed = ", ".join(a.name for a in fixed)
            allowed = f"at most {len(fixed)} ({listed})" if fixed else "none"
            extra = positional[i:]
            which = ", ".join(describe(v) for v in extra[:4]) + (", ..." if len(extra) > 4 else "")
            problems.append(BindProblem(Code.TOO_MANY_ARGS,
                                        f"too many arguments: takes {allowed} besides its input tensors, "
                                        f"got {len(positional)}; {which} {'is' if len(extra) == 1 else 'are'} "
                                        "extra", index=i))
            break
    names = {a.name for a in sig}
    missing = {a.name for a in sig if a.required and a.name not in bound and a.name not in kwargs}
    meant: set[str] = set()  # required arguments a misspelt keyword stands for: one complaint, not two
    for key, value in kwargs.items():
        if key not in names:
            stands_for = get_close_matches(key, sorted(missing - meant), n=1, cutoff=0.6)
            if stands_for:
                meant.add(stands_for[0])
            near = (f"did you mean `{stands_for[0]}`? (it is required, and not given)" if stands_for
                    else did_you_mean(key, names))
            problems.append(BindProblem(Code.UNKNOWN_ARG, f"no argument named `{key}`", kwarg=key, note=near))
        elif key in bound:
            problems.append(BindProblem(Code.DUPLICATE_NAME, f"argument `{key}` given twice", kwarg=key))
        else:
            bound[key] = value
    for a in sig:
        if a.name not in bound:
            if a.required:
                if a.name not in meant:
                    problems.append(BindProblem(Code.MISSING_ARG, f"missing required argument `{a.name}`"))
            else:
                bound[a.name] = [] if a.variadic else a.default
    for idx, a in enumerate(sig):  # a variadic argument always comes last
        values = bound.get(a.name, []) if a.variadic else [bound.get(a.name)]
        if a.name not in bound:
            continue  # missing: already reported, not also a type error
        for j, v in enumerate(values):
            if not (v is a.default or kind_ok(a.kind, v)):
                problems.append(_type_problem(a, v, idx + j, kwargs))
            elif a.valid is not None and v is not a.default and not a.valid(v):
                problems.append(BindProblem(Code.BAD_VALUE, f"`{a.name}` must be {a.valid_text}, got {describe(v)}",
                                            index=None if a.name in kwargs else idx + j,
                                            kwarg=a.name if a.name in kwargs else None))
            elif a.choices and v not in a.choices and v is not a.default:
                problems.append(BindProblem(Code.BAD_VALUE, f"`{a.name}` must be one of "
                                            + ", ".join(describe(c) for c in a.choices)
                                            + f"; got {describe(v)}",
                                            index=None if a.name in kwargs else idx,
                                            kwarg=a.name if a.name in kwargs else None))
    return bound, problems


def _type_problem(a: Arg, v: Any, idx: int, kwargs: Mapping[str, Any]) -> BindProblem:
    code = Code.SYMBOLIC_DIM if isinstance(v, Sym) and a.kind in ("int", "int?") else Code.ARG_TYPE
    return BindProblem(code, f"`{a.name}` expects {KIND_WORDS.get(a.kind, a.kind)}, found {describe(v)}",
                       index=None if a.name in kwargs else idx,
                       kwarg=a.name if a.name in kwargs else None)
