"""``moderncnn view``, ``cam`` and ``erf``: the explorer page, class-activation maps and the
effective receptive field (:mod:`moderncnn.inspect.view`, ``cam``, ``erf``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moderncnn.cli import add_command
from moderncnn.cli.output import print_json
from moderncnn.cli.types import INPUT_SIZE, NON_NEGATIVE, POSITIVE, flag, output
from moderncnn.data.images import image_files
from moderncnn.errors import ModernCNNError
from moderncnn.inspect.cam import (
    METHODS,
    explain_images,
    plot_activation_grid,
    random_weights_note,
    save_activations,
)
from moderncnn.inspect.erf import SHARE, check_share, effective_receptive_field, save_fields
from moderncnn.inspect.pictures import load_network, save_png
from moderncnn.inspect.view import ERF_SAMPLES, write_view
from moderncnn.validate import output_file

_WEIGHTS_HELP = (
    "a run directory (its best.safetensors), a weights file (.safetensors, .pth) or published "
    "weights (DEFAULT, IMAGENET1K_V1...); default: random weights, labelled as such"
)


def _source(text: str) -> str:
    """--weights: a run directory, or what :data:`moderncnn.cli.types.WEIGHTS` takes."""
    from moderncnn.cli.types import WEIGHTS

    return text if Path(text).is_dir() else WEIGHTS(text)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ModernCNNError(f"must be a number in (0, 1], got {text!r}") from None
    return check_share(value)


def _command(sub: argparse._SubParsersAction, name: str, description: str, func: Callable) -> Any:
    """The parser of ``name`` with what the three commands share: MODEL, --weights, --input."""
    p = add_command(sub, name, description=description)
    p.add_argument("model", help="registered model name (see `moderncnn models`)")
    p.add_argument("--weights", type=_source, help=_WEIGHTS_HELP)
    p.add_argument(
        "--input", type=INPUT_SIZE, metavar="CxHxW", help="default: the model's (its weights')"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of random weights and inputs (default 0)"
    )
    p.set_defaults(func=func)
    return p


def register(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub,
        "view",
        "Write one self-contained HTML page (no server, no network) of MODEL: its "
        "stages and blocks with shapes, parameters, MACs and receptive fields, the "
        "theoretical and effective receptive field through the depth, and for each --image "
        "the top-5, each stage's feature maps and a Grad-CAM map.",
        run_view,
    )
    p.add_argument("--image", nargs="+", default=[], metavar="IMAGE_OR_FOLDER", help="images")
    p.add_argument(
        "--erf-samples",
        type=POSITIVE,
        default=ERF_SAMPLES,
        help=f"random inputs per effective field (default {ERF_SAMPLES})",
    )
    p.add_argument("--output", "-o", type=output(".html"), help="HTML file (default MODEL.html)")

    p = _command(
        sub,
        "cam",
        "Class-activation maps of images (files, or folders searched for image "
        "files): the image as the model sees it beside the map over it, one PNG each in DIR, "
        "titled with the model, weights, image, method, layer and class. Needs "
        "pip install 'moderncnn[viz]'.",
        run_cam,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--output", "-o", default="cam", help="folder for the PNGs (default cam/)")
    p.add_argument("--method", choices=list(METHODS), default="gradcam", help="default gradcam")
    p.add_argument("--layer", help="target layer's module path (default: the family's)")
    p.add_argument(
        "--class", dest="class_index", type=NON_NEGATIVE, help="class index (default: top-1)"
    )
    p.add_argument(
        "--grid", type=output(".png"), metavar="FILE.png", help="also all maps in one PNG"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = _command(
        sub,
        "erf",
        "The effective receptive field (Luo et al. 2016) of the centre unit of a "
        "feature stage: the mean |dy/dx| over random N(0, 1) inputs, the side of the square "
        "holding --share of it, beside the theoretical field. Draws it as a PNG (with "
        "--with-fresh, the same network untrained before it).",
        run_erf,
    )
    p.add_argument("--stage", type=int, default=-1, help="feature stage (default -1: the last)")
    p.add_argument("--samples", type=POSITIVE, default=16, help="random inputs (default 16)")
    p.add_argument(
        "--share", type=flag(_share), default=SHARE, help=f"share of the mass (default {SHARE})"
    )
    p.add_argument("--with-fresh", action="store_true", help="the untrained network first")
    p.add_argument("--output", "-o", default="erf.png", type=output(".png"), help="default erf.png")
    p.add_argument("--json", action="store_true", help="print one JSON list")


def _images(paths: list[str]) -> list[Path]:
    files = image_files(paths)
    if paths and not files:
        raise ModernCNNError(f"no image files in {' '.join(paths)}")
    return files


def run_view(args: argparse.Namespace) -> int:
    out = args.output or output_file(f"{args.model}.html", ".html")
    files = _images(args.image)
    model = load_network(args.model, args.weights, args.seed)
    path = write_view(model, out, files, args.input, args.erf_samples)
    print(f"{model.model_name}: {len(files)} images, {path.stat().st_size / 1e3:.0f} kB")
    print(path)
    return 0


def run_cam(args: argparse.Namespace) -> int:
    files = _images(args.images)
    model = load_network(args.model, args.weights, args.seed)
    results = explain_images(model, files, args.method, args.layer, args.class_index, args.input)
    paths = save_activations(results, args.output)
    if args.grid:
        save_png(plot_activation_grid(results), args.grid)
    if args.json:
        print_json([r.to_dict() | {"png": str(p)} for r, p in zip(results, paths, strict=True)])
        return 0
    for r, p in zip(results, paths, strict=True):
        print(f"{r.image_name}: {r.class_name} ({100 * r.probability:.1f}%) -> {p}")
    print(f"{args.method} of {model.model_name} at {results[0].layer} ({results[0].weights})")
    if args.grid:
        print(args.grid)
    note = random_weights_note(model)
    if note:
        print(note)
    return 0


def run_erf(args: argparse.Namespace) -> int:
    model = load_network(args.model, args.weights, args.seed)
    fresh = args.with_fresh and args.weights
    # before and after training, in that order
    models = [load_network(args.model, seed=args.seed), model] if fresh else [model]
    kwargs = dict(stage=args.stage, samples=args.samples, share=args.share, seed=args.seed)
    fields = [effective_receptive_field(m, args.input, **kwargs) for m in models]
    path = save_fields(fields, args.output)
    if args.json:
        print_json([f.to_dict() | {"png": str(path)} for f in fields])
        return 0
    for f in fields:
        print(f)
    print(path)
    return 0
