"""What an experiment costs on this machine before it runs: each arm's training speed,
measured with a few steps on random 32x32 inputs in the precision ``auto`` picks, times the
images its budget trains (an upper bound for arms that stop at a threshold). This is how the
quick budgets were sized to about 20 minutes an experiment on a 2-core laptop CPU."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from moderncnn.bench import time_alternating, train_step
from moderncnn.experiments.runner import PlannedRun, plan
from moderncnn.experiments.spec import Experiment
from moderncnn.models import create_model
from moderncnn.precision import AMP_DTYPES, resolve_amp
from moderncnn.train import TrainConfig

#: CIFAR-10's training images.
CIFAR10_TRAIN = 50_000


@dataclass(frozen=True)
class ArmCost:
    """An arm's runs at a budget: how many, the images each trains (at most), and the
    measured training speed."""

    label: str
    runs: int
    images: int
    images_per_s: float

    @property
    def minutes(self) -> float:
        return self.runs * self.images / self.images_per_s / 60


def train_rate(run: PlannedRun, steps: int = 3) -> float:
    """Training images per second of ``run``'s network, options, batch and precision on
    this machine's CPU (random 32x32 inputs: the data pipeline is not the bottleneck)."""
    cfg = run.config
    device = torch.device("cpu")
    model = create_model(cfg.model, num_classes=10, **cfg.model_kwargs)
    model = model.to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(cfg.batch_size, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (cfg.batch_size,))
    dtype = AMP_DTYPES[resolve_amp(cfg.amp, device)]
    step = train_step(model, optimizer, x, y, dtype)
    times = time_alternating([step], runs=steps, device=device, min_run_s=1.0)[0]
    return cfg.batch_size / statistics.median(times)


def images_of(cfg: TrainConfig) -> int:
    """Training images a run of ``cfg`` on CIFAR-10 sees at most (one seed)."""
    if cfg.iterations:
        return cfg.iterations * cfg.batch_size
    return cfg.epochs * ((cfg.limit or CIFAR10_TRAIN) - cfg.val_size)


def estimate(exp: Experiment, level: str, seeds: int | None = None, amp: str = "") -> list[ArmCost]:
    """Each trained arm's cost at ``level``: its learning-rate grid (if any) and seeds, in
    the precision ``amp`` (default: the budget's, ``auto``)."""
    planned = plan(exp, level, Path("cifar10"), seeds=seeds, amp=amp)
    costs = []
    for arm in exp.arms:
        mine = [p for p in planned if p.arm is arm]
        if not mine:
            continue
        runs = len(mine) + ((seeds or exp.budgets[level].seeds) if mine[0].grid else 0)
        costs.append(ArmCost(arm.label, runs, images_of(mine[0].config), train_rate(mine[0])))
    return costs
