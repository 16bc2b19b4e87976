"""What an experiment is, as data: the lecture's claim and its source in the paper, the regime
it is measured in, the arms (a network, its options and recipe overrides), a budget per level,
the metric, the figure and the parts of the claim that turn measurements into a verdict."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moderncnn.experiments.verdicts import Part

#: Budget levels: seconds on tiny data (CI), a 2-core laptop (at most 20 minutes an
#: experiment), and the papers' own schedules (a GPU).
LEVELS = ("smoke", "quick", "paper")
#: Verdicts: the 95% interval supports the claim (or some of its parts), contradicts it, or
#: cannot tell; a smoke run gives none (its numbers mean nothing).
VERDICTS = ("supported", "partly supported", "not supported", "inconclusive")
NO_VERDICT = "no verdict"
#: Where a claim can show (issue 18): an optimisation claim on training error, a
#: regularisation claim where the network overfits (a small subset trained long), an
#: architecture claim on the full training set with equal iterations and batch, a count
#: claim without training.
REGIMES = {
    "optimisation": "training error, all 50,000 images, no regularisation beyond the paper's",
    "regularisation": "test error and the train-test gap on a small subset trained until it "
    "overfits",
    "architecture": "test error after equal iterations and batch on all 50,000 images, "
    "one-cycle schedule (warm-up, then linear decay to zero)",
    "counts": "parameters and MACs of the real modules, no training",
}


@dataclass(frozen=True, eq=False)
class Arm:
    """One network of an experiment: ``model`` built with ``options`` and trained with its
    paper's recipe (or ``recipe``) changed by ``train`` (recipe keys). ``group`` puts arms
    side by side in a figure (ResNet Fig. 1's plain and residual panels). ``lrs``: a grid of
    learning rates tried with one seed first; the seeds then train at the best of them.
    ``paper``: the paper's number for this network, shown beside ours. Arms compare by
    identity: a claim's parts name the arm objects."""

    label: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    recipe: str = ""
    group: str = ""
    lrs: tuple[float, ...] = ()
    paper: str = ""


@dataclass(frozen=True)
class Budget:
    """How long every arm trains: recipe keys for all arms (and more per arm ``group``, for
    the parts of a claim measured in another regime), model options per model name (narrower
    networks where the claim allows), and how many seeds. ``skip``: groups not trained at
    this level (their parts are reported as not run). ``train=None``: nothing is trained at
    this level (a claim about counts)."""

    train: Mapping[str, Any] | None
    seeds: int = 3
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    groups: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    skip: tuple[str, ...] = ()
    note: str = ""


@dataclass
class SeedRun:
    """One arm trained with one seed: its run directory's numbers, or why it stopped."""

    seed: int
    run_dir: str
    command: str
    lr: float | None = None
    test_err: float | None = None
    val_err: float | None = None
    train_err: float | None = None  #: the last epoch's, on (augmented) mini-batches
    stopped_at: int | None = None  #: the step stop_error ended training at
    steps: int = 0  #: optimizer steps taken
    curve: list[dict[str, float]] = field(default_factory=list)  #: step, epoch, train/val err
    wall_time_s: float = 0.0
    images_per_s: float = 0.0
    precision: str = ""  #: what the run computed in (fp32, bf16)
    diverged: str = ""  #: the DivergedError message when training diverged


@dataclass
class ArmResult:
    """An arm's counts (at its input size, with its options), its runs and its metric per
    seed; ``grid``: the one-seed runs of its learning-rate grid, when it has one."""

    label: str
    model: str
    options: dict[str, Any]
    group: str
    params: int
    macs: int
    latency_ms: float | None = None
    runs: list[SeedRun] = field(default_factory=list)
    by_seed: dict[int, float] = field(default_factory=dict)  #: the experiment's metric
    grid: list[SeedRun] = field(default_factory=list)
    paper: str = ""

    @property
    def values(self) -> list[float]:
        return list(self.by_seed.values())

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
    status: str  #: one of :data:`VERDICTS`, or :data:`NO_VERDICT`
    text: str  #: ours against the paper's, in numbers
    parts: tuple[dict[str, Any], ...] = ()  #: each part's status, interval and text


@dataclass(frozen=True)
class Metric:
    """What an experiment compares: a name, its unit, how to read it off a run, and which
    way is better."""

    key: str
    label: str
    read: Callable[[SeedRun], float | None]
    higher_is_better: bool = False


@dataclass(frozen=True)
class Experiment:
    """A claim of the lecture and how to test it.

    ``parts`` are the claim's parts, each judged from a 95% interval over seeds (see
    :mod:`moderncnn.experiments.verdicts`); ``plot`` names the figure (see
    :mod:`moderncnn.experiments.figures`); ``extra`` computes numbers that need no training
    (the lecture's worked counts), stored in results.json under ``extra``. ``design`` says
    what was fixed before any seed ran, and what a pilot decided."""

    name: str
    claim: str
    source: str  #: the paper, figure or table, and section
    paper: str  #: the paper's statement and number
    regime: str  #: a key of :data:`REGIMES`
    arms: tuple[Arm, ...]
    budgets: Mapping[str, Budget]
    metric: Metric
    parts: Sequence[Part]
    plot: str
    plot_args: Mapping[str, Any] = field(default_factory=dict)  #: e.g. a threshold line
    extra: Callable[[], dict[str, Any]] | None = None
    latency: bool = False  #: measure each arm's CPU latency (batch 1)
    design: str = ""  #: how the design answers the claim; what we changed from the paper
