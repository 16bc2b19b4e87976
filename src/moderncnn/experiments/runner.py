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
import os
import platform
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from moderncnn.data import find_dataset
from moderncnn.errors import ConfigError, DivergedError
from moderncnn.experiments.spec import LEVELS, Arm, ArmResult, Budget, Experiment, SeedRun
from moderncnn.inspect.compare import measure_latency
from moderncnn.inspect.probe import build_meta
from moderncnn.inspect.summary import summarize
from moderncnn.io import atomic_write, to_json
from moderncnn.train import TrainConfig, resolve_config, train
from moderncnn.train.metrics import read_metrics
from moderncnn.train.state import latest_checkpoint
from moderncnn.validate import integer

log = logging.getLogger("moderncnn")

#: Keys that change how a run executes, not what it computes: left out of a run's identity.
_EXECUTION = ("output", "progress", "tensorboard", "workers", "cache_dir")
#: Where experiments write by default (runs/ is where `moderncnn train` writes too).
DEFAULT_OUT = Path("runs") / "experiments"


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One arm and seed, resolved: the configuration, its run directory and its command."""

    arm: Arm
    seed: int
    config: TrainConfig
    command: str


def budget_of(exp: Experiment, level: str) -> Budget:
    if level not in LEVELS:
        raise ConfigError(f"budget must be one of {', '.join(LEVELS)}, not {level!r}")
    return exp.budgets[level]


def arm_options(arm: Arm, budget: Budget) -> dict[str, Any]:
    """The arm's model options with the budget's for its model (``width`` at quick)."""
    return {**budget.options.get(arm.model, {}), **arm.options}


def plan(
    exp: Experiment,
    level: str,
    data_dir: str | Path,
    out: str | Path = DEFAULT_OUT,
    seeds: int | None = None,
    device: str = "",
) -> list[PlannedRun]:
    """Every training run of ``exp`` at ``level``: arms x seeds, checked configurations."""
    budget = budget_of(exp, level)
    if budget.train is None:
        return []
    if not data_dir:
        raise ConfigError(
            f"{exp.name} trains networks: pass --data-dir (CIFAR-10 as a CIFAR python folder "
            "or an ImageFolder tree, e.g. tar -xzf ../shared/data/cifar10-jpeg.tar.gz)"
        )
    n_seeds = integer(budget.seeds if seeds is None else seeds, "seeds", minimum=1)
    runs_dir = Path(out) / level / "runs"
    planned = []
    for arm in exp.arms:
        for seed in range(n_seeds):
            overrides = {
                **budget.train,
                **arm.train,
                "model_kwargs": arm_options(arm, budget),
                "seed": seed,
                "data_dir": str(data_dir),
                "device": device,
                "progress": False,
            }
            cfg = resolve_config(arm.model, arm.recipe, **overrides)
            values = dataclasses.asdict(cfg)
            identity = {k: v for k, v in values.items() if k not in _EXECUTION}
            digest = hashlib.sha1(to_json(identity, sort_keys=True).encode()).hexdigest()
            run_dir = runs_dir / f"{arm.model}-{digest[:10]}"
            cfg = dataclasses.replace(cfg, output=str(run_dir))
            command = train_command(arm.model, cfg.recipe, {**overrides, "output": str(run_dir)})
            planned.append(PlannedRun(arm, seed, cfg, command))
    return planned


def train_command(model: str, recipe: str, overrides: dict[str, Any]) -> str:
    """The ``moderncnn train`` command line that makes the same run."""
    words = ["moderncnn", "train", model, "--recipe", recipe]
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        elif isinstance(value, dict):
            if value:
                words += [flag, *(f"{k}={_cli_value(v)}" for k, v in value.items())]
        elif value != "":
            words += [flag, str(value)]
    return shlex.join(words)


def _cli_value(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def execute(run: PlannedRun) -> SeedRun:
    """Train ``run`` unless its directory holds the finished run (resuming an interrupted
    one), and read its numbers. A diverged run is a result: its message is kept."""
    run_dir = Path(run.config.output)
    diverged = run_dir / "diverged.txt"
    if not (run_dir / "results.json").is_file() and not diverged.is_file():
        resume = latest_checkpoint(run_dir) is not None
        log.info("%s %s: %s", "resuming" if resume else "training", run.arm.label, run.command)
        try:
            train(run.config, resume=resume, overwrite=not resume)  # killed in epoch 1
        except DivergedError as e:
            message = str(e) + "\n"
            atomic_write(diverged, lambda p: p.write_text(message))
    return read_run(run, run_dir)


def read_run(run: PlannedRun, run_dir: Path) -> SeedRun:
    result = SeedRun(seed=run.seed, run_dir=str(run_dir), command=run.command)
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
    if (run_dir / "diverged.txt").is_file():
        result.diverged = (run_dir / "diverged.txt").read_text().strip()
        return result
    summary = json.loads((run_dir / "results.json").read_text())
    result.test_err = (summary.get("test") or {}).get("top1_err")
    result.val_err = (summary.get("val") or {}).get("top1_err")
    result.wall_time_s = summary["wall_time_s"]
    result.images_per_s = summary["images_per_s"]
    return result


def measure_arm(arm: Arm, budget: Budget, latency: bool) -> ArmResult:
    """An arm's parameters and MACs at its default input size (and its batch-1 CPU latency)."""
    options = arm_options(arm, budget)
    model, size = build_meta(arm.model, **options)
    s = summarize(model, size, depth=0)
    ms = measure_latency(arm.model, size, **options) * 1e3 if latency else None
    return ArmResult(arm.label, arm.model, options, arm.group, s.params, s.macs, ms)


