"""The issue-5 speed table: ``moderncnn bench`` over the target models, as Markdown.

    python benchmarks/speed_table.py --out /tmp/speed.json      # ~15 minutes on 2 CPU cores
    python benchmarks/speed_table.py --mode infer --against torchvision-best

Run it on a quiet machine: every row alternates moderncnn's fast path and its reference
(torchvision's model, or moderncnn's own in fp32 contiguous eager) in the same process.
"""

from __future__ import annotations

import argparse

import torch

from moderncnn.bench import bench
from moderncnn.io import to_json

#: (model, mode, batch, input, reference, dtype, compile, runs)
TABLE = [
    *[(m, "infer", b, (3, 224, 224), "torchvision", "auto", c, 5 if b == 1 else 3)
      for m in ("resnet50", "densenet121", "vgg16", "googlenet") for b in (1, 32)
      for c in (False, True)],
    *[(m, "train", 128, (3, 32, 32), "eager", "fp32", False, 3)
      for m in ("resnet20", "resnet56", "densenet_bc100_k12", "vgg16_cifar")],
    ("vgg16_cifar", "train", 128, (3, 32, 32), "eager", "fp32", True, 3),
    *[(m, "train", 128, (3, 32, 32), "eager", "bf16", False, 3)
      for m in ("resnet20", "vgg16_cifar")],
    *[(m, "train", 64, (3, 64, 64), "torchvision", "fp32", False, 3)
      for m in ("resnet18", "resnet50")],
]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="also write the results as a JSON list")
    p.add_argument("--only", nargs="*", help="models to run (default: all rows)")
    p.add_argument("--mode", choices=("infer", "train"), help="only the rows of this mode")
    p.add_argument(
        "--against",
        choices=("torchvision-best",),
        help="the careful user's reference instead of torchvision's default settings",
    )
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        "| model | mode | batch | input | moderncnn | img/s | reference | img/s | ratio "
        "| GFLOP/s (% of matmul) |"
    )
    print("| --- | --- | ---: | --- | --- | ---: | --- | ---: | ---: | ---: |")
    results = []
    for model, mode, batch, size, ref, dtype, compile, runs in TABLE:
        if (args.only and model not in args.only) or (args.mode and mode != args.mode):
            continue
        if args.against and ref == "torchvision":
            ref = args.against
        r = bench(model, mode, batch, size, ref, runs, dtype, compile)
        results.append(r.to_dict())
        pct = 100 * r.achieved_gflops / r.peak_gflops
        print(
            f"| {model} | {mode} | {batch} | {'x'.join(map(str, size))} | {r.ours} "
            f"| {r.ours_img_s:.1f} | {r.ref} | {r.ref_img_s:.1f} | **{r.ratio:.2f}x** "
            f"| {r.achieved_gflops:.0f} ({pct:.0f}%) |",
            flush=True,
        )
    if args.out:
        with open(args.out, "w") as f:
            f.write(to_json(results, indent=1))


if __name__ == "__main__":
    main()
