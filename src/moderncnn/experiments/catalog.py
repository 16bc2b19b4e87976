"""The lecture's claims, each declared as an :class:`~moderncnn.experiments.spec.Experiment`:
its regime, arms, budgets, metric and the parts of the claim, fixed before any seed runs.

Budgets. ``smoke``: three steps on 80 images, for CI (no verdict). ``quick``: a 2-core laptop
CPU, a regime per claim (:data:`~moderncnn.experiments.spec.REGIMES`): optimisation claims on
training error over all 50,000 images; regularisation claims on a 5,000-image subset trained
for 30 epochs, until it overfits; architecture claims on all 50,000 images with equal
iterations and batch for every arm and a one-cycle schedule (linear warm-up, linear decay to
zero). Precision is ``auto`` (bf16 only where the CPU has it natively). Three seeds an arm,
five where the paper's effect is under 2 points; arms with the same seed see the same data
order, so differences are paired by seed. ``paper``: each paper's recipe unchanged (a GPU's
work). Identical arms of different experiments (same model, options and budget) are one run.
"""

from __future__ import annotations

from moderncnn.errors import ConfigError
from moderncnn.experiments import catalog_2012, catalog_2015
from moderncnn.experiments.spec import Experiment

#: Every experiment, in the lecture's order, by name.
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e for e in (*catalog_2012.CLAIMS, *catalog_2015.CLAIMS)
}


def get_experiment(name: str) -> Experiment:
    """The experiment ``name``, or an error that lists them."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"no experiment {name!r}; experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]
