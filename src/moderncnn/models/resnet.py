"""ResNet: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv 2015); pre-activation blocks from He et al., "Identity Mappings in Deep Residual
Networks", ECCV 2016.

A block computes f(x) and adds x back (Sec. 3.1, Eq. 1): ``relu(f(x) + shortcut(x))``. The
ImageNet networks are torchvision's, module for module: ``resnet50`` puts the stride in the
bottleneck's 3x3 conv ("v1.5", as torchvision and most later work do); ``stride_in_1x1=True``
puts it in the first 1x1 conv as the paper's v1 did. ``shortcut`` picks the paper's options
(Sec. 3.3): "A" zero-pads the identity where the shape changes (no parameters), "B" projects
with a 1x1 conv + BN there (the default, and torchvision's), "C" projects in every block.
The CIFAR networks of Sec. 4.2 (6n+2 layers, widths 16-32-64, option A) and their plain
counterparts (no shortcuts) are built from the same class.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.registry import register_model

_PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016"
SHORTCUTS = ("A", "B", "C")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


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


class BasicBlock(nn.Module):
    """Two 3x3 convs (Figure 5 left); ``residual=False`` gives the plain network's block."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


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
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv twice, then add (He et al. 2016, Figure 1b / 4e). A projection shortcut
    takes the pre-activated input. ``pre_activate=False`` for a block that follows the stem's
    own BN-ReLU."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        residual: bool = True,
        pre_activate: bool = True,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes) if pre_activate else nn.Identity()
        self.relu = nn.ReLU(inplace=True) if pre_activate else nn.Identity()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.residual = residual

    def residual_branch(self, out: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.bn2(self.conv1(out))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(x))
        shortcut = _preact_shortcut(x, out, self.downsample)
        out = self.residual_branch(out)
        return out + shortcut if self.residual else out


class PreActBottleneck(PreActBasicBlock):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1 (x4), then add."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        residual: bool = True,
        pre_activate: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        nn.Module.__init__(self)
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.bn1 = nn.BatchNorm2d(inplanes) if pre_activate else nn.Identity()
        self.relu = nn.ReLU(inplace=True) if pre_activate else nn.Identity()
        self.conv1 = conv1x1(inplanes, planes, s1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, s3)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.downsample = downsample
        self.residual = residual

    def residual_branch(self, out: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return self.conv3(F.relu(self.bn3(out)))


def _preact_shortcut(x: torch.Tensor, pre: torch.Tensor, downsample: nn.Module | None):
    if downsample is None:
        return x
    if isinstance(downsample, ZeroPadShortcut):  # option A pads the block's input itself
        return downsample(x)
    return downsample(pre)  # a projection sees the shared pre-activation


class ResNet(ConvNet):
    """Stem, residual stages, global average pool, FC (Table 1; Sec. 4.2 for CIFAR).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
        widths: planes per stage: (64, 128, 256, 512) for ImageNet, (16, 32, 64) for CIFAR.
        stem: "imagenet" (7x7/2 conv, 3x3/2 max pool) or "cifar" (3x3/1 conv, Sec. 4.2).
        shortcut: "A", "B" or "C" (Sec. 3.3).
        stride_in_1x1: put a bottleneck's stride in its first 1x1 conv (the paper's v1).
        preact: pre-activation blocks and a final BN-ReLU (He et al. 2016).
        residual: ``False`` builds the plain network (Sec. 4.1): the same layers, no shortcuts.
        zero_init_residual: start each block's last BN at zero (Goyal et al. 2017).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        num_classes: int = 1000,
        in_chans: int = 3,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        shortcut: str = "B",
        stride_in_1x1: bool = False,
        preact: bool = False,
        residual: bool = True,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__(num_classes, in_chans)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}, got {shortcut!r}")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        self.shortcut, self.preact, self.residual = shortcut, preact, residual
        self.block = (
            {BasicBlock: PreActBasicBlock, Bottleneck: PreActBottleneck}[block] if preact else block
        )
        self.block_kwargs = {"stride_in_1x1": stride_in_1x1} if block is Bottleneck else {}
        self.inplanes = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_chans, self.inplanes, 7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(in_chans, self.inplanes)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if stem == "imagenet" else None
        for i, (planes, n) in enumerate(zip(widths, layers, strict=True)):
            layer = self._make_layer(planes, n, stride=1 if i == 0 else 2, first=i == 0)
            self.add_module(f"layer{i + 1}", layer)
        self.num_stages = len(widths)
        self.final_norm = nn.BatchNorm2d(self.inplanes) if preact else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, planes: int, blocks: int, stride: int, first: bool) -> nn.Sequential:
        out_planes = planes * self.block.expansion
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            changes = s != 1 or self.inplanes != out_planes
            downsample: nn.Module | None = None
            if self.residual and (self.shortcut == "C" or (changes and self.shortcut == "B")):
                proj = conv1x1(self.inplanes, out_planes, s)
                # He et al. 2016 project the pre-activated input with a bare 1x1 conv.
                downsample = (
                    proj if self.preact else nn.Sequential(proj, nn.BatchNorm2d(out_planes))
                )
            elif self.residual and changes:
                downsample = ZeroPadShortcut(out_planes, s)
            kwargs = dict(self.block_kwargs)
            if self.preact:  # the stem's BN-ReLU already pre-activates the very first block
                kwargs["pre_activate"] = not (first and i == 0)
            layers.append(self.block(self.inplanes, planes, s, downsample, self.residual, **kwargs))
            self.inplanes = out_planes
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """He et al. 2015 (Sec. 3.4) for convs, BN weight 1 and bias 0: torchvision's init."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                last = (
                    getattr(m, "bn3", None)
                    if isinstance(m, Bottleneck)
                    else getattr(m, "bn2", None)
                    if isinstance(m, BasicBlock)
                    else None
                )
                if last is not None:
                    nn.init.constant_(last.weight, 0)

    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for layer in self.stages():
            x = layer(x)
        if self.final_norm is not None:
            x = self.relu(self.final_norm(x))
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ----------------------------------------------------------------------------- ImageNet
_OPTIONS = {"shortcut": "B", "stride_in_1x1": False, "preact": False, "zero_init_residual": False}


