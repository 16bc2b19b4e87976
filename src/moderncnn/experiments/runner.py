"""Running an experiment: each arm and seed is a ``moderncnn train`` run (the same engine, run
directory and metrics.csv), named by a hash of its configuration so that experiments share
identical runs and a killed experiment continues where it stopped: finished runs are read,
interrupted ones resume from their last checkpoint."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import math
import os
import platform
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from moderncnn.data import find_dataset
from moderncnn.errors import ConfigError, DivergedError
from moderncnn.experiments.spec import (
    LEVELS,
    NO_VERDICT,
    Arm,
    ArmResult,
    Budget,
    Experiment,
    SeedRun,
    Verdict,
)
from moderncnn.experiments.verdicts import judge
from moderncnn.inspect.compare import measure_latency
from moderncnn.inspect.summary import summarize
from moderncnn.io import atomic_write, to_json
from moderncnn.models.probe import build_meta
from moderncnn.train import TrainConfig, resolve_config, train
from moderncnn.train.config import EXECUTION, read_recipe
from moderncnn.train.flags import FLAGS
from moderncnn.train.metrics import read_metrics
from moderncnn.train.state import latest_checkpoint
from moderncnn.validate import integer

log = logging.getLogger("moderncnn")

#: Where experiments write by default (runs/ is where `moderncnn train` writes too).
DEFAULT_OUT = Path("runs") / "experiments"


#: The seed of a learning-rate grid's runs: not one of the seeds that are compared, so that
#: choosing the rate on it does not favour them.
GRID_SEED = 100


@dataclasses.dataclass(frozen=True, eq=False)
class PlannedRun:
    """One arm and seed, resolved: the configuration, its run directory and its command;
    ``grid``: a run of the arm's learning-rate grid."""

    arm: Arm
    seed: int
    config: TrainConfig
    command: str
    grid: bool = False


def budget_of(exp: Experiment, level: str) -> Budget:
    if level not in LEVELS:
        raise ConfigError(f"budget must be one of {', '.join(LEVELS)}, not {level!r}")
    return exp.budgets[level]


def arm_options(arm: Arm, budget: Budget) -> dict[str, Any]:
    """The arm's model options with the budget's for its model (``width`` at quick)."""
    return {**budget.options.get(arm.model, {}), **arm.options}


def trained_arms(exp: Experiment, level: str) -> list[Arm]:
    """The arms trained at ``level``: all but those of the budget's skipped groups."""
    budget = budget_of(exp, level)
    if budget.train is None:
        return []
    return [a for a in exp.arms if a.group not in budget.skip]


def plan(
    exp: Experiment,
    level: str,
    data_dir: str | Path,
    out: str | Path = DEFAULT_OUT,
    seeds: int | None = None,
    device: str = "",
    lrs: dict[Arm, float] | None = None,
    amp: str = "",
) -> list[PlannedRun]:
    """Every training run of ``exp`` at ``level``, checked: for each trained arm its seeds,
    or, for an arm with a learning-rate grid whose rate is not in ``lrs`` yet, the grid's
    runs (one seed a rate). ``amp``: a precision for every run instead of the recipes'
    ``auto`` (``none`` measures the fp32 path on a CPU with native bf16); it is part of
    the runs' identity, so they get their own directories."""
    budget = budget_of(exp, level)
    arms = trained_arms(exp, level)
    if not arms:
        return []
    if not data_dir:
        raise ConfigError(
            f"{exp.name} trains networks: pass --data-dir (CIFAR-10 as a CIFAR python folder "
            "or an ImageFolder tree, e.g. tar -xzf ../shared/data/cifar10-jpeg.tar.gz)"
        )
    n_seeds = integer(budget.seeds if seeds is None else seeds, "seeds", minimum=1)
    lrs = lrs or {}
    planned = []
    for arm in arms:
        if arm.lrs and arm not in lrs:
            runs = [(GRID_SEED, {"lr": lr}, True) for lr in arm.lrs]
        else:
            chosen = {"lr": lrs[arm]} if arm in lrs else {}
            runs = [(seed, chosen, False) for seed in range(n_seeds)]
        for seed, lr, grid in runs:
            overrides = {
                **budget.train,
                **budget.groups.get(arm.group, {}),
                **arm.train,
                **lr,
                "model_kwargs": arm_options(arm, budget),
                "seed": seed,
                "data_dir": str(data_dir),
                "device": device,
                "progress": False,
                **({"amp": amp} if amp else {}),
            }
            planned.append(_planned(arm, seed, overrides, Path(out) / level / "runs", grid))
    return planned


