"""Pre-activation ResNets: He, Zhang, Ren & Sun, "Identity Mappings in Deep Residual
Networks", ECCV 2016 (timm's ``resnetv2``).

A unit is BN-ReLU first, then its convolutions, then the addition with nothing after it
(Figure 1b / 4e), so the shortcut path is a pure identity from unit to unit; the network
ends in a final BN-ReLU. The CIFAR networks of the paper's appendix (9n+2 layers of
bottleneck units) are registered here; ``create_model("resnet20", preact=True)`` and the
other ResNets' ``preact`` option build the same units into the first paper's layouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from moderncnn.models.registry import Builder, ReportedError, register_model
from moderncnn.models.resnet_base import (
    ResNetBase,
    ZeroPadShortcut,
    cifar_stages,
    conv1x1,
    conv3x3,
)


class PreActBlock(nn.Module):
    """A pre-activation unit (Figure 1b / 4e): BN-ReLU first, shared by the residual branch
    and a projection shortcut, then the branch, then the addition with nothing after it.
    ``pre_activate=False`` for the unit right after the stem, whose BN-ReLU is already "the
    first activation right after conv1" (the paper's appendix)."""

    def __init__(self, inplanes: int, downsample: nn.Module | None, pre_activate: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes) if pre_activate else nn.Identity()
        self.relu = nn.ReLU(inplace=True) if pre_activate else nn.Identity()
        self.downsample = downsample
        # A projection reads the shared pre-activation; option A pads the input itself.
        self.project_pre_activation = downsample is not None and not isinstance(
            downsample, ZeroPadShortcut
        )

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        shortcut = x
        if self.downsample is not None:
            shortcut = self.downsample(pre if self.project_pre_activation else x)
        return self.residual_branch(pre) + shortcut


class PreActBasicBlock(PreActBlock):
    """BN-ReLU-3x3 conv, BN-ReLU-3x3 conv, add."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        pre_activate: bool = True,
    ) -> None:
        super().__init__(inplanes, downsample, pre_activate)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.bn2(self.conv1(x))))

    def zero_init_last(self) -> None:
        """f(x) = 0 at the start: the branch's last conv is zero (timm's choice for units
        that end in a conv)."""
        nn.init.zeros_(self.conv2.weight)


class PreActBottleneck(PreActBlock):
    """BN-ReLU-1x1 conv, BN-ReLU-3x3 conv, BN-ReLU-1x1 conv (x4), add. The stride sits in
    the 3x3 conv or, with ``stride_in_1x1``, in the first 1x1."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        pre_activate: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__(inplanes, downsample, pre_activate)
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, planes, s1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, s3)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.bn2(self.conv1(x))))
        return self.conv3(F.relu(self.bn3(out)))

    def zero_init_last(self) -> None:
        """f(x) = 0 at the start: the branch's last conv is zero."""
        nn.init.zeros_(self.conv3.weight)


PreActUnit = type[PreActBasicBlock] | type[PreActBottleneck]


class PreActResNet(ResNetBase):
    """Stem, stages of pre-activation units, final BN-ReLU, global average pool, FC.

    The stem is the first paper's (conv, BN, ReLU, and the max pool for ImageNet); its
    BN-ReLU pre-activates the first unit. Projection shortcuts are bare 1x1 convs on the
    pre-activated input. Arguments as :class:`~moderncnn.models.resnet.ResNet`'s, with
    ``block`` :class:`PreActBasicBlock` or :class:`PreActBottleneck`.
    """

    def __init__(
        self,
        block: PreActUnit,
        layers: Sequence[int],
        num_classes: int,
        in_chans: int,
        *,
        shortcut: str,
        zero_init_residual: bool,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__(num_classes, in_chans, shortcut, stem)
        self.block, self.stride_in_1x1 = block, stride_in_1x1
        self._make_stem(widths[0])
        self._make_stages(widths, layers, block.expansion)
        self.final_norm = nn.BatchNorm2d(self.inplanes)
        self.final_act = nn.ReLU(inplace=True)
        # The last feature map is the one after the final BN-ReLU (timm's resnetv2 "norm").
        self.feature_info[-1]["module"] = "final_act"
        self._make_head()
        self._init_weights(zero_init_residual)

    def _make_block(
        self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None, first: bool
    ) -> nn.Module:
        if self.block is PreActBottleneck:
            return PreActBottleneck(
                inplanes, planes, stride, downsample, not first, self.stride_in_1x1
            )
        return PreActBasicBlock(inplanes, planes, stride, downsample, not first)

    def _projection(self, inplanes: int, out_planes: int, stride: int) -> nn.Module:
        # He et al. 2016 project the pre-activated input with a bare 1x1 conv.
        return conv1x1(inplanes, out_planes, stride)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_act(self.final_norm(super().forward_features(x)))


def preact_cifar_resnet(
    depth: int, num_classes: int, in_chans: int, *, zero_init_residual: bool = False
) -> PreActResNet:
    """The 9n+2-layer pre-activation bottleneck network of "Identity Mappings" (appendix and
    the authors' resnet-pre-act.lua): a 3x3 conv with 16 filters, three stages of n
    bottleneck units of 16, 32 and 64 planes (64, 128 and 256 outputs), projection shortcuts
    on the pre-activated input where the shape changes (the first unit of every stage), a
    final BN-ReLU, global average pool, FC."""
    return PreActResNet(
        PreActBottleneck, cifar_stages(depth, 9), num_classes, in_chans, widths=(16, 32, 64),
        stem="cifar", shortcut="B", zero_init_residual=zero_init_residual,
    )  # fmt: skip


#: "Identity Mappings" Table 4: depth, CIFAR-10 test error (%, median of 5 runs), parameters.
CIFAR = {"preact_resnet164": (164, 5.46, 1_703_258), "preact_resnet1001": (1001, 4.92, 10_327_706)}


def register_cifar(fn: Builder) -> Builder:
    """Record a pre-activation CIFAR ResNet with its row of :data:`CIFAR`."""
    depth, error, params = CIFAR[fn.__name__]
    return register_model(
        family="resnet", year=2016, min_input_size=1, input_size=(3, 32, 32), dataset="cifar10",
        num_classes=10, depth=depth, params=params,
        paper="He, Zhang, Ren & Sun, Identity Mappings in Deep Residual Networks, ECCV 2016",
        reported_error=ReportedError("CIFAR-10 test, median of 5 runs (Table 4)", top1=error),
        notes=f"Pre-activation bottleneck units, 9n+2 = {depth} layers.",
        options_from=preact_cifar_resnet,
    )(fn)  # fmt: skip


@register_cifar
def preact_resnet164(num_classes: int, in_chans: int, **options: Any) -> PreActResNet:
    """ResNet-164 of pre-activation units: n = 18 bottleneck units a stage."""
    return preact_cifar_resnet(164, num_classes, in_chans, **options)


@register_cifar
def preact_resnet1001(num_classes: int, in_chans: int, **options: Any) -> PreActResNet:
    """ResNet-1001 of pre-activation units: n = 111 bottleneck units a stage."""
    return preact_cifar_resnet(1001, num_classes, in_chans, **options)
