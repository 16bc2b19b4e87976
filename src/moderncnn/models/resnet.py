"""ResNet: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv 2015).

A block computes f(x) and adds x back (Sec. 3.1, Eq. 1): ``relu(f(x) + shortcut(x))``. The
ImageNet networks are torchvision's, module for module: ``resnet50`` puts the stride in the
bottleneck's 3x3 conv ("v1.5", as torchvision and most later work do); ``stride_in_1x1=True``
puts it in the first 1x1 conv as the paper's v1 did. ``shortcut`` picks the paper's options
(Sec. 3.3): "A" zero-pads the identity where the shape changes (no parameters), "B" projects
with a 1x1 conv + BN there (the default, and torchvision's), "C" projects in every block.
The CIFAR networks of Sec. 4.2 (6n+2 layers, widths 16-32-64, option A; with
``bottleneck=True`` 9n+2 layers of the bottleneck blocks of Sec. 4.1) and their plain
counterparts (no shortcuts; ``batch_norm=False`` also drops the BN that Sec. 3.4 puts "right
after each convolution") are built from :class:`ResNet`. Every builder's ``preact=True``
builds the same layout of pre-activation units instead
(:class:`~moderncnn.models.preact_resnet.PreActResNet`, He et al. 2016), the stem, stages and
head being shared (:mod:`moderncnn.models.resnet_base`, which also says how they are
initialised).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from moderncnn.models.preact_resnet import PreActBasicBlock, PreActBottleneck, PreActResNet
from moderncnn.models.registry import Builder, ReportedError, register_model
from moderncnn.models.resnet_base import (
    ResNetBase,
    conv1x1,
    conv3x3,
    norm,
)
from moderncnn.models.resnet_base import (
    ZeroPadShortcut as ZeroPadShortcut,  # option A's shortcut, importable from here too
)

_PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016"
register = functools.partial(
    register_model, family="resnet", paper=_PAPER, year=2015, min_input_size=1
)


class BasicBlock(nn.Module):
    """Two 3x3 convs (Figure 5 left); ``residual=False`` gives the plain network's block,
    ``batch_norm=False`` one without BN, whose convs then have biases."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        residual: bool = True,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, bias=not batch_norm)
        self.bn1 = norm(planes, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, bias=not batch_norm)
        self.bn2 = norm(planes, batch_norm)
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:  # in place, as torchvision: no new tensor for the sum
            out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)

    def zero_init_last(self) -> None:
        """f(x) = 0 at the start: the block begins as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.bn2.weight)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) (Figure 5 right). The stride sits in the 3x3 conv
    (torchvision, "v1.5") or, with ``stride_in_1x1``, in the first 1x1 (the paper)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        residual: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, planes, s1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, s3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:  # in place, as torchvision: no new tensor for the sum
            out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)

    def zero_init_last(self) -> None:
        """f(x) = 0 at the start: the block begins as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.bn3.weight)


Block = type[BasicBlock] | type[Bottleneck]


class ResNet(ResNetBase):
    """Stem, residual stages, global average pool, FC (Table 1; Sec. 4.2 for CIFAR).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
        widths: planes per stage: (64, 128, 256, 512) for ImageNet, (16, 32, 64) for CIFAR.
        stem: "imagenet" (7x7/2 conv, 3x3/2 max pool) or "cifar" (3x3/1 conv, Sec. 4.2).
        shortcut: "A", "B" or "C" (Sec. 3.3).
        stride_in_1x1: put a bottleneck's stride in its first 1x1 conv (the paper's v1).
        residual: ``False`` builds the plain network (Sec. 4.1): the same layers, no shortcuts.
        batch_norm: ``False`` (plain basic-block networks only) leaves out every BN, stem's
            and blocks', and gives the convs biases; the BN modules become ``nn.Identity``.
        zero_init_residual: start every residual branch at zero, so each block begins as its
            shortcut (Goyal et al. 2017).
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_classes: int,
        in_chans: int,
        *,
        shortcut: str,
        zero_init_residual: bool,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        stride_in_1x1: bool = False,
        residual: bool = True,
        batch_norm: bool = True,
    ) -> None:
        super().__init__(num_classes, in_chans, shortcut, stem)
        if zero_init_residual and not residual:
            raise ValueError("zero_init_residual needs shortcuts: a plain network would be zero")
        if not batch_norm and (residual or block is not BasicBlock):
            raise ValueError("batch_norm=False builds plain basic-block networks only")
        self.block, self.residual = block, residual
        self.stride_in_1x1, self.batch_norm = stride_in_1x1, batch_norm
        self._make_stem(widths[0], batch_norm)
        self._make_stages(widths, layers, block.expansion)
        self._make_head()
        self._init_weights(zero_init_residual)

    def _make_block(
        self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None, first: bool
    ) -> nn.Module:
        if self.block is Bottleneck:
            return Bottleneck(
                inplanes, planes, stride, downsample, self.residual, self.stride_in_1x1
            )
        return BasicBlock(inplanes, planes, stride, downsample, self.residual, self.batch_norm)

    def _shortcut(self, out_planes: int, stride: int) -> nn.Module | None:
        return super()._shortcut(out_planes, stride) if self.residual else None

    def _projection(self, inplanes: int, out_planes: int, stride: int) -> nn.Module:
        return nn.Sequential(conv1x1(inplanes, out_planes, stride), nn.BatchNorm2d(out_planes))


def resnet_or_preact(
    block: Block, layers: Sequence[int], num_classes: int, in_chans: int, preact: bool,
    **kwargs: Any,
) -> ResNetBase:  # fmt: skip
    """A :class:`ResNet`, or with ``preact`` the :class:`PreActResNet` of the same layout
    (its units in the place of ``block``): what every builder's ``preact`` option means."""
    if preact:
        unit = PreActBottleneck if block is Bottleneck else PreActBasicBlock
        return PreActResNet(unit, layers, num_classes, in_chans, **kwargs)
    return ResNet(block, layers, num_classes, in_chans, **kwargs)


