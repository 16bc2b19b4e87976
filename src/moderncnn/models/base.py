"""The one interface every moderncnn network shares (timm's split, torchvision's names).

``forward(x) = forward_head(forward_features(x))``: features are the last spatial map,
the head pools and classifies. Inputs are checked first so that a wrong shape fails with
a message naming the model, what it got and what works, instead of deep inside a conv.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from moderncnn.errors import InputShapeError

T = TypeVar("T")


class ConvNet(nn.Module):
    """Base class: holds ``num_classes``, ``in_chans`` and the input check."""

    #: Registered name, set by :func:`moderncnn.create_model` (empty when built by hand).
    model_name: str = ""
    #: Options the model was created with (for the registry's smallest-input search).
    model_options: dict[str, object] = {}  # noqa: RUF012  (replaced, never mutated)
    #: Top-level parts a model may be built without (GoogLeNet's ``aux1``/``aux2``): their
    #: tensors in a weights file are dropped with a message instead of refused.
    optional_parts: tuple[str, ...] = ()
    #: Smallest height/width the network accepts, when known; otherwise it is looked up in the
    #: registry only after a forward pass fails, so the check costs nothing on good input.
    min_input_size: int | None = None

    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def _name(self) -> str:
        return self.model_name or type(self).__name__

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`InputShapeError` unless ``x`` is (N, in_chans, H, W) and, where the
        smallest size is known, H and W reach it."""
        if x.dim() != 4:
            raise InputShapeError(
                f"{self._name} expects a 4-D batch (N, {self.in_chans}, H, W), "
                f"got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.in_chans:
            raise InputShapeError(
                f"{self._name} expects {self.in_chans} input channels, got {x.shape[1]} "
                f"(shape {tuple(x.shape)}); create it with in_chans={x.shape[1]} to accept this"
            )
        if self.min_input_size is not None:
            self._check_size(x, self.min_input_size)

    def _check_size(self, x: torch.Tensor, smallest: int) -> None:
        h, w = x.shape[-2:]
        if min(h, w) < smallest:
            raise InputShapeError(
                f"{self._name} needs inputs of at least {smallest}x{smallest} pixels, got {h}x{w}"
            )

    def guarded(self, fn: Callable[[], T], x: torch.Tensor) -> T:
        """Check ``x``, run ``fn()``; if it fails on an input smaller than the network takes,
        raise :class:`InputShapeError` with the smallest size instead of torch's message."""
        if torch.compiler.is_compiling():
            return fn()
        self.check_input(x)
        try:
            return fn()
        except InputShapeError:
            raise
        except (RuntimeError, ValueError):  # torch's pooling and BN errors on tiny maps
            if self.min_input_size is None and self.model_name:
                from moderncnn.models.registry import min_input_size

                smallest = min_input_size(self.model_name, self.in_chans, **self.model_options)
                self.min_input_size = smallest
                self._check_size(x, smallest)
            raise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.guarded(lambda: self.forward_head(self.forward_features(x)), x)
