"""``moderncnn bench``: the fast path against torchvision (or eager), side by side."""

from __future__ import annotations

import argparse

from moderncnn.bench import DTYPES, MODES, REFERENCES, bench
from moderncnn.cli import add_command
from moderncnn.cli.output import print_json
from moderncnn.cli.types import DEVICE, INPUT_SIZE, POSITIVE


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "bench",
        description="Time moderncnn's fast path and a reference (torchvision's model, or the "
        "same model in fp32 contiguous eager) on the same input and threads, alternating runs; "
        "print medians, their ratio and achieved FLOP/s against the measured matmul rate.",
    )
    p.add_argument("model")
    p.add_argument("--mode", choices=MODES, default="infer")
    p.add_argument("--batch", type=POSITIVE, default=32, help="batch size (default 32)")
    p.add_argument(
        "--input",
        metavar="CxHxW",
        type=INPUT_SIZE,
        help="input size, e.g. 3x32x32 (default: the model's)",
    )
    p.add_argument(
        "--against",
        choices=REFERENCES,
        default="torchvision",
        help="reference: torchvision's model where one exists (fp32, contiguous), "
        "torchvision-best (the same in the fast path's dtype under autocast, channels_last), "
        "or eager moderncnn",
    )
    p.add_argument("--runs", type=POSITIVE, default=5, help="timed runs of each side (default 5)")
    p.add_argument(
        "--dtype",
        choices=DTYPES,
        default="auto",
        help="auto (bf16 where the device has native bf16, else fp32), fp32, bf16, fp16 (CUDA)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the fast path")
    p.add_argument("--device", type=DEVICE, default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = bench(
        args.model,
        args.mode,
        args.batch,
        args.input,
        args.against,
        args.runs,
        args.dtype,
        args.compile,
        args.device,
    )
    if args.json:
        print_json(r.to_dict())
        return 0
    size = "x".join(map(str, r.input))
    print(
        f"{r.model} {r.mode}, batch {r.batch}, input {size} on {r.device}, "
        f"{r.threads} threads, torch {r.torch}; medians of {r.runs} alternating runs"
    )
    print(f"  moderncnn ({r.ours}): {r.ours_img_s:10.1f} img/s")
    print(f"  reference ({r.ref}): {r.ref_img_s:10.1f} img/s")
    print(f"  ratio: {r.ratio:.2f}x")
    pct = 100 * r.achieved_gflops / r.peak_gflops
    print(
        f"  {r.flops_per_img / 1e9:.3f} GFLOP/img; achieved {r.achieved_gflops:.1f} GFLOP/s = "
        f"{pct:.0f}% of the measured fp32 matmul rate ({r.peak_gflops:.1f} GFLOP/s)"
    )
    return 0