def _planned(arm: Arm, seed: int, overrides: dict[str, Any], runs: Path, grid: bool) -> PlannedRun:
    """The run of ``arm`` with ``overrides``, in a directory named by its configuration's
    hash, so that identical runs of different experiments are one."""
    cfg = resolve_config(arm.model, arm.recipe, **overrides)
    values = dataclasses.asdict(cfg)
    # what changes how a run executes, not what it computes, is not its identity
    identity = {k: v for k, v in values.items() if k not in EXECUTION and k != "output"}
    digest = hashlib.sha1(to_json(identity, sort_keys=True).encode()).hexdigest()
    run_dir = runs / f"{arm.model}-{digest[:10]}"
    cfg = dataclasses.replace(cfg, output=str(run_dir))
    command = train_command(arm.model, cfg.recipe, {**overrides, "output": str(run_dir)})
    return PlannedRun(arm, seed, cfg, command, grid)


def train_command(model: str, recipe: str, overrides: dict[str, Any]) -> str:
    """The ``moderncnn train`` command line that makes the same run: the recipe and a flag
    (:data:`~moderncnn.train.flags.FLAGS`) a value of ``overrides``, but for an empty one
    ('' or {}) that changes nothing: the default, which the recipe leaves as it is."""
    keys, defaults = read_recipe(recipe), TrainConfig()
    words = ["moderncnn", "train", model, "--recipe", recipe]
    for key, value in overrides.items():
        if value in ("", {}) and key not in keys and value == getattr(defaults, key):
            continue
        words += FLAGS[key].write(value)
    return shlex.join(words)


def execute(run: PlannedRun) -> SeedRun:
    """Train ``run`` unless its directory holds the finished run (resuming an interrupted
    one), and read its numbers. A diverged run is a result: its message is kept."""
    run_dir = Path(run.config.output)
    diverged = run_dir / "diverged.txt"
    if not (run_dir / "results.json").is_file() and not diverged.is_file():
        resume = latest_checkpoint(run_dir) is not None
        log.info("%s %s: %s", "resuming" if resume else "training", run.arm.label, run.command)
        try:
            # a run killed before its first checkpoint left a folder to start again in
            train(run.config, resume=resume, overwrite=not resume)
        except DivergedError as e:
            message = str(e) + "\n"
            atomic_write(diverged, lambda p: p.write_text(message))
    return read_run(run, run_dir)


def read_run(run: PlannedRun, run_dir: Path) -> SeedRun:
    result = SeedRun(
        seed=run.seed, run_dir=str(run_dir), command=run.command, lr=run.config.peak_lr
    )
    rows = read_metrics(run_dir / "metrics.csv") if (run_dir / "metrics.csv").is_file() else []
    result.curve = [
        {
            "epoch": int(r["epoch"]),
            "step": int(r["step"]),
            "train_err": float(r["train_top1_err"]),
            **({"val_err": float(r["val_top1_err"])} if r.get("val_top1_err") else {}),
        }
        for r in rows
    ]
    if rows:
        result.train_err = float(rows[-1]["train_top1_err"])
        result.steps = int(rows[-1]["step"])
    if (run_dir / "diverged.txt").is_file():
        result.diverged = (run_dir / "diverged.txt").read_text().strip()
        return result
    summary = json.loads((run_dir / "results.json").read_text())
    result.test_err = (summary.get("test") or {}).get("top1_err")
    result.val_err = (summary.get("val") or {}).get("top1_err")
    result.wall_time_s = summary["wall_time_s"]
    result.images_per_s = summary["images_per_s"]
    result.stopped_at = summary.get("stopped_at")
    amp = summary.get("amp", "")
    result.precision = "fp32" if amp == "none" else amp
    return result


def measure_arm(arm: Arm, budget: Budget, latency: bool) -> ArmResult:
    """An arm's parameters and MACs at its default input size (and its batch-1 CPU latency)."""
    options = arm_options(arm, budget)
    model, size = build_meta(arm.model, **options)
    s = summarize(model, size, depth=0)
    ms = measure_latency(arm.model, size, **options) * 1e3 if latency else None
    return ArmResult(
        arm.label, arm.model, options, arm.group, s.params, s.macs, ms, paper=arm.paper
    )


