"""The lecture's claims as experiments anyone can rerun: ``moderncnn experiment list / run /
report``. Each experiment is data (:mod:`moderncnn.experiments.catalog`); running one trains
its arms with ``moderncnn train``'s engine and writes results.json, a figure and a verdict."""

from moderncnn.experiments.catalog import EXPERIMENTS, get_experiment
from moderncnn.experiments.report import write_report
from moderncnn.experiments.runner import plan, run_experiment
from moderncnn.experiments.spec import LEVELS, VERDICTS, Arm, Budget, Experiment

__all__ = [
    "EXPERIMENTS",
    "LEVELS",
    "VERDICTS",
    "Arm",
    "Budget",
    "Experiment",
    "get_experiment",
    "plan",
    "run_experiment",
    "write_report",
]
