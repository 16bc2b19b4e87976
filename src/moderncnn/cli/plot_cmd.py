"""``moderncnn plot RUN_DIR...``: error-vs-epoch curves of runs on one figure."""

from __future__ import annotations

import argparse

from moderncnn.cli import add_command
from moderncnn.cli.types import output
from moderncnn.train.plots import METRICS, plot_curves


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "plot",
        description="Draw the training (dashed) and validation (solid) curves of each RUN_DIR's "
        "metrics.csv on one figure.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--metric", choices=tuple(METRICS), default="top1")
    p.add_argument(
        "--output",
        "-o",
        default="errors.png",
        type=output(".png"),
        help="PNG file (default errors.png)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(plot_curves(args.run_dirs, args.output, args.metric))
    return 0
