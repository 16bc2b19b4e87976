"""What every ResNet shares (He et al. 2015, 2016): the conv helpers, option A's shortcut, and
:class:`ResNetBase`, the skeleton (stem, stages of residual units, global average pool, FC)
that the post-activation :class:`~moderncnn.models.resnet.ResNet` and the pre-activation
:class:`~moderncnn.models.preact_resnet.PreActResNet` fill with their own units.

Initialisation: He et al. 2015's normal init with fan_out for convs (Sec. 3.4 cites it; the
authors' fb.resnet.torch and resnet-1k-layers use fan_out, as torchvision does) and zero conv
biases (only the convs of networks without BN have them, as in fb.resnet.torch), BN weight 1
and bias 0, PyTorch's default for the classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from moderncnn.models.base import ConvNet

SHORTCUTS = ("A", "B", "C")
STEMS = ("imagenet", "cifar")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


def norm(planes: int, batch_norm: bool) -> nn.Module:
    """BN after a conv (Sec. 3.4), or, without BN, ``nn.Identity`` in its place (no state)."""
    return nn.BatchNorm2d(planes) if batch_norm else nn.Identity()


def cifar_stages(depth: int, per_block: int) -> tuple[int, int, int]:
    """Units per stage of a CIFAR network of ``depth`` layers (Sec. 4.2): three equal stages
    of ``per_block``-layer units, plus the stem conv and the FC."""
    if (depth - 2) % per_block:
        raise ValueError(f"depth must be {per_block}n+2 for this CIFAR network, got {depth}")
    n = (depth - 2) // per_block
    return (n, n, n)


class ZeroPadShortcut(nn.Module):
    """Option A (Sec. 3.3): identity, subsampled by ``stride``, with zero channels appended.

    Adds no parameters, so a ResNet with option A has exactly its plain network's count."""

    def __init__(self, out_planes: int, stride: int) -> None:
        super().__init__()
        self.out_planes = out_planes
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_planes - x.shape[1]))


class ResNetBase(ConvNet):
    """Stem, stages of residual units, global average pool, FC (Table 1; Sec. 4.2 for CIFAR).

    A subclass builds itself with the ``_make_*`` steps in forward order and says how its
    units (:meth:`_make_block`) and projection shortcuts (:meth:`_projection`) are built.

    Args:
        shortcut: "A" zero-pads the identity where the shape changes, "B" projects there,
            "C" projects in every unit (Sec. 3.3).
        stem: "imagenet" (7x7/2 conv, 3x3/2 max pool) or "cifar" (3x3/1 conv, Sec. 4.2).
    """

    def __init__(self, num_classes: int, in_chans: int, shortcut: str, stem: str) -> None:
        super().__init__(num_classes, in_chans)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}, got {shortcut!r}")
        if stem not in STEMS:
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        self.shortcut = shortcut
        self.stem = stem

    def _make_block(
        self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None, first: bool
    ) -> nn.Module:
        """One unit from ``inplanes`` channels; ``first``: the network's first unit."""
        raise NotImplementedError

    def _projection(self, inplanes: int, out_planes: int, stride: int) -> nn.Module:
        """The projection shortcut of options B and C."""
        raise NotImplementedError

    def _make_stem(self, width: int, batch_norm: bool = True) -> None:
        """conv1, bn1, relu (the first feature stage) and, for ImageNet, the max pool."""
        self.inplanes = width
        if self.stem == "imagenet":
            self.conv1 = nn.Conv2d(self.in_chans, width, 7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(self.in_chans, width, bias=not batch_norm)
        self.bn1 = norm(width, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if self.stem == "imagenet" else None
        reduction = 2 if self.maxpool is not None else 1
        self.feature_info = [dict(num_chs=width, reduction=reduction, module="relu")]

    def _make_stages(self, widths: Sequence[int], layers: Sequence[int], expansion: int) -> None:
        """``layer1``, ``layer2``, ...: ``layers[i]`` units of ``widths[i]`` planes each; every
        stage after the first halves the map in its first unit. Each is a feature stage."""
        reduction = 4 if self.maxpool is not None else 1
        for i, (planes, n) in enumerate(zip(widths, layers, strict=True)):
            stride = 1 if i == 0 else 2
            out_planes = planes * expansion
            units = []
            for j in range(n):
                s = stride if j == 0 else 1
                downsample = self._shortcut(out_planes, s)
                units.append(self._make_block(self.inplanes, planes, s, downsample, i == j == 0))
                self.inplanes = out_planes
            self.add_module(f"layer{i + 1}", nn.Sequential(*units))
            reduction *= stride
            self.feature_info.append(
                dict(num_chs=out_planes, reduction=reduction, module=f"layer{i + 1}")
            )
        self.num_stages = len(widths)

    def _shortcut(self, out_planes: int, stride: int) -> nn.Module | None:
        """The shortcut of a unit from ``self.inplanes`` to ``out_planes`` channels at
        ``stride``, as the option says (Sec. 3.3); None for the identity."""
        changes = stride != 1 or self.inplanes != out_planes
        if self.shortcut == "C" or (changes and self.shortcut == "B"):
            return self._projection(self.inplanes, out_planes, stride)
        return ZeroPadShortcut(out_planes, stride) if changes else None

    def _make_head(self) -> None:
        """Global average pool and the FC classifier over the last stage's channels."""
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, self.num_classes)
        self.classifier_widths = {"fc": self.inplanes}

    def _init_weights(self, zero_init_residual: bool) -> None:
        """He init (fan_out) for convs, BN at weight 1 and bias 0; ``zero_init_residual``
        starts every unit's residual branch at zero, so each unit begins as its shortcut
        (Goyal et al. 2017)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for layer in self.stages():
                for block in layer:
                    block.zero_init_last()

    def stages(self) -> list[nn.Sequential]:
        """The residual stages in forward order: ``layer1``, ``layer2``, ..."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(self.check_input(x))))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for layer in self.stages():
            x = layer(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)
