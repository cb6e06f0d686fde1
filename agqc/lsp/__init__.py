"""``agqc lsp``: a Language Server Protocol server for ``.agq`` specs (pygls over stdio).

Takes an editor's messages; gives diagnostics as you type, hover, go to definition, document
symbols, completion, formatting and quick fixes.  ``server.py`` wires pygls to the small modules
beside it (``convert``, ``analysis``, ``hover``, ``navigate``, ``complete``, ``actions``), which
know nothing of pygls and read agqc's own checker, op registry and formatter.  ``client`` is a small
stdio client (tests, benchmarks/lsp_latency.py, trying it by hand).  docs/editors.md says how to use it.
"""
