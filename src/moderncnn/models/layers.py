"""Small layers shared by several families."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def activation(name: str, inplace: bool = True) -> nn.Module:
    """``relu`` or ``tanh``: AlexNet Sec. 3.1 compares the two (Figure 1)."""
    try:
        cls = ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
    return cls(inplace=True) if cls is nn.ReLU and inplace else cls()


@torch.fx.wrap  # one call in a traced graph (fx, create_feature_extractor): it branches on rank
def local_response_norm(
    x: torch.Tensor, size: int, alpha: float, beta: float, k: float
) -> torch.Tensor:
    """:func:`torch.nn.functional.local_response_norm` of an NCHW ``x`` without its 3-D
    average pool: the sum of squares over ``size`` neighbouring channels is one 1x1
    convolution by a banded channel matrix, and the division a multiplication by a power.
    Other ranks: PyTorch's own."""
    if x.dim() != 4:
        return F.local_response_norm(x, size, alpha, beta, k)
    channels = torch.arange(x.shape[1], device=x.device)
    offset = channels[None, :] - channels[:, None]  # input channel - output channel
    band = (offset >= -(size // 2)) & (offset <= (size - 1) // 2)
    weight = (band.to(x.dtype) * (alpha / size))[:, :, None, None]
    return x * (F.conv2d(x * x, weight) + k).pow(-beta)


class LocalResponseNorm(nn.LocalResponseNorm):
    """``nn.LocalResponseNorm`` (same arguments, attributes and result) computed by
    :func:`local_response_norm`. Training steps through it ran about 2x faster on a CPU
    (benchmarks/lrn_speed.py, docs/benchmarks.md). A subclass, so code that looks for LRN
    layers finds it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)


def paper_lrn(size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> nn.Module:
    """Local response normalisation with the constants as AlexNet Sec. 3.3 writes them.

    The paper divides by ``(k + alpha * sum_j a_j^2) ** beta``; PyTorch (like Caffe) divides
    by ``(k + alpha / size * sum_j a_j^2) ** beta``. So the paper's alpha is multiplied by
    ``size`` here; the paper's defaults are n=5, alpha=1e-4, beta=0.75, k=2.
    """
    return LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)


def init_weights(model: nn.Module, init: str, choices: tuple[str, ...]) -> None:
    """Initialise ``model`` as ``init`` (one of ``choices``) says: "he" is He et al. 2015
    ("Delving Deep into Rectifiers", Sec. 2.2) for every conv and linear layer, weights
    ~ N(0, 2 / fan_in), the mode that keeps the forward signal's variance through ReLUs, and
    zero biases; any other choice leaves the builder's initialisation (PyTorch's default
    where it set none)."""
    if init not in choices:
        raise ValueError(f"init must be one of {', '.join(choices)}, got {init!r}")
    if init != "he":
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def check_drop_rate(drop_rate: float) -> float:
    """A dropout probability in [0, 1), or ValueError saying so."""
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
    return drop_rate


def scaled(channels: int, width: float) -> int:
    """``channels`` times a width multiplier, rounded, at least 1; ValueError unless
    ``width`` > 0."""
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    return max(1, round(channels * width))


def fc_head(classifier: nn.Sequential, x: torch.Tensor, pre_logits: bool) -> torch.Tensor:
    """Run AlexNet's / VGG's fully connected ``classifier`` on flattened features: every layer
    but the last (fc6, fc7 with their ReLUs and dropouts), then, unless ``pre_logits``, the
    last linear layer (fc8)."""
    *hidden, logits = classifier
    for layer in hidden:
        x = layer(x)
    return x if pre_logits else logits(x)


def pooled_stages(features: nn.Sequential, prefix: str = "features") -> list[dict[str, Any]]:
    """Feature stages of a conv/pool stack (AlexNet, VGG), by timm's VGG rule: the map
    before each pool, max or average (the ReLU's, or the LRN's where one follows it), then
    the last layer's output. Channels are the last conv's, reductions the product of the
    strides."""
    stages = []
    channels, reduction, previous = 0, 1, ""
    for name, m in features.named_children():
        if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
            stages.append(dict(num_chs=channels, reduction=reduction, module=previous))
        if isinstance(m, nn.Conv2d):
            channels = m.out_channels
        if isinstance(m, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            stride = m.stride
            reduction *= stride if isinstance(stride, int) else stride[0]
        previous = f"{prefix}.{name}"
    stages.append(dict(num_chs=channels, reduction=reduction, module=previous))
    return stages
