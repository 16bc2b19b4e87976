"""``moderncnn`` command line: thin wrappers that parse, call the library and print.

Each command lives in a module with ``register(subparsers)`` adding its parsers, whose
``func(args) -> int`` runs the command. Only the module of the command being run is imported
(the others get a one-line placeholder parser from :data:`COMMANDS`), so ``moderncnn --help``
starts without importing torch. Bad input, whether argparse refuses it (:class:`Parser`) or
the library (:class:`moderncnn.errors.ModernCNNError`), prints one line,
``moderncnn COMMAND: error: ...``, and exits 2; Ctrl-C prints where it stopped and exits 130
(128 + SIGINT, as shells report it).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from moderncnn import __version__
from moderncnn.errors import ModernCNNError

#: command -> (the module moderncnn.cli.NAME_cmd that registers it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("zoo", "list the model zoo with parameter counts"),
    "summary": ("inspect", "per-layer table: shapes, parameters, MACs, receptive fields, memory"),
    "compare": ("inspect", "the lecture's comparison: parameters, MACs, receptive field, latency"),
    "explain": ("inspect", "the lecture's worked examples, computed from real modules"),
    "filters": ("filters", "draw the first conv layer's learned kernels as a PNG grid"),
    "train": ("train", "train a model with its paper's recipe"),
    "eval": ("evaluate", "evaluate weights on a data set (centre crop or 10-crop)"),
    "plot": ("plot", "plot error-vs-epoch curves of training runs"),
    "bench": ("bench", "time moderncnn's fast path against torchvision's model"),
    "predict": ("predict", "classify images: top-k class names and probabilities"),
    "export": ("export", "export a model to ONNX or a torch.export program, with a parity check"),
    "experiment": ("experiment", "the lecture's claims as experiments: list, run, report"),
    "view": ("visual", "an explorer page of a model: blocks, receptive fields, feature maps, CAMs"),
    "cam": ("visual", "class-activation maps (Grad-CAM) of images as PNG overlays"),
    "erf": ("visual", "effective receptive field beside the theoretical one, as a PNG"),
}


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, as the library's errors: the
    usage block of a command with dozens of options would bury the message (``--help``
    shows it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_command(sub: argparse._SubParsersAction, name: str, **kwargs: object):
    """The parser of command ``name``, with its help line from :data:`COMMANDS`."""
    return sub.add_parser(name, help=COMMANDS[name][1], **kwargs)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; the command named in ``argv`` (if any) gets its full set of options."""
    parser = Parser(
        prog="moderncnn",
        description="The modern CNNs (AlexNet, VGG, GoogLeNet, ResNet, DenseNet): build, "
        "inspect, train, evaluate, benchmark and export them.",
    )
    parser.add_argument("--version", action="version", version=f"moderncnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    full = COMMANDS[chosen][0] if chosen in COMMANDS else None
    if full is not None:
        importlib.import_module(f"moderncnn.cli.{full}_cmd").register(sub)
    for name, (module, _) in COMMANDS.items():
        if module != full:
            add_command(sub, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (default: the process's arguments); return its exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as e:  # argparse: --help, --version (0) or a usage error (2)
        return int(e.code or 0)
    try:
        return int(args.func(args) or 0)
    except ModernCNNError as e:  # one line, even where the message quotes a library's lines
        message = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
        print(f"moderncnn {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `moderncnn models | head`
        return 0
    except KeyboardInterrupt as e:  # Ctrl-C: where it stopped (moderncnn.errors.Interrupted)
        print(f"moderncnn {args.command}: {e or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
