"""The one interface every moderncnn network shares (timm's split, torchvision's names).

``forward(x) = forward_head(forward_features(x))``: features are the last spatial map,
the head pools and classifies. Inputs are checked first so that a wrong shape fails with
a message naming the model, what it got and what works, instead of deep inside a conv.
"""

from __future__ import annotations

import torch
from torch import nn

from moderncnn.errors import InputShapeError


class ConvNet(nn.Module):
    """Base class: holds ``num_classes``, ``in_chans`` and the input check."""

    #: Registered name, set by :func:`moderncnn.create_model` (empty when built by hand).
    model_name: str = ""
    #: Smallest height/width the network accepts; set by ``create_model`` from the registry.
    min_input_size: int = 1

    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`InputShapeError` unless ``x`` is (N, in_chans, H, W), H, W >= min."""
        name = self.model_name or type(self).__name__
        if x.dim() != 4:
            raise InputShapeError(
                f"{name} expects a 4-D batch (N, {self.in_chans}, H, W), got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.in_chans:
            raise InputShapeError(
                f"{name} expects {self.in_chans} input channels, got {x.shape[1]} "
                f"(shape {tuple(x.shape)}); create it with in_chans={x.shape[1]} to accept this"
            )
        h, w = x.shape[-2:]
        if min(h, w) < self.min_input_size:
            raise InputShapeError(
                f"{name} needs inputs of at least {self.min_input_size}x{self.min_input_size} "
                f"pixels, got {h}x{w}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.compiler.is_compiling():
            self.check_input(x)
        return self.forward_head(self.forward_features(x))
