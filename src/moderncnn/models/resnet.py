"""ResNet: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv 2015); pre-activation units from He et al., "Identity Mappings in Deep Residual
Networks", ECCV 2016.

A block computes f(x) and adds x back (Sec. 3.1, Eq. 1): ``relu(f(x) + shortcut(x))``. The
ImageNet networks are torchvision's, module for module: ``resnet50`` puts the stride in the
bottleneck's 3x3 conv ("v1.5", as torchvision and most later work do); ``stride_in_1x1=True``
puts it in the first 1x1 conv as the paper's v1 did. ``shortcut`` picks the paper's options
(Sec. 3.3): "A" zero-pads the identity where the shape changes (no parameters), "B" projects
with a 1x1 conv + BN there (the default, and torchvision's), "C" projects in every block.
The CIFAR networks of Sec. 4.2 (6n+2 layers, widths 16-32-64, option A; with
``bottleneck=True`` 9n+2 layers of the bottleneck blocks of Sec. 4.1), their plain
counterparts (no shortcuts; ``batch_norm=False`` also drops the BN that Sec. 3.4 puts "right
after each convolution") and the pre-activation bottleneck networks of the second paper
(9n+2 layers) are built from the same class.

Initialisation: He et al. 2015's normal init with fan_out for convs (Sec. 3.4 cites it; the
authors' fb.resnet.torch and resnet-1k-layers use fan_out, as torchvision does) and zero conv
biases (only the convs of networks without BN have them, as in fb.resnet.torch), BN weight 1
and bias 0, PyTorch's default for the classifier.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.layers import init_weights
from moderncnn.models.registry import ReportedError, register_model

_PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016"
register = functools.partial(
    register_model, family="resnet", paper=_PAPER, year=2015, min_input_size=1
)
SHORTCUTS = ("A", "B", "C")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


def norm(planes: int, batch_norm: bool) -> nn.Module:
    """BN after a conv (Sec. 3.4), or, without BN, ``nn.Identity`` in its place (no state)."""
    return nn.BatchNorm2d(planes) if batch_norm else nn.Identity()


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


class PreActBlock(nn.Module):
    """A pre-activation unit (He et al. 2016, Figure 1b / 4e): BN-ReLU first, shared by the
    residual branch and a projection shortcut, then the branch, then the addition with nothing
    after it. ``pre_activate=False`` for the unit right after the stem, whose BN-ReLU is
    already "the first activation right after conv1" (that paper's appendix)."""

    def __init__(self, inplanes: int, pre_activate: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes) if pre_activate else nn.Identity()
        self.relu = nn.ReLU(inplace=True) if pre_activate else nn.Identity()
        self.downsample: nn.Module | None = None
        self.residual = True

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        if self.downsample is None:
            shortcut = x
        elif isinstance(self.downsample, ZeroPadShortcut):  # option A pads the input itself
            shortcut = self.downsample(x)
        else:  # a projection sees the shared pre-activation
            shortcut = self.downsample(pre)
        out = self.residual_branch(pre)
        return out + shortcut if self.residual else out


class PreActBasicBlock(PreActBlock):
    """BN-ReLU-3x3 conv, BN-ReLU-3x3 conv, add."""

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
        super().__init__(inplanes, pre_activate)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample, self.residual = downsample, residual

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.bn2(self.conv1(x))))

    def zero_init_last(self) -> None:
        """f(x) = 0 at the start: the branch's last conv is zero (timm's choice for units
        that end in a conv)."""
        nn.init.zeros_(self.conv2.weight)


class PreActBottleneck(PreActBlock):
    """BN-ReLU-1x1 conv, BN-ReLU-3x3 conv, BN-ReLU-1x1 conv (x4), add."""

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
        super().__init__(inplanes, pre_activate)
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, planes, s1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, s3)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.downsample, self.residual = downsample, residual

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.bn2(self.conv1(x))))
        return self.conv3(F.relu(self.bn3(out)))

    def zero_init_last(self) -> None:
        """f(x) = 0 at the start: the branch's last conv is zero."""
        nn.init.zeros_(self.conv3.weight)


