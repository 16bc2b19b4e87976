"""Model registry in timm's style: builders register themselves with their paper facts.

Every builder has one signature, ``fn(num_classes, in_chans, **options) -> ConvNet``, so
:func:`create_model` can build, check and load any of them the same way.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from moderncnn.errors import ModernCNNError, UnknownModelError
from moderncnn.models.base import ConvNet

Builder = Callable[..., ConvNet]


@dataclass(frozen=True)
class ModelInfo:
    """What a user asks of a network before building it."""

    name: str
    family: str  #: alexnet | vgg | googlenet | resnet | densenet
    paper: str  #: short citation, e.g. "He et al., Deep Residual Learning, CVPR 2016"
    year: int  #: year of the paper (arXiv)
    depth: int  #: weight layers on the longest path, as the paper counts them
    input_size: tuple[int, int, int]  #: default (C, H, W)
    dataset: str  #: "imagenet" or "cifar10": what num_classes defaults to and errors refer to
    num_classes: int  #: default number of classes
    #: Error the paper reports for this network: {"top1": %, "top5": %, "protocol": ...}.
    reported_error: dict[str, float | str] | None = None
    #: Name of the torchvision builder whose state_dict loads unchanged, or None.
    torchvision: str | None = None
    notes: str = ""
    #: Options the builder takes beyond num_classes / in_chans (name -> default).
    options: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


_REGISTRY: dict[str, tuple[Builder, ModelInfo]] = {}


def register_model(**info: object) -> Callable[[Builder], Builder]:
    """Decorator: register ``fn`` under its function name with the given :class:`ModelInfo`."""

    def wrap(fn: Builder) -> Builder:
        name = fn.__name__
        if name in _REGISTRY:
            raise RuntimeError(f"model {name!r} registered twice")
        _REGISTRY[name] = (fn, ModelInfo(name=name, **info))  # type: ignore[arg-type]
        return fn

    return wrap


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted, optionally filtered by an fnmatch ``pattern`` (``"resnet*"``)."""
    names = sorted(_REGISTRY)
    return names if pattern is None else fnmatch.filter(names, pattern)


def _lookup(name: str) -> tuple[Builder, ModelInfo]:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.5)
        hint = f"did you mean: {', '.join(close)}?" if close else "see `moderncnn models`"
        raise UnknownModelError(f"unknown model {name!r}; {hint}") from None


def model_info(name: str) -> ModelInfo:
    """Family, paper, year, depth, default input size, reported error, torchvision match."""
    return _lookup(name)[1]


def min_input_size(name: str, in_chans: int = 3, **options: object) -> int:
    """Smallest square input the network accepts, found by shape-only passes on ``meta``.

    Training mode is used, so auxiliary heads (GoogLeNet) count too.
    """
    return _min_input_size(name, in_chans, tuple(sorted(options.items())))


@functools.cache
def _min_input_size(name: str, in_chans: int, options: tuple[tuple[str, object], ...]) -> int:
    builder, info = _lookup(name)
    with torch.device("meta"):
        model = builder(num_classes=info.num_classes, in_chans=in_chans, **dict(options)).train()

    def fits(size: int) -> bool:
        try:
            model(torch.empty(2, in_chans, size, size, device="meta"))
        except (RuntimeError, ValueError, IndexError):
            return False
        return True

    # Exponential then binary search: failing probes stop at the first layer that cannot
    # take the input, so they are cheap; most networks fit at a few pixels.
    limit = max(info.input_size[1:]) * 2
    hi = 1
    while not fits(hi):
        if hi >= limit:
            raise RuntimeError(
                f"{name}: no input up to {limit} pixels fits; registry data is wrong"
            )
        hi *= 2
    lo = hi // 2 + 1
    while lo < hi:  # smallest size that fits; fitting is monotone in the size
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


@functools.cache
def count_params(name: str) -> int:
    """Parameters of ``name`` at its default classes, counted on ``meta`` (nothing allocated)."""
    builder, info = _lookup(name)
    with torch.device("meta"):
        model = builder(num_classes=info.num_classes, in_chans=info.input_size[0])
    return sum(p.numel() for p in model.parameters())


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_chans: int = 3,
    weights: str | Path | None = None,
    **options: object,
) -> ConvNet:
    """Build a registered network, optionally loading weights.

    Args:
        name: a name from :func:`list_models`.
        num_classes: classifier outputs; ``None`` takes the model's default (1000 for the
            ImageNet networks, 10 for the CIFAR ones).
        in_chans: input channels.
        weights: path to a torchvision ``.pth`` state_dict or a moderncnn ``.safetensors``
            checkpoint; see :func:`moderncnn.checkpoint.load_weights`.
        **options: the family's options (``activation``, ``shortcut``, ``memory_efficient``...).
    """
    builder, info = _lookup(name)
    if num_classes is None:
        num_classes = info.num_classes
    if num_classes < 1 or in_chans < 1:
        raise ModernCNNError(
            f"{name}: num_classes and in_chans must be positive, got {num_classes}, {in_chans}"
        )
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        allowed = ", ".join(f"{k}={v!r}" for k, v in info.options.items()) or "none"
        raise ModernCNNError(f"{name} has no option {', '.join(unknown)}; options: {allowed}")
    try:
        model = builder(num_classes=num_classes, in_chans=in_chans, **options)
    except (TypeError, ValueError) as e:  # a bad option value: say which model and why
        raise ModernCNNError(f"{name}: {e}") from None
    model.model_name = name
    model.model_options = dict(options)
    if weights is not None:
        from moderncnn.checkpoint import load_weights

        load_weights(model, weights)
    return model


__all__ = [
    "ModelInfo",
    "count_params",
    "create_model",
    "list_models",
    "min_input_size",
    "model_info",
    "register_model",
]
