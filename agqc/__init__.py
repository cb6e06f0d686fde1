"""agqc: a compiler for .agq neural-network specs.

    import agqc
    spec = agqc.load("specs/cgan.agq")   # parse and check: shapes, names, precision
    model = spec.build()                 # an nn.Module; spec.summary(), spec.emit_python(), spec.draw("cgan.svg")

Importing agqc does not import torch; only building does.
"""
from .api import Spec, load
from .diagnostics import AgqcError, Diagnostic

# The one place the version is stated: pyproject.toml reads it (setuptools reads the assignment without
# importing agqc) and `agqc --version` prints it.
__version__ = "0.1.0"
__all__ = ["load", "Spec", "AgqcError", "Diagnostic", "__version__"]
