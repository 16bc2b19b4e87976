"""What an experiment is, as data: the lecture's claim and its source in the paper, the arms
(a network, its options and recipe overrides), a budget per level, the metric, the figure and
the rule that turns measurements into a verdict."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Budget levels: seconds on tiny data (CI), a 2-core laptop (at most 20 minutes an
#: experiment), and the papers' own schedules (a GPU).
LEVELS = ("smoke", "quick", "paper")
#: Verdicts: the measurement supports the claim (or some of its parts), contradicts it, or
#: cannot tell (a difference within seed noise, or a run that could not finish).
VERDICTS = ("supported", "partly supported", "not supported", "inconclusive")


@dataclass(frozen=True)
class Arm:
    """One network of an experiment: ``model`` built with ``options`` and trained with its
    paper's recipe (or ``recipe``) changed by ``train`` (recipe keys). ``group`` puts arms
    side by side in a figure (ResNet Fig. 1's plain and residual panels)."""

    label: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    recipe: str = ""
    group: str = ""


@dataclass(frozen=True)
class Budget:
    """How long every arm trains: recipe keys for all arms, model options per model name
    (narrower networks where the claim allows), and how many seeds. ``train=None``: nothing
    is trained at this level (a claim about counts)."""

    train: Mapping[str, Any] | None
    seeds: int = 1
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    note: str = ""


@dataclass
class SeedRun:
    """One arm trained with one seed: its run directory's numbers, or why it stopped."""

    seed: int
    run_dir: str
    command: str
    test_err: float | None = None
    val_err: float | None = None
    train_err: float | None = None  #: the last epoch's, on augmented mini-batches
    curve: list[dict[str, float]] = field(default_factory=list)  #: step, epoch, train/val err
    wall_time_s: float = 0.0
    images_per_s: float = 0.0
    diverged: str = ""  #: the DivergedError message when training diverged


@dataclass
class ArmResult:
    """An arm's counts (at its input size, with its options) and its runs."""

    label: str
    model: str
    options: dict[str, Any]
    group: str
    params: int
    macs: int
    latency_ms: float | None = None
    runs: list[SeedRun] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  #: the experiment's metric per seed

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def spread(self) -> float:
        """Sample standard deviation over seeds (nan with fewer than two)."""
        return statistics.stdev(self.values) if len(self.values) > 1 else math.nan

    def mean_of(self, key: str) -> float:
        """Mean of a :class:`SeedRun` field over the runs that have it."""
        xs = [getattr(r, key) for r in self.runs if getattr(r, key) is not None]
        return statistics.fmean(xs) if xs else math.nan


@dataclass(frozen=True)
class Verdict:
    status: str  #: one of :data:`VERDICTS`
    text: str  #: ours against the paper's, in numbers


@dataclass(frozen=True)
class Metric:
    """What an experiment compares: a name, its unit, and how to read it off a run."""

    key: str
    label: str
    read: Callable[[SeedRun], float | None]


@dataclass(frozen=True)
class Experiment:
    """A claim of the lecture and how to test it.

    ``judge`` turns the arms' results into a :class:`Verdict`; ``plot`` names the figure
    (see :mod:`moderncnn.experiments.figures`); ``extra`` computes numbers that need no
    training (the lecture's worked counts), stored in results.json under ``extra``."""

    name: str
    claim: str
    source: str  #: the paper, figure or table, and section
    paper: str  #: the paper's statement and number
    arms: tuple[Arm, ...]
    budgets: Mapping[str, Budget]
    metric: Metric
    judge: Callable[[list[ArmResult]], Verdict]
    plot: str
    plot_args: Mapping[str, Any] = field(default_factory=dict)  #: e.g. a threshold line
    extra: Callable[[], dict[str, Any]] | None = None
    latency: bool = False  #: measure each arm's CPU latency (batch 1)
    notes: str = ""  #: what we changed from the paper to fit a budget, and why