# ----------------------------------------------------------------------------- ImageNet
def imagenet_resnet(
    block: Block,
    layers: Sequence[int],
    num_classes: int,
    in_chans: int,
    *,
    shortcut: str = "B",
    stride_in_1x1: bool = False,
    preact: bool = False,
    zero_init_residual: bool = False,
) -> ResNetBase:
    """A ResNet of Table 1 (torchvision's by default)."""
    return resnet_or_preact(
        block, layers, num_classes, in_chans, preact, shortcut=shortcut,
        stride_in_1x1=stride_in_1x1, zero_init_residual=zero_init_residual,
    )  # fmt: skip


_T3 = "ILSVRC-2012 val, 10-crop (Table 3)"
_V1 = "v1: stride in the first 1x1 conv (stride_in_1x1=True)"
#: Table 1's networks: depth, parameters, and the error the paper reports (Table 2 for
#: ResNet-18, which uses option A there; Table 3 for the others, option B, with the v1
#: bottleneck for 50-152). Their blocks per stage (conv2_x..conv5_x) are in their builders.
IMAGENET: dict[str, tuple[int, int, ReportedError]] = {
    "resnet18": (18, 11_689_512, ReportedError(
        "ILSVRC-2012 val, 10-crop (Table 2)", top1=27.88,
        variant="option A: zero-padding shortcuts (shortcut='A')")),
    "resnet34": (34, 21_797_672, ReportedError(_T3, 24.52, 7.46)),
    "resnet50": (50, 25_557_032, ReportedError(_T3, 22.85, 6.71, _V1)),
    "resnet101": (101, 44_549_160, ReportedError(_T3, 21.75, 6.05, _V1)),
    "resnet152": (152, 60_192_808, ReportedError(_T3, 21.43, 5.71, _V1)),
}  # fmt: skip


def register_imagenet(fn: Builder) -> Builder:
    """Record an ImageNet ResNet with its row of :data:`IMAGENET` (torchvision's network)."""
    depth, params, error = IMAGENET[fn.__name__]
    v15 = " (v1.5: stride in the 3x3 conv)" if depth >= 50 else ""
    return register(
        depth=depth, input_size=(3, 224, 224), dataset="imagenet", num_classes=1000,
        params=params, reported_error=error, torchvision=fn.__name__,
        notes="torchvision's ResNet" + v15, options_from=imagenet_resnet,
    )(fn)  # fmt: skip


@register_imagenet
def resnet18(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-18: basic blocks, 2-2-2-2 a stage."""
    return imagenet_resnet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, **options)


@register_imagenet
def resnet34(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-34: basic blocks, 3-4-6-3 a stage."""
    return imagenet_resnet(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, **options)


@register_imagenet
def resnet50(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-50: bottleneck blocks, 3-4-6-3 a stage."""
    return imagenet_resnet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, **options)


@register_imagenet
def resnet101(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-101: bottleneck blocks, 3-4-23-3 a stage."""
    return imagenet_resnet(Bottleneck, (3, 4, 23, 3), num_classes, in_chans, **options)


@register_imagenet
def resnet152(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-152: bottleneck blocks, 3-8-36-3 a stage."""
    return imagenet_resnet(Bottleneck, (3, 8, 36, 3), num_classes, in_chans, **options)
