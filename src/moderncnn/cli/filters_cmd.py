"""``moderncnn filters``: the first conv layer's learned kernels as a PNG grid (AlexNet
Sec. 6.1, Figure 3)."""

from __future__ import annotations

import argparse

from moderncnn.cli import add_command
from moderncnn.cli.types import output
from moderncnn.inspect.filters import image_conv, load_for_filters, save_filters


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "filters",
        description="Draw the learned kernels of the first conv layer (or --layer) as a grid, "
        "each min-max normalised and scaled up, as AlexNet's Figure 3. SOURCE is a run "
        "directory (its best.safetensors and config.toml's model), a weights file "
        "(.safetensors, .pth) or published weights (DEFAULT, IMAGENET1K_V1...) with --model.",
    )
    p.add_argument("source", metavar="SOURCE", help="run directory, weights file or weights name")
    p.add_argument(
        "--output",
        "-o",
        default="filters.png",
        type=output(".png"),
        help="PNG file (default filters.png)",
    )
    p.add_argument("--layer", help="module path of a conv over 1 or 3 channels (default: first)")
    p.add_argument("--model", help="registered model name (default: the run's or the file's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_for_filters(args.source, args.model)
    name, conv = image_conv(model, args.layer)
    output = save_filters(model, args.output, name)
    kh, kw = conv.kernel_size
    print(f"{model.model_name} {name}: {conv.out_channels} kernels of {kh}x{kw}x{conv.in_channels}")
    print(output)
    return 0
