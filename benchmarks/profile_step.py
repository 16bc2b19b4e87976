"""Where a CPU training step's time goes, and what pays against it (issue 22, item 3).

    .venv/bin/python benchmarks/profile_step.py --out /tmp/profile.json     # ~8 min, 2 cores

Four measurements, each on random batches of 128 32x32 images (the data path apart):
1. ``torch.profiler`` over 5 training steps (after 3 of warm-up) of resnet20, vgg11_cifar and
   densenet_bc40_k12, channels_last, fused SGD, in fp32 and in bf16 autocast (bf16 only where
   the CPU has native bf16): the self CPU time of every operator, grouped by what it does.
2. ``moderncnn bench --mode train --against torchvision-best`` for the same networks and
   precisions, eager and with ``--compile``. For these CIFAR networks torchvision has no
   model, so torchvision-best is the same moderncnn network with the same settings (eager,
   channels_last, autocast where native, fused SGD): eager is 1.0x by construction, and only
   compilation (Inductor fuses BN, ReLU and the additions into the convolutions' neighbours)
   can move the ratio.
3. Threads: resnet20's fp32 step at 1 thread and at one per CPU.
4. The data path alone: images/s of the training loader of ``--data-dir`` (decoded, cached
   uint8 images; crop, flip and normalise on the device), with no network, against the
   networks' step rates.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from moderncnn.bench import bench, random_train_step, time_alternating
from moderncnn.experiments.runner import machine
from moderncnn.io import to_json
from moderncnn.precision import bf16_supported
from moderncnn.train import distributed, resolve_config
from moderncnn.train.engine import Trainer

NETWORKS = ("resnet20", "vgg11_cifar", "densenet_bc40_k12")
BATCH = 128
#: (group, pattern): an operator's self time counts in the first group whose pattern its name
#: (without ``aten::``) matches
GROUPS = (
    ("convolution backward", r"convolution_backward"),
    ("convolution forward", r"convolution|conv2d"),
    ("batch norm", r"batch_norm"),
    ("ReLU", r"relu|threshold_backward|clamp_min"),
    ("pooling", r"pool"),
    ("concatenation", r"^cat$"),
    ("casts and copies", r"^(to|_to_copy|copy_|clone|contiguous|empty_like)$"),
    ("optimizer", r"sgd|foreach|^zero_$"),
    ("classifier and loss", r"addmm|^mm$|^linear$|softmax|nll|cross_entropy"),
    ("additions", r"^add_?$"),
)


def group_of(op: str) -> str:
    name = op.removeprefix("aten::")
    return next((g for g, pattern in GROUPS if re.search(pattern, name)), "other")


def profile_step(name: str, dtype: torch.dtype, steps: int = 5) -> dict[str, Any]:
    """Self CPU time per group over ``steps`` steps (ms per step) and the top operators."""
    step = random_train_step(name, BATCH, dtype)
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    groups: dict[str, float] = defaultdict(float)
    ops = []
    for e in prof.key_averages():
        ms = e.self_cpu_time_total / 1e3 / steps
        groups[group_of(e.key)] += ms
        ops.append((ms, e.key))
    total = sum(groups.values())
    return {
        "network": name,
        "dtype": str(dtype).removeprefix("torch."),
        "ms_per_step": total,
        "groups_pct": {g: 100 * v / total for g, v in sorted(groups.items(), key=lambda i: -i[1])},
        "top_ops": [{"op": k, "ms": ms} for ms, k in sorted(ops, reverse=True)[:8]],
    }


def thread_rates(name: str = "resnet20") -> dict[str, float]:
    """Images/s of ``name``'s fp32 step at one thread per CPU and at 1 thread (medians of 5
    runs)."""
    cpus = os.cpu_count() or 1
    out = {}
    for label, threads in ((f"{cpus} threads", cpus), ("1 thread", 1)):
        torch.set_num_threads(threads)
        step = random_train_step(name, BATCH, torch.float32)
        (times,) = time_alternating([step], 5, torch.device("cpu"))
        out[label] = BATCH / statistics.median(times)
    torch.set_num_threads(cpus)
    return out


def loader_rate(data_dir: str, batch: int = 512) -> float:
    """Images/s of one epoch of the ``speedrun`` recipe's training loader alone."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve_config(
            "resnet20", "speedrun", data_dir=data_dir, output=tmp, batch_size=batch, progress=False
        )
        try:
            trainer = Trainer(cfg, distributed.setup("cpu"), overwrite=True)
            n, t = 0, time.perf_counter()
            for x, _ in trainer.loaders["train"]:
                n += x.shape[0]
            return n / (time.perf_counter() - t)
        finally:
            distributed.teardown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the results as JSON")
    p.add_argument("--data-dir", default="", help="CIFAR-10, for the loader's rate")
    p.add_argument("--networks", nargs="+", default=list(NETWORKS))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    info = machine()
    dtypes = [torch.float32] + ([torch.bfloat16] if bf16_supported() else [])
    print(
        f"{info['cpu']}, {info['threads']} threads, bf16 native: {info['bf16_native']}, "
        f"torch {info['torch']}"
    )
    profiles = [profile_step(n, d) for n in args.networks for d in dtypes]
    print("\n| network | dtype | ms/step | where the time goes (% of self CPU time) |")
    print("| --- | --- | ---: | --- |")
    for r in profiles:
        parts = ", ".join(f"{g} {v:.0f}" for g, v in r["groups_pct"].items() if v >= 1)
        print(f"| {r['network']} | {r['dtype']} | {r['ms_per_step']:.0f} | {parts} |")
    ratios = []
    print("\n| network | dtype | compiled | ours img/s | torchvision-best img/s | ratio |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for n in args.networks:
        for d in ["fp32"] + (["bf16"] if len(dtypes) > 1 else []):
            for c in (False, True):
                r = bench(n, "train", BATCH, (3, 32, 32), "torchvision-best", 5, d, c)
                ratios.append(r.to_dict())
                print(
                    f"| {n} | {d} | {'yes' if c else 'no'} | {r.ours_img_s:.0f} | "
                    f"{r.ref_img_s:.0f} | {r.ratio:.2f}x |",
                    flush=True,
                )
    threads = thread_rates()
    print("\nresnet20 fp32 step, img/s: " + ", ".join(f"{k} {v:.0f}" for k, v in threads.items()))
    loader = loader_rate(args.data_dir) if args.data_dir else None
    if loader:
        print(f"training loader alone (speedrun recipe, batch 512): {loader:.0f} img/s")
    summary = {
        "machine": info,
        "profiles": profiles,
        "ratios": ratios,
        "threads": threads,
        "loader_img_s": loader,
    }
    with open(args.out, "w") as f:
        f.write(to_json(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
