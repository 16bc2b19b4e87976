"""``moderncnn summary``, ``compare`` and ``explain``: printing :mod:`moderncnn.inspect`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from moderncnn.cli import add_command
from moderncnn.cli.output import print_json, print_table
from moderncnn.cli.types import INPUT_SIZE, NON_NEGATIVE, flag, output
from moderncnn.inspect import summarize
from moderncnn.inspect.compare import DEFAULT_MODELS, WARMUP_RUNS, compare, plot_comparison
from moderncnn.inspect.explain import worked_examples
from moderncnn.inspect.history import ILSVRC_TOP5
from moderncnn.models import model_info
from moderncnn.validate import integer

MAX_RUNS = 1000
RUNS = flag(integer, minimum=1, maximum=MAX_RUNS)

_LEGEND = (
    "MACs: multiply-accumulates of convolutions and linear layers (FLOPs = 2 x MACs).\n"
    "RF: receptive field in input pixels, the largest over all paths into the layer; "
    "jump: input pixels between neighbouring outputs.\n"
    "memory: size of the layer's output."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub,
        "summary",
        run_summary,
        "Per-layer summary of a model at batch 1, measured from its modules "
        "(built on the meta device: nothing is allocated).",
    )
    p.add_argument("model", help="a registered model, see `moderncnn models`")
    _input_option(p)
    p.add_argument(
        "--depth",
        type=NON_NEGATIVE,
        default=2,
        help="module nesting depth to list (default 2; 0: totals)",
    )

    p = _command(
        sub,
        "compare",
        run_compare,
        "Compare models: year, depth, measured parameters, GMACs, final receptive field and "
        "CPU latency, next to the top-5 error each paper reports.",
    )
    p.add_argument(
        "models", nargs="*", metavar="MODEL", help=f"default: {' '.join(DEFAULT_MODELS)}"
    )
    _input_option(p)
    p.add_argument(
        "--runs",
        type=RUNS,
        default=10,
        help=f"timed runs per model (default 10, at most {MAX_RUNS}: a median steady to "
        "a few per cent; VGG-16's thousand runs take minutes)",
    )
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument(
        "--plot", metavar="FILE.png", type=output(".png"), help="plot top-5 error against GMACs"
    )

    _command(
        sub,
        "explain",
        run_explain,
        "3x3 stacks against 5x5, 1x1 reductions, GoogLeNet without its reductions, and the "
        "ILSVRC top-5 error history.",
    )


def _command(
    sub: argparse._SubParsersAction, name: str, func: Callable, description: str
) -> argparse.ArgumentParser:
    """A subcommand running ``func``, with ``--json``."""
    p = add_command(sub, name, description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=func)
    return p


def _input_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input",
        metavar="CxHxW",
        type=INPUT_SIZE,
        help="input size, e.g. 3x224x224 (default: the model's own)",
    )


def _si(n: float) -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= factor:
            return f"{n / factor:.2f}{prefix}"
    return f"{n:g}"


def _bytes(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _dims(v: object) -> str:
    """``(3, 224, 224) -> "3x224x224"``, a number as itself, None as "-"."""
    if v is None:
        return "-"
    return "x".join(map(str, v)) if isinstance(v, tuple | list) else str(v)


def run_summary(args: argparse.Namespace) -> int:
    s = summarize(args.model, args.input, args.depth)
    options = model_info(args.model).options
    if args.json:
        print_json(s.to_dict() | {"options": options})
        return 0
    print(f"{s.model} at {_dims(s.input)}, batch 1, eval mode\n{_LEGEND}\n")
    if s.layers:
        rows = [
            [
                "  " * (layer.depth - 1) + layer.name,
                layer.type,
                _dims(layer.output_shape),
                layer.params,
                _si(layer.macs),
                _dims(layer.field and layer.field.size),
                _dims(layer.field and layer.field.jump),
                None if layer.memory is None else _bytes(layer.memory),
            ]
            for layer in s.layers
        ]
        headers = ["layer", "type", "output", "params", "MACs", "RF", "jump", "memory"]
        print_table(headers, rows, right=[False, False, False, True, True, True, True, True])
        print()
    aux = f" (+{s.aux_params:,} in training-only auxiliary heads)" if s.aux_params else ""
    print(
        f"total: {s.params:,} parameters{aux}, {s.macs / 1e9:.3f} GMACs "
        f"({s.flops / 1e9:.3f} GFLOPs), "
        f"receptive field {_dims(s.field and s.field.size)} px "
        f"(jump {_dims(s.field and s.field.jump)}), activations {_bytes(s.activations)} "
        "(distinct layer outputs)"
    )
    shown = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "none"
    print(f"options (defaults; create_model(name, **options), train's model_kwargs): {shown}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    c = compare(args.models or DEFAULT_MODELS, args.input, None if args.no_latency else args.runs)
    plot = plot_comparison(c, args.plot) if args.plot else None
    if args.json:
        print_json({**c.to_dict(), "plot": None if plot is None else str(plot)})
        return 0
    headers = ["model", "year", "depth", "input", "params", "GMACs", "RF", "CPU ms", "top-5 err %"]
    rows = [
        [
            e.name,
            str(e.year),
            e.depth,
            _dims(e.input),
            e.params,
            f"{e.macs / 1e9:.3f}",
            _dims(e.field and e.field.size),
            None if e.latency is None else f"{e.latency * 1e3:.1f}",
            e.top5,
        ]
        for e in c.entries
    ]
    print_table(headers, rows, right=[False, True, True, False] + [True] * 5)
    print()
    if c.runs is None:
        print("CPU latency not measured (--no-latency).")
    else:
        print(
            f"CPU latency: batch 1, median of {c.runs} runs after {WARMUP_RUNS} warm-up "
            f"passes; torch {c.torch_version}, {c.threads} threads."
        )
    print(
        "depth: weight layers on the longest path, as each paper counts them. top-5 error: "
        "each paper's own figure (protocols differ, see `moderncnn models`)."
    )
    print("The lecture's quiz, from the measured counts:")
    for question, name in c.answers().items():
        print(f"  {question}: {name}")
    if plot is not None:
        print(f"plot written to {plot}")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    examples = worked_examples()
    if args.json:
        print_json(
            {
                "examples": [e.to_dict() for e in examples],
                "ilsvrc_top5": [r.to_dict() for r in ILSVRC_TOP5],
            }
        )
        return 0
    for i, e in enumerate(examples, 1):
        print(f"{i}. {e.title}, input {_dims(e.input)}")
        rows = [
            [o.label, o.summary.params, _si(o.summary.macs), _dims(o.summary.field.size)]
            for o in e.options
        ]
        print_table(["", "parameters", "MACs", "RF"], rows, right=[False, True, True, True])
        print(f"-> {e.saving:.0%} fewer parameters. {e.note}\n")
    print(f"{len(examples) + 1}. ILSVRC classification: top-5 error of each year's winner")
    rows = [
        [str(r.year or "human"), r.top5, r.top5_outside_data, r.winner, r.method, r.model]
        for r in ILSVRC_TOP5
    ]
    headers = ["year", "top-5 %", "outside data %", "winner", "method", "moderncnn model"]
    print_table(headers, rows, right=[False, True, True, False, False, False])
    return 0
