"""VGG: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015 (arXiv 2014).

Depth from stacks of 3x3 convolutions (Sec. 2.3: two 3x3 layers see 5x5, three see 7x7, with
fewer weights and more non-linearities). ``CONFIGS`` is Table 1 column by column; the ImageNet
networks use torchvision's module names (``features``, ``avgpool``, ``classifier``) and
initialisation, so torchvision's ``vgg11``..``vgg19_bn`` state_dicts load unchanged.
:meth:`VGG.to_fully_convolutional` gives the paper's dense evaluation (Sec. 3.2).
"""

from __future__ import annotations

import torch
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.layers import paper_lrn
from moderncnn.models.registry import register_model

_PAPER = "Simonyan & Zisserman, Very Deep Convolutional Networks, ICLR 2015"

#: Table 1. An int is a 3x3 conv with that many channels, "conv1-N" a 1x1 conv (config C),
#: "M" a 2x2/2 max pool, "LRN" local response normalisation (A-LRN).
CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        "conv1-256",
        "M",
        512,
        512,
        "conv1-512",
        "M",
        512,
        512,
        "conv1-512",
        "M",
    ],  # fmt: skip
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],  # fmt: skip
}


def make_layers(cfg: list[int | str], in_chans: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """Build ``features`` from a Table 1 column (torchvision's indices: conv, [BN], ReLU)."""
    layers: list[nn.Module] = []
    channels = in_chans
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":  # Sec. 2.3: the AlexNet LRN layer (Krizhevsky et al. 2012)
            layers.append(paper_lrn())
        else:
            k, out = (1, int(v.split("-")[1])) if isinstance(v, str) else (3, v)
            layers.append(nn.Conv2d(channels, out, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
    return nn.Sequential(*layers)


class VGG(ConvNet):
    """Convolutional ``features``, a 7x7 adaptive pool and three FC layers (Sec. 2.1)."""

    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int,
        in_chans: int,
        dropout: float = 0.5,
        init_weights: bool = True,
    ) -> None:
        super().__init__(num_classes, in_chans)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            _init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(x), 1))

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

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def score_map(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.head(self.features(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x).mean(dim=(2, 3))


class VGGCifar(ConvNet):
    """VGG for 32x32 images: Table 1's convolutions with BN, then one linear layer."""

    def __init__(self, features: nn.Sequential, num_classes: int, in_chans: int) -> None:
        super().__init__(num_classes, in_chans)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # identity at 32x32: five pools leave 1x1
        self.classifier = nn.Linear(512, num_classes)
        _init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(x), 1))


def _init_weights(model: nn.Module) -> None:
    """torchvision's initialisation (the paper's Sec. 3.1 random init, He et al. for convs)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


def _vgg(cfg: str, batch_norm: bool, num_classes: int, in_chans: int, dropout: float) -> VGG:
    return VGG(make_layers(CONFIGS[cfg], in_chans, batch_norm), num_classes, in_chans, dropout)


def _register(
    cfg: str,
    depth: int,
    error: tuple[float, float] | None,
    tv: str | None,
    table: str = "Table 3, single scale",
    notes: str = "",
):
    reported = None if error is None else {"top1": error[0], "top5": error[1], "protocol": table}
    return register_model(
        family="vgg",
        paper=_PAPER,
        year=2014,
        depth=depth,
        input_size=(3, 224, 224),
        dataset="imagenet",
        num_classes=1000,
        reported_error=reported,
        torchvision=tv,
        notes=notes or f"Configuration {cfg} of Table 1.",
        options={"dropout": 0.5},
    )


_BN = "Configuration {} with BatchNorm after every conv (torchvision; not in the paper)."


@_register("A", 11, (29.6, 10.4), "vgg11")
def vgg11(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("A", False, num_classes, in_chans, dropout)


@_register("A-LRN", 11, (29.7, 10.5), None, notes="Configuration A-LRN: LRN after conv1.")
def vgg11_lrn(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("A-LRN", False, num_classes, in_chans, dropout)


@_register("B", 13, (28.7, 9.9), "vgg13")
def vgg13(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("B", False, num_classes, in_chans, dropout)


@_register("C", 16, (27.3, 8.8), None, notes="Configuration C: 1x1 convs in stages 3-5.")
def vgg16_c(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("C", False, num_classes, in_chans, dropout)


@_register("D", 16, (24.4, 7.2), "vgg16", table="Table 5, multi-crop & dense")
def vgg16(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("D", False, num_classes, in_chans, dropout)


@_register("E", 19, (24.4, 7.1), "vgg19", table="Table 5, multi-crop & dense")
def vgg19(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("E", False, num_classes, in_chans, dropout)


@_register("A", 11, None, "vgg11_bn", notes=_BN.format("A"))
def vgg11_bn(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("A", True, num_classes, in_chans, dropout)


@_register("B", 13, None, "vgg13_bn", notes=_BN.format("B"))
def vgg13_bn(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("B", True, num_classes, in_chans, dropout)


@_register("D", 16, None, "vgg16_bn", notes=_BN.format("D"))
def vgg16_bn(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("D", True, num_classes, in_chans, dropout)


@_register("E", 19, None, "vgg19_bn", notes=_BN.format("E"))
def vgg19_bn(num_classes: int, in_chans: int, dropout: float = 0.5) -> VGG:
    return _vgg("E", True, num_classes, in_chans, dropout)


def _register_cifar(cfg: str, depth: int):
    return register_model(
        family="vgg",
        paper=_PAPER,
        year=2014,
        depth=depth,
        input_size=(3, 32, 32),
        dataset="cifar10",
        num_classes=10,
        notes=f"Configuration {cfg} for 32x32: BN after every conv, one linear head.",
    )


_CIFAR_DOC = """VGG configuration {} for 32x32 images.

    Kept: Table 1's 3x3 convolution stacks and five 2x2 max pools. Changed: BatchNorm after
    every conv (the paper trained deep configurations by initialising from shallower ones,
    Sec. 3.1; BN makes them trainable from scratch), and the three 4096-wide FC layers become
    one linear layer, since five pools leave a 1x1x512 map at 32x32 and the FC stack would
    hold most of the parameters for ten classes."""


@_register_cifar("A", 9)
def vgg11_cifar(num_classes: int, in_chans: int) -> VGGCifar:
    return VGGCifar(make_layers(CONFIGS["A"], in_chans, True), num_classes, in_chans)


@_register_cifar("D", 14)
def vgg16_cifar(num_classes: int, in_chans: int) -> VGGCifar:
    return VGGCifar(make_layers(CONFIGS["D"], in_chans, True), num_classes, in_chans)


@_register_cifar("E", 17)
def vgg19_cifar(num_classes: int, in_chans: int) -> VGGCifar:
    return VGGCifar(make_layers(CONFIGS["E"], in_chans, True), num_classes, in_chans)


vgg11_cifar.__doc__ = _CIFAR_DOC.format("A")
vgg16_cifar.__doc__ = _CIFAR_DOC.format("D")
vgg19_cifar.__doc__ = _CIFAR_DOC.format("E")
