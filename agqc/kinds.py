"""The kinds of things in agqc's IR, as enums (StrEnum: they print and compare as their text).

Takes nothing; gives ``NodeKind`` (what an IR node is), ``GraphKind`` (what an
IR graph is), ``DType`` (a tensor's element kind) and ``Severity`` (of a
diagnostic).  Their values are the words users see in dumps and JSON.
"""
from enum import StrEnum


class NodeKind(StrEnum):
    INPUT = "input"  # a graph's input tensor
    OP = "op"  # one primitive op from the registry
    CALL = "call"  # a block or network called: its own graph
    REPEAT = "repeat"  # a repeat body run N times, each copy with its own weights


class GraphKind(StrEnum):
    BLOCK = "block"  # one instantiation of a block
    NETWORK = "network"  # a block instantiated as one of the model's networks
    REPEAT = "repeat"  # the body of a repeat
    MODEL = "model"  # the model's flow


class DType(StrEnum):
    FLOAT = "float"
    INT = "int"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