Block = type[BasicBlock] | type[Bottleneck]
_PREACT: dict[type[nn.Module], type[PreActBlock]] = {
    BasicBlock: PreActBasicBlock,
    Bottleneck: PreActBottleneck,
}


class ResNet(ConvNet):
    """Stem, residual stages, global average pool, FC (Table 1; Sec. 4.2 for CIFAR).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
        widths: planes per stage: (64, 128, 256, 512) for ImageNet, (16, 32, 64) for CIFAR.
        stem: "imagenet" (7x7/2 conv, 3x3/2 max pool) or "cifar" (3x3/1 conv, Sec. 4.2).
        shortcut: "A", "B" or "C" (Sec. 3.3).
        stride_in_1x1: put a bottleneck's stride in its first 1x1 conv (the paper's v1).
        preact: pre-activation units and a final BN-ReLU (He et al. 2016).
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
        preact: bool,
        zero_init_residual: bool,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        stride_in_1x1: bool = False,
        residual: bool = True,
        batch_norm: bool = True,
    ) -> None:
        super().__init__(num_classes, in_chans)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}, got {shortcut!r}")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        if zero_init_residual and not residual:
            raise ValueError("zero_init_residual needs shortcuts: a plain network would be zero")
        if not batch_norm and (residual or preact or block is not BasicBlock):
            raise ValueError("batch_norm=False builds plain basic-block networks only")
        self.shortcut, self.preact, self.residual = shortcut, preact, residual
        self.block = _PREACT[block] if preact else block
        self.block_kwargs: dict[str, bool] = {}
        if block is Bottleneck:
            self.block_kwargs["stride_in_1x1"] = stride_in_1x1
        elif not batch_norm:
            self.block_kwargs["batch_norm"] = False
        self.inplanes = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_chans, self.inplanes, 7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(in_chans, self.inplanes, bias=not batch_norm)
        self.bn1 = norm(self.inplanes, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if stem == "imagenet" else None
        # Feature stages (timm's): the stem after its ReLU, then each stage's output.
        pooled = self.maxpool is not None
        self.feature_info = [
            dict(num_chs=self.inplanes, reduction=2 if pooled else 1, module="relu")
        ]
        reduction = 4 if pooled else 1
        for i, (planes, n) in enumerate(zip(widths, layers, strict=True)):
            stride = 1 if i == 0 else 2
            self.add_module(f"layer{i + 1}", self._make_layer(planes, n, stride, first=i == 0))
            reduction *= stride
            self.feature_info.append(
                dict(num_chs=self.inplanes, reduction=reduction, module=f"layer{i + 1}")
            )
        self.num_stages = len(widths)
        self.final_norm = nn.BatchNorm2d(self.inplanes) if preact else None
        self.final_act = nn.ReLU(inplace=True) if preact else None
        if preact:  # the last map is the one after the final BN-ReLU (timm's resnetv2 "norm")
            self.feature_info[-1]["module"] = "final_act"
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        self.classifier_widths = {"fc": self.inplanes}
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
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(self.check_input(x))))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for layer in self.stages():
            x = layer(x)
        if self.final_norm is not None:
            x = self.final_act(self.final_norm(x))
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)


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
) -> ResNet:
    """A ResNet of Table 1 (torchvision's by default)."""
    return ResNet(
        block, layers, num_classes, in_chans, shortcut=shortcut, stride_in_1x1=stride_in_1x1,
        preact=preact, zero_init_residual=zero_init_residual,
    )  # fmt: skip


_T3 = "ILSVRC-2012 val, 10-crop (Table 3)"
_V1 = "v1: stride in the first 1x1 conv (stride_in_1x1=True)"
#: Table 1 (block, blocks per stage conv2_x..conv5_x), parameters, and the error the paper
#: reports (Table 2 for ResNet-18, which uses option A there; Table 3 for the others, option
#: B, with the v1 bottleneck for 50-152).
IMAGENET: dict[int, tuple[Block, tuple[int, ...], int, ReportedError]] = {
    18: (BasicBlock, (2, 2, 2, 2), 11_689_512, ReportedError(
        "ILSVRC-2012 val, 10-crop (Table 2)", top1=27.88,
        variant="option A: zero-padding shortcuts (shortcut='A')")),
    34: (BasicBlock, (3, 4, 6, 3), 21_797_672, ReportedError(_T3, 24.52, 7.46)),
    50: (Bottleneck, (3, 4, 6, 3), 25_557_032, ReportedError(_T3, 22.85, 6.71, _V1)),
    101: (Bottleneck, (3, 4, 23, 3), 44_549_160, ReportedError(_T3, 21.75, 6.05, _V1)),
    152: (Bottleneck, (3, 8, 36, 3), 60_192_808, ReportedError(_T3, 21.43, 5.71, _V1)),
}  # fmt: skip
for _depth, (_block, _layers, _params, _error) in IMAGENET.items():
    register(
        name=f"resnet{_depth}",
        depth=_depth,
        input_size=(3, 224, 224),
        dataset="imagenet",
        num_classes=1000,
        params=_params,
        reported_error=_error,
        torchvision=f"resnet{_depth}",
        notes="torchvision's ResNet" + (" (v1.5: stride in the 3x3 conv)" if _depth >= 50 else ""),
    )(functools.partial(imagenet_resnet, _block, _layers))


# ----------------------------------------------------------------------------- CIFAR
def _cifar_stages(depth: int, per_block: int) -> tuple[int, int, int]:
    if (depth - 2) % per_block:
        raise ValueError(f"depth must be {per_block}n+2 for this CIFAR network, got {depth}")
    n = (depth - 2) // per_block
    return (n, n, n)


def cifar_resnet(
    depth: int,
    num_classes: int,
    in_chans: int,
    *,
    shortcut: str = "A",
    preact: bool = False,
    zero_init_residual: bool = False,
    bottleneck: bool = False,
) -> ResNet:
    """The 6n+2-layer CIFAR network of Sec. 4.2: a 3x3 conv, three stages of n basic blocks
    at 16, 32 and 64 filters on 32, 16 and 8 pixel maps, global average pool, FC.

    ``bottleneck=True`` builds the stages from the bottleneck blocks of Sec. 4.1 ("Deeper
    Bottleneck Architectures", Figure 5 right): 1x1-3x3-1x1 convs of 16, 32 and 64 planes with
    64, 128 and 256 outputs, three layers a block, so the same depth is 9n+2 layers (n blocks
    a stage: 2 for ResNet-20, 6 for ResNet-56, 12 for ResNet-110). The first block changes 16
    to 64 channels, so it has a shortcut of the kind ``shortcut`` picks (A pads zeros)."""
    if bottleneck and (depth - 2) % 9:
        valid = ", ".join(f"resnet{d}" for d in CIFAR if (d - 2) % 9 == 0)
        raise ValueError(
            f"bottleneck=True needs depth 9n+2 (three layers a block), got {depth}; "
            f"the CIFAR ResNets of such depths are {valid}"
        )
    block, per_block = (Bottleneck, 9) if bottleneck else (BasicBlock, 6)
    return ResNet(
        block, _cifar_stages(depth, per_block), num_classes, in_chans, widths=(16, 32, 64),
        stem="cifar", shortcut=shortcut, preact=preact, zero_init_residual=zero_init_residual,
    )  # fmt: skip


#: ``init`` of the plain networks: torchvision's ResNet init (above), or He et al. 2015's
#: fan_in mode for every layer (:func:`moderncnn.models.layers.init_weights`).
PLAIN_INITS = ("torchvision", "he")


def plain_cifar(
    depth: int, num_classes: int, in_chans: int, *, batch_norm: bool = True,
    init: str = "torchvision",
) -> ResNet:  # fmt: skip
    """The plain 6n+2-layer network of Sec. 4.2: the same layers as ``cifar_resnet``, no
    shortcuts. ``batch_norm=False`` also leaves out the BN that Sec. 3.4 adopts "right after
    each convolution and before activation" (Ioffe & Szegedy 2015), stem's and blocks'; the
    convs then have biases (zero at init, He init for the weights). ``init="he"`` takes He
    et al.'s fan_in mode, which keeps the forward signal's variance (fan_out keeps the
    gradient's), for the classifier too: what a network without BN needs to start."""
    model = ResNet(
        BasicBlock, _cifar_stages(depth, 6), num_classes, in_chans, widths=(16, 32, 64),
        stem="cifar", shortcut="A", preact=False, zero_init_residual=False, residual=False,
        batch_norm=batch_norm,
    )  # fmt: skip
    init_weights(model, init, PLAIN_INITS)
    return model


def preact_cifar_resnet(
    depth: int, num_classes: int, in_chans: int, *, zero_init_residual: bool = False
) -> ResNet:
    """The 9n+2-layer pre-activation bottleneck network of "Identity Mappings" (appendix and
    the authors' resnet-pre-act.lua): a 3x3 conv with 16 filters, three stages of n
    bottleneck units of 16, 32 and 64 planes (64, 128 and 256 outputs), projection shortcuts
    on the pre-activated input where the shape changes (the first unit of every stage), a
    final BN-ReLU, global average pool, FC."""
    return ResNet(
        Bottleneck, _cifar_stages(depth, 9), num_classes, in_chans, widths=(16, 32, 64),
        stem="cifar", shortcut="B", preact=True, zero_init_residual=zero_init_residual,
    )  # fmt: skip


register_cifar = functools.partial(
    register, input_size=(3, 32, 32), dataset="cifar10", num_classes=10
)
#: Sec. 4.2 / Table 6: depth -> (CIFAR-10 test error %, parameters). The plain networks
#: have the same parameters (option A adds none); their errors are only plotted (Figure 6).
CIFAR = {
    20: (8.75, 269_722),
    32: (7.51, 464_154),
    44: (7.17, 658_586),
    56: (6.97, 853_018),
    110: (6.43, 1_727_962),
    1202: (7.93, 19_421_274),
}
for _depth, (_err, _params) in CIFAR.items():
    register_cifar(
        name=f"resnet{_depth}",
        depth=_depth,
        params=_params,
        reported_error=ReportedError(
            "CIFAR-10 test (Table 6" + ("; best of 5 runs)" if _depth == 110 else ")"), top1=_err
        ),
        notes=f"CIFAR Sec. 4.2, option A, 6n+2 = {_depth} layers.",
    )(functools.partial(cifar_resnet, _depth))
    if _depth != 1202:
        register_cifar(
            name=f"plain{_depth}",
            depth=_depth,
            params=_params,
            notes=f"CIFAR plain network (no shortcuts), Sec. 4.2, {_depth} layers.",
        )(functools.partial(plain_cifar, _depth))

#: "Identity Mappings" Table 4: depth -> (CIFAR-10 test error %, median of 5 runs; params).
PREACT_CIFAR = {164: (5.46, 1_703_258), 1001: (4.92, 10_327_706)}
for _depth, (_err, _params) in PREACT_CIFAR.items():
    register_cifar(
        name=f"preact_resnet{_depth}",
        paper="He, Zhang, Ren & Sun, Identity Mappings in Deep Residual Networks, ECCV 2016",
        year=2016,
        depth=_depth,
        params=_params,
        reported_error=ReportedError("CIFAR-10 test, median of 5 runs (Table 4)", top1=_err),
        notes=f"Pre-activation bottleneck units, 9n+2 = {_depth} layers.",
    )(functools.partial(preact_cifar_resnet, _depth))
