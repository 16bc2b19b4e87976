"""The model registry, in timm's style: a decorator that records a builder and its paper facts.

The registry only records. Building is :func:`moderncnn.models.factory.create_model`;
counting parameters and probing input sizes on the ``meta`` device is
:mod:`moderncnn.models.probe`. Each family binds its paper once::

    register = functools.partial(register_model, family="resnet", paper=PAPER, year=2015)

and registers one function a variant, named as the model, as torchvision and timm do::

    @register(depth=50, params=25_557_032, ...)
    def resnet50(num_classes: int, in_chans: int, **options: Any) -> ResNet:
        return imagenet_resnet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, **options)

A builder is a callable ``(num_classes, in_chans, *, option=default, ...) -> ConvNet``; its
keyword options (and their defaults) are read from its signature, so they are written once.
A variant that passes ``**options`` on names the function that takes them (``options_from``):
their defaults are that function's, or the variant's own keyword options where it has any.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from moderncnn.errors import UnknownModelError
from moderncnn.models.base import ConvNet

Builder = Callable[..., ConvNet]
#: Every builder takes these two; the rest of its parameters are the model's options.
_COMMON = ("num_classes", "in_chans")


@dataclass(frozen=True)
class ReportedError:
    """An error rate a paper reports, in percent, with how it was measured and for which
    variant when that is not the registered default (e.g. ResNet-50's v1 bottleneck)."""

    protocol: str  #: e.g. "ILSVRC-2012 val, 10-crop (Table 3)"
    top1: float | None = None
    top5: float | None = None
    #: The variant the paper measured where it differs from this model's defaults, and the
    #: options that build it, e.g. "v1: stride in the first 1x1 conv (stride_in_1x1=True)".
    variant: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """What a user asks of a network before building it."""

    name: str
    family: str  #: alexnet | vgg | googlenet | resnet | densenet
    paper: str  #: short citation, e.g. "He, Zhang, Ren & Sun, Deep Residual Learning, CVPR 2016"
    year: int  #: year of the paper (arXiv)
    depth: int  #: weight layers on the longest path, as the paper counts them
    input_size: tuple[int, int, int]  #: default (C, H, W)
    dataset: str  #: "imagenet" or "cifar10": what num_classes defaults to and errors refer to
    num_classes: int  #: default number of classes
    #: Smallest height and width the network takes in eval mode (torchvision's ``min_size``);
    #: None: not checked before the forward pass. Tests probe it for every zoo model.
    min_input_size: int | None = None
    #: Parameters of the inference network at the default classes and options, and of the
    #: training-only auxiliary heads (GoogLeNet's) built by default, as torchvision records
    #: ``num_params``; tests recount both. None: counted when asked (inspect.probe).
    params: int | None = None
    aux_params: int = 0
    reported_error: ReportedError | None = None
    #: Name of the torchvision builder whose state_dict loads unchanged, or None.
    torchvision: str | None = None
    notes: str = ""
    #: Options the builder takes beyond num_classes / in_chans (name -> default), read from
    #: the builder's signature.
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_REGISTRY: dict[str, tuple[Builder, ModelInfo]] = {}


def builder_options(fn: Builder) -> dict[str, Any]:
    """The keyword options of a builder with their defaults, from its signature."""
    options = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name in _COMMON:
            continue
        if p.default is inspect.Parameter.empty or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            raise TypeError(f"builder option {p.name!r} needs a default (and no **kwargs)")
        options[p.name] = p.default
    return options


def forwarded_signature(fn: Builder, options_from: Builder) -> inspect.Signature:
    """``fn``'s signature with its ``**options`` replaced by the keyword options of
    ``options_from`` (in its order), with ``fn``'s own defaults where it declares one, so that
    ``inspect``, ``help`` and :func:`builder_options` see every option ``fn`` takes."""
    own = inspect.signature(fn).parameters.values()
    keyword = {p.name: p for p in own if p.kind is p.KEYWORD_ONLY}
    forwarded = [
        keyword.pop(p.name, p)
        for p in inspect.signature(options_from).parameters.values()
        if p.kind is p.KEYWORD_ONLY
    ]
    leading = [p for p in own if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return inspect.signature(fn).replace(parameters=[*leading, *forwarded, *keyword.values()])


def register_model(
    fn: Builder | None = None,
    *,
    name: str | None = None,
    family: str,
    paper: str,
    year: int,
    depth: int,
    input_size: tuple[int, int, int],
    dataset: str,
    num_classes: int,
    min_input_size: int | None = None,
    params: int | None = None,
    aux_params: int = 0,
    reported_error: ReportedError | None = None,
    torchvision: str | None = None,
    notes: str = "",
    options_from: Builder | None = None,
) -> Callable[[Builder], Builder]:
    """Record ``fn`` under ``name`` (default: its function name) with its :class:`ModelInfo`.

    Use as ``@register(...)`` on a builder. With ``options_from``, ``fn`` takes ``**options``
    and passes them to that function; its signature is then rewritten to list them."""

    def record(fn: Builder) -> Builder:
        if options_from is not None:
            fn.__signature__ = forwarded_signature(fn, options_from)  # type: ignore[attr-defined]
        key = name or fn.__name__
        if key in _REGISTRY:
            raise RuntimeError(f"model {key!r} registered twice")
        info = ModelInfo(
            key, family, paper, year, depth, input_size, dataset, num_classes, min_input_size,
            params, aux_params, reported_error, torchvision, notes, builder_options(fn),
        )  # fmt: skip
        _REGISTRY[key] = (fn, info)
        return fn

    return record if fn is None else record(fn)


def _natural_key(name: str) -> list[object]:
    """``resnet18`` before ``resnet101``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names in natural order, optionally filtered by an fnmatch ``pattern``."""
    names = sorted(_REGISTRY, key=_natural_key)
    return names if pattern is None else fnmatch.filter(names, pattern)


def get_builder(name: str) -> tuple[Builder, ModelInfo]:
    """The builder and info registered as ``name``; an unknown name lists the closest ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.5)
        hint = f"did you mean: {', '.join(close)}?" if close else "see `moderncnn models`"
        raise UnknownModelError(f"unknown model {name!r}; {hint}") from None


def model_info(name: str) -> ModelInfo:
    """Family, paper, year, depth, input sizes, parameters, reported error, torchvision match."""
    return get_builder(name)[1]


__all__ = [
    "ModelInfo",
    "ReportedError",
    "builder_options",
    "forwarded_signature",
    "get_builder",
    "list_models",
    "model_info",
    "register_model",
]
