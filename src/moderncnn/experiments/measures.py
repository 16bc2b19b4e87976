"""What an experiment measures on each run: test or training error, iterations to a
training error, how structured the first layer's filters are, the effective receptive field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from moderncnn.experiments.spec import Metric, SeedRun
from moderncnn.experiments.verdicts import CHANCE_ERR

if TYPE_CHECKING:
    from moderncnn.inspect.erf import EffectiveField
    from moderncnn.models.base import ConvNet


def _error(key: str) -> Callable[[SeedRun], float | None]:
    def read(run: SeedRun) -> float | None:
        if run.diverged:
            return CHANCE_ERR  # a diverged run learned nothing: chance
        return getattr(run, key)

    return read


TEST_ERROR = Metric("test_err", "test top-1 error (%)", _error("test_err"))
TRAIN_ERROR = Metric("train_err", "training top-1 error of the last epoch (%)", _error("train_err"))


def _steps_to_threshold(run: SeedRun) -> float | None:
    """The step ``stop_error`` ended training at; a run that never reached the threshold (or
    diverged) counts with the steps it took, a lower bound (see ``Faster``)."""
    if run.stopped_at is not None:
        return float(run.stopped_at)
    return float(run.steps) if run.steps else None


def steps_to(threshold: float) -> Metric:
    """Iterations until the training error of the last mini-batches fell below
    ``threshold`` %: the arm trains with ``stop_error = threshold`` and stops there."""
    return Metric(
        f"steps_to_{threshold:g}",
        f"iterations to {threshold:g}% training error",
        _steps_to_threshold,
    )


def filter_smoothness(run: SeedRun) -> float | None:
    """Mean correlation of horizontally and vertically adjacent weights of the first
    convolution's filters: about 0 for random filters, high for the smooth edge and colour
    blob detectors of AlexNet Fig. 3."""
    from moderncnn.inspect.filters import image_conv, load_for_filters

    if run.diverged:
        return None
    return smoothness(image_conv(load_for_filters(run.run_dir))[1].weight)


def smoothness(weight: torch.Tensor) -> float:
    """See :func:`filter_smoothness`; ``weight``: a convolution's (N, C, k, k)."""
    w = weight.detach().float()
    w = w - w.mean(dim=(1, 2, 3), keepdim=True)
    pairs = [(w[..., :, 1:], w[..., :, :-1]), (w[..., 1:, :], w[..., :-1, :])]
    corr = [
        ((a * b).sum((1, 2, 3)) / (a.square().sum((1, 2, 3)) * b.square().sum((1, 2, 3))).sqrt())
        for a, b in pairs
    ]
    return float(sum(c.mean() for c in corr) / 2)


def fresh(model: str, options: dict[str, Any], seed: int) -> ConvNet:
    """``model`` freshly initialised after ``torch.manual_seed(seed)``: a random network of
    a trained one's seed, for what training changed."""
    from moderncnn.models import create_model

    torch.manual_seed(seed)
    return create_model(model, num_classes=10, **options)


def initial_smoothness(model: str, options: dict[str, Any], seed: int) -> float:
    """:func:`smoothness` of the first convolution of :func:`fresh` ``model``."""
    from moderncnn.inspect.filters import image_conv

    return smoothness(image_conv(fresh(model, options, seed))[1].weight)


SMOOTHNESS = Metric(
    "smoothness", "correlation of adjacent filter weights", filter_smoothness, higher_is_better=True
)

#: The effective field is measured on random N(0, 1) inputs larger than ResNet-20's
#: theoretical field (81 px), so that all of it is seen, with 95% of the gradient's mass.
ERF_INPUT = (3, 96, 96)
ERF_SAMPLES = 32


def field_of(net: ConvNet) -> EffectiveField:
    """The effective receptive field of ``net``'s last feature map's centre unit (Luo et al.
    2016), on :data:`ERF_SAMPLES` random inputs of :data:`ERF_INPUT`."""
    from moderncnn.inspect.erf import effective_receptive_field

    return effective_receptive_field(net, ERF_INPUT, samples=ERF_SAMPLES)


def _effective_size(run: SeedRun) -> float | None:
    from moderncnn.inspect.filters import load_for_filters

    if run.diverged:
        return None
    return field_of(load_for_filters(run.run_dir)).size


def initial_effective_size(model: str, options: dict[str, Any], seed: int) -> float:
    """The effective field's side of :func:`fresh` ``model``."""
    return field_of(fresh(model, options, seed)).size


EFFECTIVE_FIELD = Metric(
    "effective_field", "effective receptive field, 95% of the gradient (px)", _effective_size
)