def machine() -> dict[str, Any]:
    """What the numbers depend on: CPU (or GPU), whether it computes bf16 natively, cores,
    threads, torch version."""
    from moderncnn.fast import bf16_supported

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "bf16_native": bf16_supported("cuda" if gpu else "cpu"),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def run_experiment(
    exp: Experiment,
    level: str = "quick",
    data_dir: str | Path = "",
    out: str | Path = DEFAULT_OUT,
    seeds: int | None = None,
    device: str = "",
    on_arm: Callable[[ArmResult], None] | None = None,
    amp: str = "",
) -> dict[str, Any]:
    """Run (or continue) ``exp`` at ``level``; write ``OUT/LEVEL/NAME/results.json`` (with
    ``amp``: ``OUT/LEVEL/NAME-amp-AMP/``) and the figure beside it, and return the results."""
    from moderncnn.experiments.figures import draw

    budget = budget_of(exp, level)
    planned = plan(exp, level, data_dir, out, seeds, device, amp=amp)  # all checked first
    if planned:
        find_dataset(data_dir)  # a missing data set fails before the first run
    grid = {p: execute(p) for p in planned if p.grid}
    lrs = {arm: best_lr(exp, [r for p, r in grid.items() if p.arm is arm]) for arm in exp.arms
           if any(p.arm is arm for p in grid)}  # fmt: skip
    if lrs:
        planned = plan(exp, level, data_dir, out, seeds, device, lrs, amp)
    # a forced precision's results sit beside the default's, which the report reads
    folder = Path(out) / level / (f"{exp.name}-amp-{amp}" if amp else exp.name)
    arms = {}
    for arm in trained_arms(exp, level) or exp.arms:
        result = measure_arm(arm, budget, exp.latency)
        result.grid = [r for p, r in grid.items() if p.arm is arm]
        result.runs = [execute(p) for p in planned if p.arm is arm]
        result.by_seed = {r.seed: v for r in result.runs if (v := exp.metric.read(r)) is not None}
        arms[arm] = result
        if on_arm:
            on_arm(result)
    if level == "smoke":
        verdict = Verdict(NO_VERDICT, "smoke budget: the machinery only, its numbers mean nothing")
    else:
        verdict = judge(exp.parts, arms, exp.metric.label)
    folder.mkdir(parents=True, exist_ok=True)
    figure = draw(exp, list(arms.values()), folder / f"{exp.name}.png")
    command = ["moderncnn", "experiment", "run", exp.name, "--budget", level]
    if planned:
        command += ["--data-dir", str(data_dir)]
    if seeds is not None:
        command += ["--seeds", str(seeds)]
    if amp:
        command += ["--amp", amp]
    results = {
        "experiment": exp.name,
        "claim": exp.claim,
        "source": exp.source,
        "paper": exp.paper,
        "regime": exp.regime,
        "design": exp.design,
        "level": level,
        "budget": {
            "train": dict(budget.train) if budget.train is not None else None,
            "seeds": seeds or budget.seeds,
            "options": {k: dict(v) for k, v in budget.options.items()},
            "groups": {k: dict(v) for k, v in budget.groups.items()},
            "skipped": [a.label for a in exp.arms if a.group in budget.skip],
            "note": budget.note,
        },
        "metric": {"key": exp.metric.key, "label": exp.metric.label},
        "arms": [_arm_dict(a) for a in arms.values()],
        "verdict": dataclasses.asdict(verdict),
        "extra": exp.extra() if exp.extra else {},
        "figure": figure.name if figure else None,
        "train_time_s": round(
            sum(r.wall_time_s for a in arms.values() for r in [*a.grid, *a.runs]), 1
        ),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(command),
    }
    text = to_json(results, indent=2) + "\n"
    atomic_write(folder / "results.json", lambda p: p.write_text(text))
    return results


def best_lr(exp: Experiment, grid: list[SeedRun]) -> float:
    """The grid's learning rate with the best metric (a run without a value loses; ties go
    to the smaller rate)."""
    sign = -1 if exp.metric.higher_is_better else 1

    def score(run: SeedRun) -> tuple[float, float]:
        value = exp.metric.read(run)
        return (math.inf if value is None else sign * value, run.lr or 0.0)

    best = min(grid, key=score).lr
    assert best is not None  # every grid run has its rate
    return best


def _arm_dict(a: ArmResult) -> dict[str, Any]:
    d = dataclasses.asdict(a)
    d["values"], d["mean"], d["spread"] = a.values, a.mean, a.spread
    return d
