"""``moderncnn predict``: top-k classes of image files with a model's weights."""

from __future__ import annotations

import argparse

from moderncnn.cli import add_command
from moderncnn.cli.output import print_json
from moderncnn.cli.types import DEVICE, POSITIVE, WEIGHTS
from moderncnn.data.images import image_files
from moderncnn.errors import ModernCNNError
from moderncnn.models import create_model
from moderncnn.predict import predict
from moderncnn.validate import parse_device


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "predict",
        description="Classify images (files, or folders searched for image files) with MODEL "
        "and --weights: published weights (IMAGENET1K_V1, DEFAULT...) or a weights file. "
        "Prints the top-k class names and probabilities of each image; an unreadable file is "
        "reported with its reason and the exit status is 1.",
    )
    p.add_argument("model", help="registered model name (see `moderncnn models --pretrained`)")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    p.add_argument(
        "--weights",
        required=True,
        type=WEIGHTS,
        help="DEFAULT, IMAGENET1K_V1... (torchvision's published weights) or a .pth/.safetensors",
    )
    p.add_argument("--topk", type=POSITIVE, default=5, help="classes per image (default 5)")
    p.add_argument("--batch", type=POSITIVE, default=32, help="images per batch (default 32)")
    p.add_argument("--device", type=DEVICE, default="", help="default: cuda if available, else cpu")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files = image_files(args.images)
    if not files:
        raise ModernCNNError(f"no image files in {' '.join(args.images)}")
    model = create_model(args.model, weights=args.weights)
    results = predict(model, files, args.topk, args.batch, parse_device(args.device))
    failed = 0
    if args.json:
        rows = [r.to_dict() for r in results]
        failed = sum(r["error"] is not None for r in rows)
        print_json(rows)
        return 1 if failed else 0
    for r in results:
        if r.error:
            failed += 1
            print(f"{r.path}: cannot read: {r.error}")
            continue
        print(r.path)
        for name, p in zip(r.classes, r.probabilities, strict=True):
            print(f"  {100 * p:6.2f}%  {name}")
    weights = model.pretrained_cfg.weights if model.pretrained_cfg else args.weights
    print(f"\n{len(files) - failed} of {len(files)} images classified by {args.model} ({weights})")
    if failed:
        print(f"{failed} could not be read (listed above)")
    return 1 if failed else 0