def _imagenet(depth: int, top1: float, top5: float | None, protocol: str):
    error: dict[str, float | str] = {"top1": top1, "protocol": protocol}
    if top5 is not None:
        error["top5"] = top5
    return register_model(
        family="resnet",
        paper=_PAPER,
        year=2015,
        depth=depth,
        input_size=(3, 224, 224),
        dataset="imagenet",
        num_classes=1000,
        reported_error=error,
        torchvision=f"resnet{depth}",
        notes="torchvision's ResNet (v1.5: stride in the 3x3 conv)"
        if depth >= 50
        else "torchvision's ResNet",
        options=_OPTIONS,
    )


_T3 = "ILSVRC-2012 val, 10-crop (Table 3)"


@_imagenet(18, 27.88, None, "ILSVRC-2012 val, 10-crop (Table 2)")
def resnet18(num_classes: int, in_chans: int, **options) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, **options)


@_imagenet(34, 24.52, 7.46, _T3)
def resnet34(num_classes: int, in_chans: int, **options) -> ResNet:
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, **options)


@_imagenet(50, 22.85, 6.71, _T3)
def resnet50(num_classes: int, in_chans: int, **options) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, **options)


@_imagenet(101, 21.75, 6.05, _T3)
def resnet101(num_classes: int, in_chans: int, **options) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 23, 3), num_classes, in_chans, **options)


@_imagenet(152, 21.43, 5.71, _T3)
def resnet152(num_classes: int, in_chans: int, **options) -> ResNet:
    return ResNet(Bottleneck, (3, 8, 36, 3), num_classes, in_chans, **options)


# ----------------------------------------------------------------------------- CIFAR
#: Table 6, CIFAR-10 test error (%) with the paper's augmentation; plain nets: Figure 6 only.
_CIFAR_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}


def cifar_resnet(
    depth: int,
    num_classes: int = 10,
    in_chans: int = 3,
    residual: bool = True,
    shortcut: str = "A",
    preact: bool = False,
) -> ResNet:
    """The 6n+2-layer CIFAR network of Sec. 4.2: a 3x3 conv, three stages of n basic blocks
    at 16, 32 and 64 filters on 32, 16 and 8 pixel maps, global average pool, FC."""
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(
        BasicBlock,
        (n, n, n),
        num_classes,
        in_chans,
        widths=(16, 32, 64),
        stem="cifar",
        shortcut=shortcut,
        preact=preact,
        residual=residual,
    )


def _register_cifar(depth: int, plain: bool):
    error = None if plain else {"top1": _CIFAR_ERROR[depth], "protocol": "CIFAR-10 test (Table 6)"}
    kind = "plain network (no shortcuts), Sec. 4.2" if plain else "Sec. 4.2, option A"
    return register_model(
        family="resnet",
        paper=_PAPER,
        year=2015,
        depth=depth,
        input_size=(3, 32, 32),
        dataset="cifar10",
        num_classes=10,
        reported_error=error,
        notes=f"CIFAR {kind}, 6n+2 = {depth} layers.",
        options={} if plain else {"shortcut": "A", "preact": False},
    )


@_register_cifar(20, plain=False)
def resnet20(num_classes: int, in_chans: int, **options) -> ResNet:
    return cifar_resnet(20, num_classes, in_chans, **options)


@_register_cifar(32, plain=False)
def resnet32(num_classes: int, in_chans: int, **options) -> ResNet:
    return cifar_resnet(32, num_classes, in_chans, **options)


@_register_cifar(44, plain=False)
def resnet44(num_classes: int, in_chans: int, **options) -> ResNet:
    return cifar_resnet(44, num_classes, in_chans, **options)


@_register_cifar(56, plain=False)
def resnet56(num_classes: int, in_chans: int, **options) -> ResNet:
    return cifar_resnet(56, num_classes, in_chans, **options)


@_register_cifar(110, plain=False)
def resnet110(num_classes: int, in_chans: int, **options) -> ResNet:
    return cifar_resnet(110, num_classes, in_chans, **options)


@_register_cifar(1202, plain=False)
def resnet1202(num_classes: int, in_chans: int, **options) -> ResNet:
    return cifar_resnet(1202, num_classes, in_chans, **options)


@_register_cifar(20, plain=True)
def plain20(num_classes: int, in_chans: int) -> ResNet:
    return cifar_resnet(20, num_classes, in_chans, residual=False)


@_register_cifar(32, plain=True)
def plain32(num_classes: int, in_chans: int) -> ResNet:
    return cifar_resnet(32, num_classes, in_chans, residual=False)


@_register_cifar(44, plain=True)
def plain44(num_classes: int, in_chans: int) -> ResNet:
    return cifar_resnet(44, num_classes, in_chans, residual=False)


@_register_cifar(56, plain=True)
def plain56(num_classes: int, in_chans: int) -> ResNet:
    return cifar_resnet(56, num_classes, in_chans, residual=False)


@_register_cifar(110, plain=True)
def plain110(num_classes: int, in_chans: int) -> ResNet:
    return cifar_resnet(110, num_classes, in_chans, residual=False)
