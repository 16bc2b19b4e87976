"""VGG: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015 (arXiv 2014).

Depth from stacks of 3x3 convolutions (Sec. 2.3: two 3x3 layers see 5x5, three see 7x7, with
fewer weights and more non-linearities). ``CONFIGS`` is Table 1 column by column; the ImageNet
networks use torchvision's module names (``features``, ``avgpool``, ``classifier``), so
torchvision's ``vgg11``..``vgg19_bn`` state_dicts load unchanged.
:meth:`VGG.to_fully_convolutional` gives the paper's dense evaluation (Sec. 3.2). The CIFAR
networks are in :mod:`moderncnn.models.vgg_cifar`.
Feature stages (``feature_info``, timm's choice for VGG): the map before each of the five
max pools (reductions 1 to 16), then the last pool's output (32).

Initialisation (``init``): "torchvision" (the default) is He et al.'s normal init with
fan_out for convs and N(0, 0.01) for the FC layers, which trains every configuration from
scratch. "paper" is Sec. 3.1's "normal distribution with the zero mean and 10^-2 variance"
(std 0.1; many reimplementations read it as std 0.01) with zero biases. The paper used random
init only for net A and initialised the first four convs and the FC layers of deeper nets
from a trained A (not reproducible as an init option); after submission the authors found
Glorot & Bengio's init trains them directly.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.layers import fc_head, paper_lrn, pooled_stages, scaled
from moderncnn.models.registry import Builder, ReportedError, register_model

register = functools.partial(
    register_model,
    family="vgg",
    paper="Simonyan & Zisserman, Very Deep Convolutional Networks, ICLR 2015",
    year=2014,
    min_input_size=32,  # five 2x2/2 max pools
)

#: Table 1. An int is a 3x3 conv with that many channels, "convK-N" (the paper's notation) a
#: KxK conv with N channels (config C's 1x1 convs), "M" a 2x2/2 max pool, "LRN" local
#: response normalisation (A-LRN).
CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, "conv1-256", "M",
          512, 512, "conv1-512", "M", 512, 512, "conv1-512", "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}  # fmt: skip
INITS = ("torchvision", "paper")


def make_layers(
    cfg: list[int | str], in_chans: int = 3, batch_norm: bool = False, width: float = 1.0
) -> nn.Sequential:
    """Build ``features`` from a Table 1 column (torchvision's indices: conv, [BN], ReLU),
    every conv's channels multiplied by ``width`` (rounded, at least 1)."""
    layers: list[nn.Module] = []
    channels = in_chans
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":  # Sec. 2.3: the AlexNet LRN layer (Krizhevsky et al. 2012)
            layers.append(paper_lrn())
        else:
            k, out = (3, v) if isinstance(v, int) else map(int, v[4:].split("-"))
            out = scaled(out, width)
            layers.append(nn.Conv2d(channels, out, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
    return nn.Sequential(*layers)


def init_weights(model: nn.Module, init: str) -> None:
    """Initialise convs, BNs and linear layers as ``init`` says (module docstring)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Conv2d | nn.Linear):
            if init == "paper":
                nn.init.normal_(m.weight, 0, 0.1)  # variance 10^-2
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


class VGG(ConvNet):
    """Convolutional ``features``, a 7x7 adaptive pool and three FC layers (Sec. 2.1): fc6 and
    fc7 of 4096 units with dropout on their outputs (Sec. 3.1), fc8 the classifier."""

    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int,
        in_chans: int,
        drop_rate: float,
        init: str,
    ) -> None:
        super().__init__(num_classes, in_chans)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=drop_rate),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=drop_rate),
            nn.Linear(4096, num_classes),
        )
        self.classifier_widths = {"classifier.6": 4096}
        self.feature_info = pooled_stages(features)
        init_weights(self, init)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.check_input(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return fc_head(self.classifier, torch.flatten(self.avgpool(x), 1), pre_logits)

    def to_fully_convolutional(self) -> VGGDense:
        """The paper's dense evaluation (Sec. 3.2): fc6 becomes a 7x7 conv, fc7 and fc8 1x1
        convs, sharing (copies of) these weights. Equal scores at 224x224; a class-score map
        at larger inputs, which :class:`VGGDense` averages over space."""
        fcs = [m for m in self.classifier if isinstance(m, nn.Linear)]
        convs = []
        for fc, k, cin in zip(fcs, (7, 1, 1), (512, 4096, 4096), strict=True):
            conv = nn.Conv2d(cin, fc.out_features, kernel_size=k)
            with torch.no_grad():
                conv.weight.copy_(fc.weight.view(fc.out_features, cin, k, k))
                conv.bias.copy_(fc.bias)
            convs.append(conv)
        drop = [m.p for m in self.classifier if isinstance(m, nn.Dropout)]
        head = nn.Sequential(
            convs[0],
            nn.ReLU(True),
            nn.Dropout(drop[0]),
            convs[1],
            nn.ReLU(True),
            nn.Dropout(drop[1]),
            convs[2],
        )
        dense = VGGDense(self.features, head, self.num_classes, self.in_chans)
        dense.model_name = f"{self.model_name or 'vgg'}_dense"
        dense.train(self.training)
        return dense


class VGGDense(ConvNet):
    """Fully convolutional VGG (Sec. 3.2). ``score_map(x)`` is (N, classes, h, w) with
    h = w = 1 at 224x224; ``forward`` averages it over space ("sum-pooled" in the paper)."""

    min_input_size = 224  # the 7x7 conv needs a 7x7 feature map: 224 = 7 * 32

    def __init__(
        self, features: nn.Sequential, head: nn.Sequential, num_classes: int, in_chans: int
    ) -> None:
        super().__init__(num_classes, in_chans)
        self.features = features
        self.head = head
        self.classifier_widths = {"head.6": 4096}
        self.feature_info = pooled_stages(features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.check_input(x))

    def score_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        *hidden, fc8 = self.head
        for layer in hidden:
            x = layer(x)
        return x.mean(dim=(2, 3)) if pre_logits else fc8(x).mean(dim=(2, 3))

    def reset_classifier(self, num_classes: int) -> None:
        """A new 1x1 conv classifier (fc8 of the dense network), or identity for 0."""
        like = self.head[0].weight  # the new layer's device and dtype
        fc8 = (
            nn.Conv2d(4096, num_classes, 1, device=like.device, dtype=like.dtype)
            if num_classes
            else nn.Identity()
        )
        self.head[6] = fc8
        self.num_classes = num_classes


def vgg(
    cfg: str,
    batch_norm: bool,
    num_classes: int,
    in_chans: int,
    *,
    drop_rate: float = 0.5,
    init: str = "torchvision",
) -> VGG:
    """VGG of Table 1's configuration ``cfg`` ("A".."E"), with BN after every conv if asked."""
    return VGG(
        make_layers(CONFIGS[cfg], in_chans, batch_norm), num_classes, in_chans, drop_rate, init
    )


_T3 = "ILSVRC-2012 val, single scale (Table 3)"
_T5 = "ILSVRC-2012 val, multi-crop & dense (Table 5)"
#: name: (Table 1 configuration, weight layers, BN, (top-1, top-5, protocol) or None,
#: parameters): what :func:`imagenet_vgg` builds and :func:`register_imagenet` records. The
#: BN variants are torchvision's (BN is not in the paper); the others are torchvision's too
#: except A-LRN and C.
IMAGENET = {
    "vgg11": ("A", 11, False, (29.6, 10.4, _T3), 132_863_336),
    "vgg11_lrn": ("A-LRN", 11, False, (29.7, 10.5, _T3), 132_863_336),
    "vgg13": ("B", 13, False, (28.7, 9.9, _T3), 133_047_848),
    "vgg16_c": ("C", 16, False, (27.3, 8.8, _T3), 133_638_952),
    "vgg16": ("D", 16, False, (24.4, 7.2, _T5), 138_357_544),
    "vgg19": ("E", 19, False, (24.4, 7.1, _T5), 143_667_240),
    "vgg11_bn": ("A", 11, True, None, 132_868_840),
    "vgg13_bn": ("B", 13, True, None, 133_053_736),
    "vgg16_bn": ("D", 16, True, None, 138_365_992),
    "vgg19_bn": ("E", 19, True, None, 143_678_248),
}


def register_imagenet(fn: Builder) -> Builder:
    """Record an ImageNet VGG with its row of :data:`IMAGENET`."""
    cfg, depth, bn, err, params = IMAGENET[fn.__name__]
    return register(
        depth=depth,
        params=params,
        input_size=(3, 224, 224),
        dataset="imagenet",
        num_classes=1000,
        reported_error=None if err is None else ReportedError(err[2], err[0], err[1]),
        torchvision=None if cfg in ("A-LRN", "C") else fn.__name__,
        notes=f"Configuration {cfg} of Table 1"
        + (" with BatchNorm after every conv (torchvision; not in the paper)." if bn else "."),
        options_from=vgg,
    )(fn)


def imagenet_vgg(name: str, num_classes: int, in_chans: int, **options: Any) -> VGG:
    """The VGG registered as ``name``: its configuration and BN from :data:`IMAGENET`."""
    cfg, _, batch_norm, _, _ = IMAGENET[name]
    return vgg(cfg, batch_norm, num_classes, in_chans, **options)


@register_imagenet
def vgg11(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-11: configuration A."""
    return imagenet_vgg("vgg11", num_classes, in_chans, **options)


@register_imagenet
def vgg11_lrn(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-11 with LRN: configuration A-LRN."""
    return imagenet_vgg("vgg11_lrn", num_classes, in_chans, **options)


@register_imagenet
def vgg13(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-13: configuration B."""
    return imagenet_vgg("vgg13", num_classes, in_chans, **options)


@register_imagenet
def vgg16_c(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-16 with 1x1 convs: configuration C."""
    return imagenet_vgg("vgg16_c", num_classes, in_chans, **options)


@register_imagenet
def vgg16(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-16: configuration D."""
    return imagenet_vgg("vgg16", num_classes, in_chans, **options)


@register_imagenet
def vgg19(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-19: configuration E."""
    return imagenet_vgg("vgg19", num_classes, in_chans, **options)


@register_imagenet
def vgg11_bn(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-11 with BN: configuration A."""
    return imagenet_vgg("vgg11_bn", num_classes, in_chans, **options)


@register_imagenet
def vgg13_bn(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-13 with BN: configuration B."""
    return imagenet_vgg("vgg13_bn", num_classes, in_chans, **options)


@register_imagenet
def vgg16_bn(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-16 with BN: configuration D."""
    return imagenet_vgg("vgg16_bn", num_classes, in_chans, **options)


@register_imagenet
def vgg19_bn(num_classes: int, in_chans: int, **options: Any) -> VGG:
    """VGG-19 with BN: configuration E."""
    return imagenet_vgg("vgg19_bn", num_classes, in_chans, **options)
