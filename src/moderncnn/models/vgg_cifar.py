"""VGG for CIFAR-10: Table 1's configurations (Simonyan & Zisserman 2015) for 32x32 images,
with BN after every conv and one linear layer (:class:`VGGCifar` says what is kept and
changed and why).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.layers import pooled_stages
from moderncnn.models.registry import Builder
from moderncnn.models.vgg import CONFIGS, init_weights, make_layers, register


def merge_3x3_stacks(cfg: list[int | str]) -> list[int | str]:
    """Sec. 2.3 and 4.1's shallow comparison net, from any column: each run of n consecutive
    3x3 convs becomes one (2n+1)x(2n+1) conv with the run's output channels, which has the
    same receptive field ("a stack of two 3x3 conv. layers ... has an effective receptive
    field of 5x5; three such layers have a 7x7 effective receptive field"). B's pairs become
    5x5 convs, as in the paper; D's triples 7x7."""
    merged: list[int | str] = []
    for is_3x3, run in itertools.groupby(cfg, key=lambda v: isinstance(v, int)):
        *_, last = items = list(run)
        merged += [f"conv{2 * len(items) + 1}-{last}"] if is_3x3 else items
    return merged


class VGGCifar(ConvNet):
    """VGG for 32x32 images: Table 1's convolutions with BN, then one linear layer over the
    last conv's channels (512 at full width).

    Kept: Table 1's 3x3 convolution stacks and five 2x2 max pools. Changed: BatchNorm after
    every conv (the paper trained deep configurations by initialising from shallower ones,
    Sec. 3.1; BN makes them trainable from scratch), and the three 4096-wide FC layers become
    one linear layer, since five pools leave a 1x1x512 map at 32x32 and the FC stack would
    hold most of the parameters for ten classes."""

    def __init__(self, features: nn.Sequential, num_classes: int, in_chans: int) -> None:
        super().__init__(num_classes, in_chans)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # identity at 32x32: five pools leave 1x1
        channels = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.classifier = nn.Linear(channels, num_classes)
        self.classifier_widths = {"classifier": channels}
        self.feature_info = pooled_stages(features)
        init_weights(self, "torchvision")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.check_input(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.classifier(x)


def vgg_cifar(
    cfg: str,
    num_classes: int,
    in_chans: int,
    *,
    width: float = 1.0,
    large_kernels: bool = False,
) -> VGGCifar:
    """VGG configuration ``cfg`` for 32x32 images (:class:`VGGCifar`).

    Options: ``width`` multiplies every conv's channels (rounded, at least 1; the linear
    layer reads the last conv's); ``large_kernels=True`` replaces each stack of n 3x3 convs
    by one (2n+1)x(2n+1) conv with the same receptive field, BN and ReLU after it
    (:func:`merge_3x3_stacks`; Sec. 4.1 derives such a shallow net from B, pairs of 3x3
    convs replaced by 5x5 ones, and measures a 7% higher top-1 error than B's)."""
    column = merge_3x3_stacks(CONFIGS[cfg]) if large_kernels else CONFIGS[cfg]
    return VGGCifar(make_layers(column, in_chans, True, width), num_classes, in_chans)


#: name: (Table 1 configuration, weight layers, parameters).
CIFAR = {
    "vgg11_cifar": ("A", 9, 9_231_114),
    "vgg13_cifar": ("B", 11, 9_416_010),
    "vgg16_cifar": ("D", 14, 14_728_266),
    "vgg19_cifar": ("E", 17, 20_040_522),
}


def register_cifar(fn: Builder) -> Builder:
    """Record a CIFAR VGG with its row of :data:`CIFAR`."""
    cfg, depth, params = CIFAR[fn.__name__]
    return register(
        depth=depth,
        params=params,
        input_size=(3, 32, 32),
        dataset="cifar10",
        num_classes=10,
        notes=f"Configuration {cfg} for 32x32: BN after every conv, one linear head.",
        options_from=vgg_cifar,
    )(fn)


@register_cifar
def vgg11_cifar(num_classes: int, in_chans: int, **options: Any) -> VGGCifar:
    """Configuration A for 32x32 images (what is kept and changed: :class:`VGGCifar`)."""
    return vgg_cifar("A", num_classes, in_chans, **options)


@register_cifar
def vgg13_cifar(num_classes: int, in_chans: int, **options: Any) -> VGGCifar:
    """Configuration B for 32x32 images (what is kept and changed: :class:`VGGCifar`)."""
    return vgg_cifar("B", num_classes, in_chans, **options)


@register_cifar
def vgg16_cifar(num_classes: int, in_chans: int, **options: Any) -> VGGCifar:
    """Configuration D for 32x32 images (what is kept and changed: :class:`VGGCifar`)."""
    return vgg_cifar("D", num_classes, in_chans, **options)


@register_cifar
def vgg19_cifar(num_classes: int, in_chans: int, **options: Any) -> VGGCifar:
    """Configuration E for 32x32 images (what is kept and changed: :class:`VGGCifar`)."""
    return vgg_cifar("E", num_classes, in_chans, **options)
