"""Facts measured from a registered network built on the ``meta`` device (shapes only,
nothing allocated): its parameters and the smallest input it accepts.

The registry records both for every zoo model (torchvision's ``num_params`` and ``min_size``
convention); the tests recount them here, and these functions answer for other options,
other input channels and models registered without them.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from moderncnn.models.base import ConvNet
from moderncnn.models.factory import create_model
from moderncnn.models.registry import model_info

InputSize = tuple[int, int, int]


def build_meta(
    name: str, input_size: InputSize | None = None, **options: Any
) -> tuple[ConvNet, InputSize]:
    """Registered network ``name`` (with its ``options``) on ``meta`` in eval mode, taking
    ``input_size``'s channels, and the input size (the model's default when None)."""
    size = input_size or model_info(name).input_size
    with torch.device("meta"):
        model = create_model(name, in_chans=size[0], **options)
    return model.eval(), size


def count_params(name: str, **options: Any) -> tuple[int, int]:
    """(inference network, training-only auxiliary heads) parameters of ``name`` at its
    default classes, built with ``options``."""
    model, _ = build_meta(name, **options)
    return model.num_params(), model.num_params(aux=True)


def min_input_size(name: str, in_chans: int = 3, training: bool = False, **options: Any) -> int:
    """Smallest square input ``name`` accepts, found by shape-only passes on ``meta``.

    ``training=True`` runs training mode, where auxiliary heads (GoogLeNet's) run too."""
    return _min_input_size(name, in_chans, training, tuple(sorted(options.items())))


@functools.cache
def _min_input_size(
    name: str, in_chans: int, training: bool, options: tuple[tuple[str, Any], ...]
) -> int:
    model, size = build_meta(name, (in_chans, *model_info(name).input_size[1:]), **dict(options))
    model.min_input_size = None  # probe torch itself, not the registered figure
    model.train(training)

    def fits(size: int) -> bool:
        try:
            model(torch.empty(2, in_chans, size, size, device="meta"))
        except (RuntimeError, ValueError, IndexError):
            return False
        return True

    # Exponential then binary search: failing probes stop at the first layer that cannot
    # take the input, so they are cheap; most networks fit at a few pixels.
    limit = max(size[1:]) * 2
    hi = 1
    while not fits(hi):
        if hi >= limit:
            raise RuntimeError(f"{name}: no input up to {limit} pixels fits")
        hi *= 2
    lo = hi // 2 + 1
    while lo < hi:  # smallest size that fits; fitting is monotone in the size
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
