"""The one interface every moderncnn network shares (timm's split and head API, torchvision's
module names).

``forward(x) = forward_head(forward_features(x))``: features are the last spatial map, the
head pools and classifies. ``forward_features`` first checks the input, so a wrong shape fails
with a message naming the model, what it got and what works, instead of deep inside a conv.
The check is plain Python on the shape, costs nothing on good input, and is recorded as one
call by ``torch.fx`` (it is wrapped), so symbolic tracing and torchvision's
``create_feature_extractor`` see through every model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.fx
from torch import nn

from moderncnn.errors import InputShapeError

if TYPE_CHECKING:
    from moderncnn.models.pretrained import PretrainedCfg


@torch.fx.wrap
def check_input(x: torch.Tensor, in_chans: int, min_size: int | None, name: str) -> torch.Tensor:
    """Return ``x`` if it is an (N, ``in_chans``, H, W) batch with H and W at least ``min_size``
    (when known); else raise :class:`InputShapeError` saying what works."""
    if x.dim() != 4:
        raise InputShapeError(
            f"{name} expects a 4-D batch (N, {in_chans}, H, W), got shape {tuple(x.shape)}"
        )
    if x.shape[1] != in_chans:
        raise InputShapeError(
            f"{name} expects {in_chans} input channels, got {x.shape[1]} "
            f"(shape {tuple(x.shape)}); create it with in_chans={x.shape[1]} to accept this"
        )
    h, w = x.shape[-2:]
    if min_size is not None and min(h, w) < min_size:
        raise InputShapeError(
            f"{name} needs inputs of at least {min_size}x{min_size} pixels, got {h}x{w}"
        )
    return x


class ConvNet(nn.Module):
    """Base class: ``num_classes``, ``in_chans``, the input check and timm's head API.

    Each family declares its classifiers in ``classifier_widths`` (module path -> input
    width, the main classifier first) and sets ``num_features``, the width of the pooled
    features the main classifier reads; checkpoint loading, the fast path and
    :meth:`reset_classifier` use these instead of guessing.
    """

    #: Registered name, set by :func:`moderncnn.create_model` (empty when built by hand).
    model_name: str = ""
    #: Smallest height/width accepted, set by ``create_model`` from the registry (None: the
    #: size is not checked and a too-small input fails inside torch).
    min_input_size: int | None = None
    #: Top-level parts that run in training only and that a model may be built without
    #: (GoogLeNet's ``aux1``/``aux2``): not counted as the inference network's parameters,
    #: and their tensors in a weights file are dropped with a message when absent.
    aux_parts: tuple[str, ...] = ()
    #: What the loaded weights came with (class names, input data config), set by
    #: ``create_model(..., weights=...)``; None for freshly initialised weights.
    pretrained_cfg: PretrainedCfg | None = None

    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = 0
        self.classifier_widths: dict[str, int] = {}

    @property
    def _name(self) -> str:
        return self.model_name or type(self).__name__

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` if this network can take it, else :class:`InputShapeError`."""
        return check_input(x, self.in_chans, self.min_input_size, self._name)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool and classify a feature map; ``pre_logits``: stop before the last linear layer
        and return the (N, ``num_features``) features it reads."""
        raise NotImplementedError

    # -- timm's head API -----------------------------------------------------------------

    def get_classifier(self) -> nn.Module:
        """The main classifier: the layer that produces the logits."""
        return self.get_submodule(next(iter(self.classifier_widths)))

    def reset_classifier(self, num_classes: int) -> None:
        """New, freshly initialised classifiers (auxiliary ones too) for ``num_classes``
        classes; ``0`` replaces them with ``nn.Identity`` so that ``forward`` returns the
        pooled features (timm's convention)."""
        like = next(self.parameters())  # the new layers' device and dtype
        for path, width in self.classifier_widths.items():
            new = (
                nn.Linear(width, num_classes, device=like.device, dtype=like.dtype)
                if num_classes
                else nn.Identity()
            )
            self.set_submodule(path, new)
        self.num_classes = num_classes

    def classifier_keys(self) -> set[str]:
        """State-dict keys of every classifier (they change size with ``num_classes``)."""
        prefixes = tuple(f"{path}." for path in self.classifier_widths)
        return {k for k in self.state_dict() if k.startswith(prefixes)}

    def num_params(self, aux: bool = False) -> int:
        """Parameters of the inference network, or (``aux=True``) of the training-only
        auxiliary heads alone."""
        return sum(
            p.numel()
            for name, p in self.named_parameters()
            if (name.split(".")[0] in self.aux_parts) == aux
        )
