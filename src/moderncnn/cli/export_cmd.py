"""``moderncnn export``: ONNX or a torch.export program, with a parity check against eager."""

from __future__ import annotations

import argparse

from moderncnn.cli import add_command
from moderncnn.cli.output import print_json
from moderncnn.cli.types import INPUT_SIZE, WEIGHTS
from moderncnn.export import FORMATS, ExportResult, export_model


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "export",
        description="Export MODEL in eval mode to ONNX (.onnx) or a torch.export program "
        "(.pt2), written atomically; then run the file (onnxruntime, torch.export.load) on a "
        "random batch and print its largest difference from eager PyTorch. Exits 1 when a "
        "difference exceeds 1e-4 of the logit range. The input's preprocessing (resize, crop, "
        "mean, std) and the class names go into the ONNX file's metadata_props, and into a "
        "JSON file beside a .pt2.",
    )
    p.add_argument("model", help="registered model name")
    p.add_argument(
        "--weights",
        type=WEIGHTS,
        help=".safetensors (moderncnn) or .pth file, or published weights (IMAGENET1K_V1, "
        "DEFAULT); their preprocessing and class names go into the exported file",
    )
    p.add_argument("--format", required=True, metavar="{" + ",".join(FORMATS) + "}")
    p.add_argument(
        "--dynamic-batch",
        action="store_true",
        help="a dynamic batch dimension, checked at two batch sizes (default: batch 1)",
    )
    p.add_argument("--fast", action="store_true", help="export the conv-BN-folded network (fp32)")
    p.add_argument(
        "--input",
        metavar="CxHxW",
        type=INPUT_SIZE,
        help="input size, e.g. 3x64x64 (default: the model's)",
    )
    p.add_argument("--opset", type=int, help="ONNX opset, 18 to 23 (default: torch's, 20)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = export_model(
        args.model,
        args.output,
        args.format,
        weights=args.weights,
        input_size=args.input,
        dynamic_batch=args.dynamic_batch,
        fast=args.fast,
        opset=args.opset,
    )
    if args.json:
        print_json(r.to_dict())
    else:
        print_result(r)
    return 1 if r.ok is False else 0


def print_result(r: ExportResult) -> None:
    kind = f"ONNX opset {r.opset}" if r.format == "onnx" else "torch.export program"
    print(f"{r.model} -> {r.path} ({kind}, {r.size_bytes / 1e6:.2f} MB)")
    size = "x".join(map(str, r.input))
    batch = "batch (dynamic)" if r.dynamic_batch else f"{r.batch} (fixed)"
    print(f"  input: {batch} x {size}")
    d = r.deploy
    where = "in its metadata_props" if r.deploy_in == "metadata_props" else f"in {r.deploy_in}"
    print(
        f"  preprocessing and classes {where}: resize {d['resize']}, crop {d['crop']} "
        f"{d['interpolation']}, mean {_floats(d['mean'])}, std {_floats(d['std'])}, "
        f"{len(d['classes'])} class names"
    )
    if r.fast:
        print(
            f"  fast: {r.bn_folded} of {r.bn_total} BatchNorm layers folded into the conv "
            "before them, fp32; parity is against the unfolded eager model"
        )
    if not r.parity:
        print(f"  parity not checked: {r.not_checked}")
        return
    print(f"  parity against eager PyTorch ({r.checked_with}, random normal input):")
    for p in r.parity:
        print(
            f"    batch {p.batch}: max |diff| {p.max_abs_diff:.2e} = {p.relative:.1e} of the "
            f"logit range ({p.logit_range:.4g})"
        )
    verdict = "OK" if r.ok else "FAILED"
    print(f"  parity {verdict}: tolerance {r.tolerance:.0e} of the logit range")


def _floats(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"
