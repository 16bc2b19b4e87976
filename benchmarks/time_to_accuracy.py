"""Time to accuracy on CIFAR-10: test accuracy against minutes of training for the CIFAR
networks a student would pick, each on all 50,000 training images with the ``speedrun``
recipe and a one-cycle schedule sized to the same time budget (issue 22).

    .venv/bin/python benchmarks/time_to_accuracy.py --data-dir DIR/cifar10 --out runs/tta
    .venv/bin/python benchmarks/time_to_accuracy.py --data-dir DIR/cifar10 --out runs/tta \\
        --networks resnet20 --minutes 30        # one network, a longer budget

How: each network's epochs are its budget times its training rate, measured on random
batches before the run, over 50,000 images (rounded down, at least 1), so that one-cycle
anneals within the budget. After every epoch the test split is evaluated without TTA, off
the clock. "Minutes to X%" is the training time (wall clock less those tests) at the end of
the first epoch whose test accuracy reaches X%. A one-cycle run climbs most at its end, so
these answer "what does this network reach in a run of M minutes" (DAWNBench's measure), not
"how soon could a run sized for X% reach it". The final figure is the run's own test, with
the recipe's TTA (flips and 1-pixel translations). Writes ``time_to_accuracy.json`` and
``time_to_accuracy.png`` into ``--out`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from moderncnn.bench import random_train_step, time_alternating
from moderncnn.experiments.runner import machine
from moderncnn.io import to_json
from moderncnn.precision import resolve_amp
from moderncnn.train import resolve_config, train
from moderncnn.train.engine import Trainer

TRAIN_IMAGES = 50_000
THRESHOLDS = (80.0, 85.0, 90.0, 94.0)


@dataclass(frozen=True)
class Network:
    """A network as the table trains it: model options and the recipe keys it changes."""

    model_kwargs: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    why: str = ""


NETWORKS = {
    "resnet20": Network(),
    "resnet56": Network(),
    "densenet_bc40_k12": Network(),
    "vgg11_cifar": Network({"width": 0.5}, why="the speedrun recipe's network"),
    "alexnet_cifar": Network(
        {"init": "he"},
        {"lr": 0.01},
        why="no BN: He init (the lecture experiments' choice) and a peak rate of 0.01 per "
        "256 images (0.02 at batch 512; the paper's 0.01 was at batch 128), not the BN "
        "networks' 0.2",
    ),
}


def training_rate(name: str, net: Network, batch: int, amp: str) -> float:
    """Images/s of the training step alone (channels_last, fused SGD, the run's precision) on
    random batches: median of 3 runs."""
    dtype = torch.bfloat16 if resolve_amp(amp, torch.device("cpu")) == "bf16" else torch.float32
    step = random_train_step(name, batch, dtype, **net.model_kwargs)
    (times,) = time_alternating([step], 3, torch.device("cpu"))
    return batch / statistics.median(times)


def run_network(name: str, args: argparse.Namespace) -> dict[str, Any]:
    net = NETWORKS[name]
    base = resolve_config(name, "speedrun", data_dir=args.data_dir, **net.overrides)
    rate = training_rate(name, net, base.batch_size, base.amp)
    epochs = max(1, math.floor(args.minutes * 60 * rate / TRAIN_IMAGES))
    cfg = resolve_config(
        name,
        "speedrun",
        data_dir=args.data_dir,
        output=str(Path(args.out) / name),
        model_kwargs=net.model_kwargs,
        epochs=epochs,
        seed=args.seed,
        cache_dir=args.cache_dir,
        progress=False,
        **net.overrides,
    )
    curve: list[dict[str, float]] = []

    def test_now(trainer: Trainer) -> None:  # off the trainer's clock
        minutes = trainer.train_time_s / 60
        acc = 100 - trainer.evaluate_split("test").top1_err
        curve.append({"epoch": trainer.epoch, "minutes": minutes, "acc": acc})
        print(
            f"  {name} epoch {trainer.epoch}/{epochs}: {acc:.2f}% at {minutes:.1f} min", flush=True
        )

    result = train(cfg, overwrite=args.overwrite, on_epoch_end=test_now)
    reached = {
        f"{t:g}": next((p["minutes"] for p in curve if p["acc"] >= t), None) for t in THRESHOLDS
    }
    return {
        "network": name,
        "model_kwargs": net.model_kwargs,
        "overrides": net.overrides,
        "why": net.why,
        "precision": result.amp,
        "batch_size": cfg.batch_size,
        "step_rate_img_s": rate,
        "epochs": epochs,
        "train_minutes": result.wall_time_s / 60,
        "final_acc_tta": 100 - result.test["top1_err"],
        "minutes_to": reached,
        "curve": curve,
    }


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        xs = [0.0] + [p["minutes"] for p in r["curve"]]
        ys = [10.0] + [p["acc"] for p in r["curve"]]
        kwargs = "".join(f" {k}={v}" for k, v in r["model_kwargs"].items() if k != "init")
        label = f"{r['network']}{kwargs}: {r['epochs']} epochs, {r['final_acc_tta']:.1f}% TTA"
        ax.plot(xs, ys, marker="o", ms=3, label=label)
    for t in THRESHOLDS[:3]:
        ax.axhline(t, color="grey", lw=0.5, ls=":")
    ax.set(xlabel="minutes of training", ylabel="test accuracy (%, no TTA)", title=title)
    ax.set_ylim(10, 100)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, help="the CIFAR-10 folder")
    p.add_argument("--out", required=True, help="runs and results go here")
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    p.add_argument("--minutes", type=float, default=12.0, help="the training budget of each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default="")
    p.add_argument("--overwrite", action="store_true", help="replace earlier runs in --out")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [run_network(n, args) for n in args.networks]
    info = machine()
    summary = {"machine": info, "minutes_budget": args.minutes, "seed": args.seed, "runs": rows}
    (out / "time_to_accuracy.json").write_text(to_json(summary, indent=1) + "\n")
    bf16 = "native bf16" if info["bf16_native"] else "no native bf16"
    plot(rows, out / "time_to_accuracy.png", f"{info['cpu']}, {info['threads']} threads, {bf16}")
    print(f"\n{info['cpu']}, {info['threads']} threads, {bf16}, torch {info['torch']}")
    head = " | ".join(f"min to {t:g}%" for t in THRESHOLDS)
    print(f"| network | precision | epochs | minutes | {head} | final (TTA) |")
    print("| --- | --- | ---: | ---: |" + " ---: |" * len(THRESHOLDS) + " ---: |")
    for r in rows:
        cells = " | ".join("-" if m is None else f"{m:.1f}" for m in r["minutes_to"].values())
        print(
            f"| {r['network']} | {r['precision']} | {r['epochs']} | {r['train_minutes']:.1f} | "
            f"{cells} | {r['final_acc_tta']:.2f}% |"
        )


if __name__ == "__main__":
    main()
