"""The command line: ``agqc build|check|draw|emit|fmt|lower|summary|ops|train|eval|sample|sweep|lsp|serve``.

Takes argv; returns an exit status: 0 fine, 1 a problem in the user's spec
(every diagnostic printed), 2 a bug in agqc.  ``check`` and ``summary``
never import torch.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .diagnostics import AgqcError, render

EXAMPLES = """examples:
  agqc build specs/cgan.agq            # check, then write build/cgan/: .py, .dot, .svg, summary, .pt2
  agqc build specs/vae.agq -o out/     # write into out/ instead
  agqc check specs/*.agq               # shapes, names and precision only (fast, no torch)
  agqc draw specs/cgan.agq -o cgan.png # a drawing for a slide (svg, png, pdf, dot or html)
  agqc draw specs/cgan.agq --depth 0   # networks as single boxes: the model at a glance
  agqc emit specs/cgan.agq -o cgan.py  # standalone PyTorch source
  agqc fmt --check specs/*.agq         # is every spec in the canonical layout? (--write fixes them)
  agqc summary specs/gan.agq --json    # per-layer parameters, shapes, precision, MACs
  agqc summary specs/gpt2.agq --depth 1  # each block one row with its totals: GPT2Block ×12
  agqc lower specs/cgan.agq --target onnx            # an ONNX file (checked with onnxruntime in the tests)
  agqc lower specs/gpt2.agq --target tensorrt --dry-run  # which node runs in which precision on TensorRT
  agqc ops                             # the ops the language knows
  agqc train specs/cgan.agq            # train as the spec's train section says: runs/cgan/
  agqc sample specs/cgan.agq --weights runs/cgan/best.safetensors --label 3 -o three.png
  agqc eval specs/dnn_classifier.agq --weights runs/dnn_classifier/best.safetensors
  agqc emit --train specs/vae.agq -o train_vae.py   # a standalone training script
"""


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are the user's: exit 1 like any other user error (2 means a bug in agqc)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="agqc", description="Compile .agq neural-network specs to PyTorch.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__
    from .policy import BUILD_WEIGHTS_LIMIT
    p.add_argument("--version", action="version", version=f"agqc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    b = sub.add_parser("build", help="check and write module source, drawing, summary and export")
    b.add_argument("spec")
    b.add_argument("-o", "--output", help="output folder (default: build/<spec name>/)")
    b.add_argument("--deploy", action="store_true",
                   help="store fp8/int8/int4/binary layers packed with their scales (NAME.deploy.pt, and the .pt2)")
    b.add_argument("--weights", metavar="FILE", help="trained weights to load: a run's .safetensors, or a state_dict "
                   "saved with torch.save")
    b.add_argument("--real-weights", action="store_true",
                   help=f"make real weights even above {BUILD_WEIGHTS_LIMIT:,} parameters (4 bytes each), so the "
                        ".pt2 files hold them and --weights and --deploy work (default above the limit: programs "
                        "with placeholder weights on the meta device)")
    c = sub.add_parser("check", help="check specs without building anything")
    c.add_argument("specs", nargs="+")
    _draw_parser(sub)
    e = sub.add_parser("emit", help="print (or write) standalone PyTorch source")
    e.add_argument("spec")
    e.add_argument("-o", "--output", help="file to write instead of printing")
    e.add_argument("--train", action="store_true",
                   help="a standalone training script (torch and the standard library only) that trains as "
                        "`agqc train` does")
    s = sub.add_parser("summary", help="per-node table: shapes, parameters, precision, MACs")
    s.add_argument("spec")
    s.add_argument("--json", action="store_true",
                   help="print JSON instead of a table: every row, each repeat copy listed")
    s.add_argument("--depth", type=_depth, metavar="N",
                   help="show blocks nested up to N deep, each deeper one as a row with its totals, as "
                        "`agqc draw --depth` (0: one row per network; default: every level, each repeat as its "
                        "first copy and one row counting the rest)")
    s.add_argument("--weights", metavar="FILE", help="trained weights: checked against the model and described")
    fm = sub.add_parser("fmt", help="print a spec in the one canonical layout (comments kept)")
    fm.add_argument("specs", nargs="+")
    fm.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not formatted")
    fm.add_argument("--write", action="store_true", help="rewrite the files in place")
    low = sub.add_parser("lower", help="lower to a deployable program: torch.export, ONNX or TensorRT")
    low.add_argument("spec")
    low.add_argument("--target", choices=("export", "onnx", "tensorrt"), required=True)
    low.add_argument("-o", "--output", help="file to write (default: build/<spec name>/<spec name>.<ext>)")
    low.add_argument("--network", metavar="NAME", help="lower only this network (default: the whole model)")
    low.add_argument("--weights", metavar="FILE", help="trained weights to lower with (a run's .safetensors)")
    low.add_argument("--dry-run", action="store_true",
                     help="list which nodes would run in which precision, and which would fall back to PyTorch")
    sub.add_parser("ops", help="list the ops with their arguments")
    from .cli_tools import add_parsers as add_tool_parsers
    from .cli_train import add_parsers, add_set
    add_parsers(sub)
    add_tool_parsers(sub)
    for name in ("build", "check", "emit", "summary", "lower", "draw"):
        add_set(sub.choices[name])
    return p


FORMATS = ("svg", "png", "pdf", "dot")  # as backends.drawing.FORMATS, which `agqc check` need not import
DRAW_FORMATS = FORMATS + ("html",)  # html: one interactive page (backends/drawing/html.py)


def _draw_parser(sub) -> None:
    d = sub.add_parser("draw", help="draw the model with Graphviz: svg, png, pdf, dot or an interactive html page",
                       description="Draw a spec: networks and blocks as nested boxes, tensor shapes on the edges, "
                                   "one colour per precision.")
    d.add_argument("spec")
    d.add_argument("-o", "--output", help="file to write (default: build/<spec name>/<spec name>.<format>)")
    d.add_argument("--format", choices=DRAW_FORMATS,
                   help="default: the output's suffix, else svg; html: one self-contained page where a click "
                        "opens a block and hovering a node shows its shapes, parameters, precision and .agq line")
    d.add_argument("--depth", type=_depth, metavar="N",
                   help="collapse blocks nested deeper than N (0: each network one box; default: the deepest "
                        "level that fits a 16:9 slide with text of 12 px or more, long chains wrapped into columns; "
                        "a warning when nothing fits)")
    d.add_argument("--expand", metavar="NAME", action="append", default=[],
                   help="open this too, the rest kept at the depth: a node (attn, h.0/attn), one copy of a repeat "
                        "(h.0; h opens the first) or a block by name (GPT2Block: every instance the drawing "
                        "shows, else the first); repeatable")
    d.add_argument("--range", metavar="FROM:TO",
                   help="draw only the part between two named nodes (wpe:ln_f), as Keras' plot_model(layer_range)")
    d.add_argument("--network", metavar="NAME", help="draw only this network")
    d.add_argument("--block", metavar="NAME", help="draw only this block, as the model first uses it")
    d.add_argument("--direction", choices=("TB", "LR"), default="TB", help="top-to-bottom (default) or left-to-right")
    d.add_argument("--no-shapes", action="store_true", help="leave tensor shapes off the edges")
    d.add_argument("--no-params", action="store_true", help="leave parameter counts off")
    d.add_argument("--dpi", type=_dpi, metavar="N", help="a PNG's resolution in dots per inch (default: 150)")
    d.add_argument("--theme", choices=("default", "print", "colorblind"), default="default",
                   help="print: black on white, readable in greyscale (precision written in each box); "
                        "colorblind: Okabe-Ito colours, safe for colour-blind readers")
    d.add_argument("--frozen", metavar="STAGE",
                   help="mark (\u2744, dashed border) the networks, blocks and layers this train stage freezes")


def _dpi(text: str) -> int:
    if not text.isdigit() or not 10 <= int(text) <= 2400:
        raise argparse.ArgumentTypeError(f"expected dots per inch from 10 to 2400, found {text!r}")
    return int(text)


def _depth(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a depth of 0 or more, found {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with _terminate_as_interrupt():
        return _run(args)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a `kill`, a CI time-out) unwinds like Ctrl-C, so half-made outputs are cleaned up."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args) -> int:
    try:
        return COMMANDS[args.command](args)
    except AgqcError as err:
        for d in err.diagnostics:
            print(render(d), file=sys.stderr)
        n = len(err.errors)
        print(f"agqc: {n} error{'s' if n != 1 else ''}; nothing written", file=sys.stderr)
        return 1
    except OSError as err:  # the file system said no: a path onto a file, under a file, read-only, full
        where = f"{err.filename}: " if err.filename else ""
        print(f"agqc: error: cannot write {where}{err.strerror or err}; nothing written", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - anything else is our bug, said plainly
        import traceback  # json and traceback are imported where used: `agqc check` stays quick to start
        print("agqc: internal error: this is a bug in agqc, not in your spec. Please report it with the spec "
              "and this message:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr, limit=-6)
        return 2


def _load(path: str, overrides: list[str] | None = None):
    from .api import load
    spec = load(path, overrides or ())
    for w in spec.warnings:
        print(render(w, spec.program.sources), file=sys.stderr)
    return spec


def cmd_check(args) -> int:
    status = 0
    for path in args.specs:
        try:
            spec = _load(path, args.sets)
            print(f"{path}: ok ({_networks_line(spec.parameter_counts())})")
        except AgqcError as err:
            for d in err.diagnostics:
                print(render(d), file=sys.stderr)
            n = len(err.errors)
            print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
            status = 1
    return status


def _networks_line(counts: dict[str, int]) -> str:
    """`2 networks: G 779,305 parameters, D 942,753`: each network's parameters, in the model's order."""
    head = f"{len(counts)} network{'s' if len(counts) != 1 else ''}"
    if not counts:
        return head
    each = [f"{name} {n:,}" + (" parameters" if i == 0 else "") for i, (name, n) in enumerate(counts.items())]
    return f"{head}: {', '.join(each)}"


def cmd_emit(args) -> int:
    spec = _load(args.spec, args.sets)
    if args.train:
        from .cli_train import _trainable
        if _trainable(args.spec) is None:
            return 1
        from .train.emit import emit_training_script
        try:
            source = emit_training_script(spec)
        except ValueError as why:
            return _error(str(why))
    else:
        source = spec.emit_python()
    if args.output:
        from .build import write_atomically
        write_atomically({Path(args.output): source})
    else:
        sys.stdout.write(source)
    return 0


def cmd_summary(args) -> int:
    import json
    spec = _load(args.spec, args.sets)
    summary = spec.summary()
    if args.weights:  # only then is torch imported: they are loaded into the built model to show they fit
        from .cli_train import weights_report
        report = weights_report(spec, Path(args.weights))
        if report is None:
            return 1
    sys.stdout.write(json.dumps(summary.as_dict(args.depth), indent=2) + "\n" if args.json
                     else summary.text(args.depth))
    if args.weights and not args.json:
        print(report)
    return 0


def cmd_build(args) -> int:
    from .build import BuildError, build, output_stem
    spec = _load(args.spec, args.sets)
    stem = output_stem(args.spec)
    out = Path(args.output) if args.output else Path("build") / stem
    try:
        result = build(spec, stem, out, args.deploy, Path(args.weights) if args.weights else None,
                       args.real_weights)
    except BuildError as err:
        print(f"agqc: error: {err}; nothing written", file=sys.stderr)
        return 1
    sys.stdout.write(result.summary_text)
    for warning in result.warnings:
        print(f"agqc: warning: {warning}", file=sys.stderr)
    print(f"wrote {out}/: " + ", ".join(p.name for p in result.files))
    for note in result.notes:
        print(f"note: {note}")
    return 0


def cmd_draw(args) -> int:
    from .backends.drawing import INSTALL_HINT, DrawingTooBig, NotReadable, RenderError, have_dot, render_bytes
    from .build import output_stem, write_atomically
    spec = _load(args.spec, args.sets)
    spec.require_model()
    import warnings
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            dot = spec.to_dot(args.depth, args.network, args.direction, not args.no_shapes, not args.no_params,
                              args.block, args.theme, args.frozen, tuple(args.expand), args.range)
        for warning in said:
            if issubclass(warning.category, NotReadable):
                print(f"agqc: warning: {warning.message}", file=sys.stderr)
    except (KeyError, DrawingTooBig) as err:
        print(f"agqc: error: {err.args[0]}", file=sys.stderr)
        return 1
    suffix = Path(args.output).suffix.lstrip(".") if args.output else ""
    fmt = args.format or (suffix if suffix in DRAW_FORMATS else "svg")
    stem = output_stem(args.spec)
    out = Path(args.output) if args.output else Path("build") / stem / f"{stem}.{fmt}"
    if fmt == "html":
        if not have_dot():
            print(f"agqc: error: Graphviz's `dot` program was not found, so no html page was drawn.\n"
                  f"  To draw it, {INSTALL_HINT}.", file=sys.stderr)
            return 1
        try:
            with warnings.catch_warnings(record=True):  # said above
                page = spec.to_html(args.depth, args.network, args.direction, not args.no_shapes,
                                    not args.no_params, args.block, args.theme, args.frozen, tuple(args.expand),
                                    args.range)
        except RenderError as err:
            print(f"agqc: error: {err}; nothing written", file=sys.stderr)
            return 1
        write_atomically({out: page})
        print(f"wrote {out}")
        return 0
    if fmt != "dot" and not have_dot():
        dot_path = out.with_suffix(".dot")
        write_atomically({dot_path: dot})
        print(f"agqc: error: Graphviz's `dot` program was not found, so no {fmt} was drawn; wrote {dot_path} "
              f"instead.\n  To draw it, {INSTALL_HINT}.\n  Then run: dot -T{fmt} {dot_path} -o {out}",
              file=sys.stderr)
        return 1
    try:
        content = dot if fmt == "dot" else render_bytes(dot, fmt, args.dpi)
    except RenderError as err:
        print(f"agqc: error: {err}; nothing written", file=sys.stderr)
        return 1
    write_atomically({out: content})
    print(f"wrote {out}")
    return 0


def cmd_fmt(args) -> int:
    from .fmt import format_source, read_spec, short_diff
    if args.check and args.write:
        print("agqc fmt: give --check (change nothing) or --write (rewrite), not both", file=sys.stderr)
        return 1
    from .build import write_atomically
    status, changed = 0, []
    for name in args.specs:
        text = None
        try:
            text = read_spec(Path(name), name)
            out = format_source(text, name)
        except AgqcError as err:
            for d in err.diagnostics:
                print(render(d, {name: text} if text is not None else None), file=sys.stderr)
            status = 1
            continue
        if args.check:
            if out != text:
                changed.append(name)
                print(f"{name}: not formatted", file=sys.stderr)
                sys.stdout.write(short_diff(text, out, name))
        elif args.write:
            if out != text:
                write_atomically({Path(name): out})
                print(f"formatted {name}", file=sys.stderr)
        else:
            sys.stdout.write(out)
    if changed:
        n = len(changed)
        print(f"agqc fmt: {n} file{'s' if n != 1 else ''} would change; run `agqc fmt --write` to fix",
              file=sys.stderr)
        status = 1
    return status


def cmd_lower(args) -> int:
    from .backends.lower import LowerError, default_output, dry_run, lower
    from .build import write_atomically
    spec = _load(args.spec, args.sets)
    spec.require_model()
    if args.network is not None:
        try:
            spec.require_network(args.network)
        except KeyError as err:
            return _error(err.args[0])
    out = Path(args.output) if args.output else default_output(args.spec, args.target, args.network)
    if args.dry_run:
        sys.stdout.write(dry_run(spec, args.target, args.network, out))
        return 0
    try:
        result = lower(spec, args.target, args.network, out, Path(args.weights) if args.weights else None)
    except LowerError as err:
        return _error(str(err))
    try:
        write_atomically({out: result.content})
    except OSError as err:
        return _error(f"cannot write {out}: {err.strerror or err}")
    print(f"wrote {out}: {result.headline}")
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _error(message: str) -> int:
    print(f"agqc: error: {message}", file=sys.stderr)
    return 1


def cmd_ops(args) -> int:
    from .ops.registry import all_ops
    for name, op in sorted(all_ops().items()):
        sig = ", ".join(a.name + ("..." if a.variadic else "") + ("" if a.required or a.variadic
                        else f"={_show(a.default)}") for a in op.args)
        ins = {0: "", 1: "x", 2: "a, b", 3: "q, k, v", -1: "x, ..."}[op.inputs]
        tensors = ", ".join(f"{t}=tensor" for t in op.tensor_args)
        print(f"{name}({', '.join(p for p in (ins, sig, tensors) if p)})\n    {op.summary}")
    return 0


def _show(value) -> str:
    return {True: "true", False: "false", None: "none"}.get(value, repr(value)) if not isinstance(value, (int, float)) \
        or isinstance(value, bool) else str(value)


def _training_commands() -> dict:
    from .cli_tools import COMMANDS as TOOLS
    from .cli_train import COMMANDS as TRAINING
    return {**TRAINING, **TOOLS}


COMMANDS = {"build": cmd_build, "check": cmd_check, "draw": cmd_draw, "emit": cmd_emit, "fmt": cmd_fmt,
            "lower": cmd_lower, "summary": cmd_summary, "ops": cmd_ops, **_training_commands()}
