"""The CPU speedrun's figure (issue 22): one recipe trained on all 50,000 CIFAR-10 training
images with several seeds, each tested once with the recipe's TTA and once without.

    .venv/bin/python benchmarks/speedrun_seeds.py --data-dir DIR/cifar10 --out runs/speedrun_cpu
    .venv/bin/python benchmarks/speedrun_seeds.py --data-dir DIR/cifar10 --out runs/abl \\
        --recipe speedrun --seeds 0 --set whiten=true     # an arm of the ablation (10 epochs)
    .venv/bin/python benchmarks/speedrun_seeds.py --rates     # the step's rate in fp32 and bf16

Training time is each run's ``wall_time_s`` (the training loop and its checkpoints, not the
final test). ``--rates`` prints the training step's images/s alone at the recipe's batch, in
fp32 and (where the CPU has native bf16) in bf16, and trains nothing: what an AVX2-only CPU,
which trains in fp32, gets against this one. Otherwise it writes ``seeds.json`` into
``--out`` (the machine, then one row per seed) and prints a Markdown table with the mean and
sample standard deviation over the seeds.
"""

from __future__ import annotations

import argparse
import logging
import statistics
from pathlib import Path

import torch

from moderncnn.bench import random_train_step, time_alternating
from moderncnn.experiments.runner import machine
from moderncnn.io import to_json
from moderncnn.precision import bf16_supported
from moderncnn.scoring import evaluate_weights
from moderncnn.train import resolve_config, train
from moderncnn.train.flags import KeyValues, key_value


def run_seed(seed: int, args: argparse.Namespace) -> dict:
    out = Path(args.out) / f"s{seed}"
    cfg = resolve_config(
        args.model,
        args.recipe,
        data_dir=args.data_dir,
        output=str(out),
        model_kwargs={"width": args.width},
        seed=seed,
        progress=False,
        **args.set,
    )
    result = train(cfg)
    plain = evaluate_weights(args.model, out / "best.safetensors", args.data_dir, progress=False)
    return {
        "seed": seed,
        "epochs": result.epochs,
        "train_s": result.wall_time_s,
        "acc_tta": 100 - result.test["top1_err"],
        "acc": 100 - plain.result.top1_err,
        "tta": cfg.tta,
    }


def step_rates(args: argparse.Namespace) -> dict[str, float]:
    """Images/s of the training step alone at the recipe's batch, fp32 and (where native)
    bf16: random batches, medians of 5 alternating runs."""
    batch = resolve_config(args.model, args.recipe, data_dir="x", **args.set).batch_size
    dtypes = {"fp32": torch.float32, **({"bf16": torch.bfloat16} if bf16_supported() else {})}
    steps = [random_train_step(args.model, batch, d, width=args.width) for d in dtypes.values()]
    times = time_alternating(steps, 5, torch.device("cpu"))
    return {name: batch / statistics.median(t) for name, t in zip(dtypes, times, strict=True)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="")
    p.add_argument("--out", default="runs/speedrun_cpu")
    p.add_argument("--model", default="vgg11_cifar")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--recipe", default="speedrun_cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--set",
        type=key_value,
        nargs="+",
        action=KeyValues,
        default={},
        metavar="KEY=VALUE",
        help="recipe keys to override, e.g. whiten=true",
    )
    p.add_argument("--rates", action="store_true", help="time the step in fp32 and bf16 only")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.rates:
        print(to_json({"machine": machine(), "images_per_s": step_rates(args)}))
        return
    if not args.data_dir:
        p.error("--data-dir is needed to train (the CIFAR-10 folder)")
    rows = [run_seed(s, args) for s in args.seeds]
    Path(args.out, "seeds.json").write_text(to_json({"machine": machine(), "runs": rows}))
    print("| seed | epochs | training s | test acc % (TTA) | test acc % (no TTA) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['seed']} | {r['epochs']} | {r['train_s']:.0f} | {r['acc_tta']:.2f} "
              f"| {r['acc']:.2f} |")  # fmt: skip
    for key in ("train_s", "acc_tta", "acc"):
        values = [r[key] for r in rows]
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        print(f"{key}: mean {statistics.mean(values):.2f}, sd {sd:.2f} over {len(values)} seeds")


if __name__ == "__main__":
    main()
