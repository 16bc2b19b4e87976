"""``moderncnn`` command line: thin wrappers that parse, call the library and print.

Each command lives in its own module with ``register(subparsers)`` adding a parser whose
``func(args) -> int`` runs it. Bad input (:class:`moderncnn.errors.ModernCNNError`) prints
one line and exits 2, like argparse's own usage errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from moderncnn import __version__
from moderncnn.cli import bench, evaluate, inspect, plot, train, zoo
from moderncnn.errors import ModernCNNError

COMMANDS = [zoo, inspect, train, evaluate, plot, bench]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moderncnn",
        description="The modern CNNs (AlexNet, VGG, GoogLeNet, ResNet, DenseNet): build, "
        "inspect, train, evaluate and benchmark them.",
    )
    parser.add_argument("--version", action="version", version=f"moderncnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ModernCNNError as e:
        print(f"moderncnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `moderncnn models | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