def machine() -> dict[str, Any]:
    """What the numbers depend on: CPU (or GPU), cores, threads, torch version."""
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
) -> dict[str, Any]:
    """Run (or continue) ``exp`` at ``level``; write ``OUT/LEVEL/NAME/results.json`` and the
    figure beside it, and return the results."""
    from moderncnn.experiments.figures import draw

    budget = budget_of(exp, level)
    planned = plan(exp, level, data_dir, out, seeds, device)  # every config checked first
    if planned:
        find_dataset(data_dir)  # a missing data set fails before the first run
    folder = Path(out) / level / exp.name
    arms = []
    for arm in exp.arms:
        result = measure_arm(arm, budget, exp.latency)
        result.runs = [execute(p) for p in planned if p.arm is arm]
        result.values = [v for r in result.runs if (v := exp.metric.read(r)) is not None]
        arms.append(result)
        if on_arm:
            on_arm(result)
    verdict = exp.judge(arms)
    folder.mkdir(parents=True, exist_ok=True)
    figure = draw(exp, arms, folder / f"{exp.name}.png")
    command = ["moderncnn", "experiment", "run", exp.name, "--budget", level]
    if planned:
        command += ["--data-dir", str(data_dir)]
    if seeds is not None:
        command += ["--seeds", str(seeds)]
    results = {
        "experiment": exp.name,
        "claim": exp.claim,
        "source": exp.source,
        "paper": exp.paper,
        "notes": exp.notes,
        "level": level,
        "budget": {
            "train": dict(budget.train) if budget.train is not None else None,
            "seeds": seeds or budget.seeds,
            "options": {k: dict(v) for k, v in budget.options.items()},
            "note": budget.note,
        },
        "metric": {"key": exp.metric.key, "label": exp.metric.label},
        "arms": [_arm_dict(a) for a in arms],
        "verdict": dataclasses.asdict(verdict),
        "extra": exp.extra() if exp.extra else {},
        "figure": figure.name if figure else None,
        "train_time_s": round(sum(r.wall_time_s for a in arms for r in a.runs), 1),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(command),
    }
    text = to_json(results, indent=2) + "\n"
    atomic_write(folder / "results.json", lambda p: p.write_text(text))
    return results


def _arm_dict(a: ArmResult) -> dict[str, Any]:
    d = dataclasses.asdict(a)
    d["mean"], d["spread"] = a.mean, a.spread
    return d
