"""Each option of the ``speedrun`` recipe measured on its own: the recipe, then the recipe
less one option at a time, on a subset of the shared CIFAR-10 JPEGs (small enough for a CPU).

    .venv/bin/python benchmarks/speedrun_ablation.py --data-dir DIR/cifar10 --out /tmp/abl

Training options (alternating flips, label smoothing) need runs of their own; a moving
average of the weights (decay 0.99, kept in every arm) and test-time augmentation do not
change training, so they are measured on the same runs: the last weights against their
average, and the test with and without TTA.
Large-batch scaling is measured apart, at batch 1024 on a cosine schedule: the scaled rate
with a linear warm-up against the unscaled one.
"""

from __future__ import annotations

import argparse
import logging
import statistics
from pathlib import Path

from moderncnn.io import to_json
from moderncnn.scoring import evaluate_weights
from moderncnn.train import resolve_config, train

#: Every arm keeps a moving average of the weights as well (the recipe does not), so that
#: one run measures both: its last weights and their average.
EMA = {"ema_decay": 0.99}
#: arm -> overrides of the speedrun recipe
ARMS = {
    "speedrun": {},
    "no alternating flips": {"augment": "cifar"},
    "no label smoothing": {"label_smoothing": 0.0},
}
#: batch-1024 arms, on a cosine schedule (one-cycle already ramps up): the linear scaling
#: rule with a warm-up of one epoch (12,000 images), against the unscaled rate
LARGE_BATCH = {
    "batch 1024, lr x4 + linear warm-up": {
        "schedule": "cosine",
        "lr_base_size": 256,
        "warmup_mode": "linear",
        "warmup": 11,
    },
    "batch 1024, lr unscaled": {"schedule": "cosine", "lr_base_size": 0},
}


def test_error(model: str, weights: Path, args: argparse.Namespace, tta: str) -> float:
    ev = evaluate_weights(
        model, weights, args.data_dir, tta=tta, cache_dir=args.cache_dir or None, progress=False
    )
    return ev.result.top1_err


def run_arm(name: str, overrides: dict, seed: int, args: argparse.Namespace) -> dict:
    out = Path(args.out) / f"{name.replace(' ', '_').replace(',', '')}-s{seed}"
    cfg = resolve_config(
        args.model,
        "speedrun",
        data_dir=args.data_dir,
        output=str(out),
        limit=args.limit,
        epochs=args.epochs,
        batch_size=args.batch_size,
        model_kwargs={"width": args.width},
        seed=seed,
        progress=False,
        cache_dir=args.cache_dir,
        **EMA,
        **overrides,
    )
    result = train(cfg)
    last = sorted((out / "checkpoints").glob("epoch-*"))[-1] / "model.safetensors"
    return {
        "arm": name,
        "seed": seed,
        "train_s": result.wall_time_s,
        "ema+tta": result.test["top1_err"],
        "ema": test_error(args.model, out / "best.safetensors", args, "none"),
        "ema+flip": test_error(args.model, out / "best.safetensors", args, "flip"),
        "last+tta": test_error(args.model, last, args, "flip-translate"),
        "last": test_error(args.model, last, args, "none"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cache-dir", default="")
    p.add_argument("--model", default="vgg11_cifar")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--limit", type=int, default=12000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seeds", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    rows = [run_arm(n, o, s, args) for n, o in ARMS.items() for s in range(args.seeds)]
    args.batch_size = 1024
    rows += [run_arm(n, o, 0, args) for n, o in LARGE_BATCH.items()]
    Path(args.out, "ablation.json").write_text(to_json(rows, indent=1))
    cols = ["ema+tta", "ema+flip", "ema", "last+tta", "last"]
    print("| arm | seeds | " + " | ".join(f"test err % ({c})" for c in cols) + " | train s |")
    print("| --- | ---: |" + " ---: |" * (len(cols) + 1))
    for arm in [*ARMS, *LARGE_BATCH]:
        mine = [r for r in rows if r["arm"] == arm]
        cells = [" / ".join(f"{r[c]:.2f}" for r in mine) for c in cols]
        mean_s = statistics.mean(r["train_s"] for r in mine)
        print(f"| {arm} | {len(mine)} | " + " | ".join(cells) + f" | {mean_s:.0f} |")


if __name__ == "__main__":
    main()
