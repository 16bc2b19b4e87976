"""``moderncnn eval``: top-1 / top-5 error of a weights file, centre crop or ten crops, with
per-class accuracy and a confusion-matrix PNG."""

from __future__ import annotations

import argparse

from moderncnn.cli import add_command
from moderncnn.cli.output import print_json, print_table
from moderncnn.cli.types import DEVICE, NON_NEGATIVE, POSITIVE, WEIGHTS, output
from moderncnn.precision import AMP_CHOICES
from moderncnn.scoring import SCORES, evaluate_weights
from moderncnn.train.plots import plot_confusion
from moderncnn.train.tta import TTA_MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "eval",
        description="Evaluate MODEL with --weights on the test split of --data-dir (or the "
        "held-out validation split): top-1 / top-5 error, per-class accuracy, confusion matrix. "
        "The test split of an ImageFolder tree is test/, else val/: a tree holding only one of "
        "them (ImageNet's val/) will do; --split val and train need its train/. The weights' "
        "classifier must be for the data's classes, or for more: a folder of some of "
        "ImageNet's classes (named by WordNet id, n01440764, or class name) is scored with "
        "published ImageNet weights, the classes mapped onto theirs (--score).",
    )
    p.add_argument("model", help="registered model name")
    p.add_argument(
        "--weights",
        required=True,
        type=WEIGHTS,
        help=".safetensors (moderncnn) or .pth file, or published weights (IMAGENET1K_V1, DEFAULT)",
    )
    p.add_argument("--data-dir", "--data", dest="data_dir", required=True, help="data set folder")
    p.add_argument(
        "--split",
        choices=("test", "val", "train"),
        default="test",
        help="test (test/ or val/), val (held out from train/ as in training) or train (the rest)",
    )
    p.add_argument(
        "--ten-crop", action="store_true", help="AlexNet's 10 crops: corners, centre, flips"
    )
    p.add_argument(
        "--tta",
        choices=TTA_MODES,
        default="none",
        help="test-time augmentation: mean logits of the image and its mirror image (flip), "
        "and of both shifted by a pixel (flip-translate; airbench's)",
    )
    p.add_argument("--batch-size", type=POSITIVE, default=256)
    p.add_argument(
        "--limit",
        type=NON_NEGATIVE,
        default=0,
        help="a fixed random subset of N images of the split (0: all); val and train are the "
        "split of the run that wrote the weights, rebuilt from what they record",
    )
    p.add_argument(
        "--amp",
        nargs="?",
        const="bf16",
        default="auto",
        choices=AMP_CHOICES,
        help="autocast dtype (auto: bf16 where the device has native bf16, else none: fp32)",
    )
    p.add_argument("--device", type=DEVICE, default="", help="default: cuda if available, else cpu")
    p.add_argument("--workers", type=NON_NEGATIVE, default=2)
    p.add_argument("--cache-dir", default=None)
    p.add_argument(
        "--confusion", metavar="PNG", type=output(".png"), help="write the confusion matrix here"
    )
    p.add_argument(
        "--allow-new-head",
        action="store_true",
        help="score weights whose classifier is for another number of classes with a new, "
        "random one (errors near chance: for checking a pipeline, not the weights)",
    )
    p.add_argument(
        "--score",
        choices=SCORES,
        default="all",
        help="weights for more classes than the data holds: score over all their classes (a "
        "prediction of a class the data does not hold is an error; the default, as ImageNet's "
        "published errors) or over the subset the data holds",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ev = evaluate_weights(
        args.model,
        args.weights,
        args.data_dir,
        split=args.split,
        ten_crop=args.ten_crop,
        tta=args.tta,
        batch_size=args.batch_size,
        limit=args.limit,
        device=args.device,
        amp=args.amp,
        cache_dir=args.cache_dir,
        workers=args.workers,
        allow_new_head=args.allow_new_head,
        score=args.score,
        progress=args.progress,
    )
    result, classes = ev.result, ev.classes
    if args.confusion:
        plot_confusion(result.confusion, classes, args.confusion)
    per_class = result.per_class_accuracy()
    counts = result.confusion.sum(1).tolist()
    crops = "10 crops" if args.ten_crop else "centre crop"
    crops += f", {args.tta} test-time augmentation" if args.tta != "none" else ""
    if args.json:
        print_json(
            result.to_dict()
            | {
                "split": ev.split,
                "folder": str(ev.folder) if ev.folder else None,
                "crops": crops,
                "new_head": ev.new_head,
                "score": ev.score if ev.class_map else None,
                "weights_classes": ev.weights_classes,
                "scored": ev.scored() or None,
                "outside": int(result.outside.sum()) if result.outside is not None else None,
                "per_class_accuracy": dict(zip(classes, per_class, strict=True)),
            }
        )
        return 0
    source = f" from {ev.folder}" if ev.folder else ""
    print(f"{args.model} on {ev.split}{source} ({result.n} images, {crops}):")
    if ev.new_head:
        print(
            f"  NEW, UNTRAINED CLASSIFIER ({', '.join(ev.new_head)}): the weights hold another "
            "number of classes (--allow-new-head); these errors score a random head"
        )
    if ev.class_map:
        print(f"  {ev.scored()}")
        if result.outside is not None:
            print(f"  {int(result.outside.sum())} predictions of classes the data does not hold")
    print(
        f"  top-1 error {result.top1_err:.2f}%   top-5 error {result.top5_err:.2f}%"
        f"   loss {result.loss:.4f}\n"
    )
    print_table(
        ["class", "images", "accuracy %"],
        list(zip(classes, counts, per_class, strict=True)),
        [0, 1, 1],
    )
    if args.confusion:
        print(f"\nconfusion matrix: {args.confusion}")
    return 0
