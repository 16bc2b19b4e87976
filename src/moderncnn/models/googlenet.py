"""GoogLeNet (Inception v1): Szegedy et al., "Going Deeper with Convolutions", CVPR 2015
(arXiv 2014).

Inception blocks run 1x1, 3x3, 5x5 convolutions and a 3x3 max pool side by side and
concatenate them; 1x1 convolutions first reduce the channels the 3x3 and 5x5 see (Sec. 4), so
the 22-layer network has about 7 million parameters, fewer than AlexNet's 61 million.

Three variants, each a :class:`Variant` (one switch, every difference written out):

* ``googlenet_paper``: Table 1 / Figure 3 as published: convolutions with bias and ReLU, no
  BN, true 5x5 branches, LRN after the first max pool and after the stem's 3x3 conv, 3x3/2
  max pooling (ceil mode, as in the paper's DistBelief/Caffe models), 7x7 average pool,
  dropout 0.4, and two auxiliary classifiers on 4a and 4d (Sec. 5) whose outputs are
  returned in training mode (for a 0.3-weighted loss) and skipped at inference. The paper
  names no initialisation; this one is BVLC's Caffe reproduction (bvlc_googlenet).
* ``googlenet``: torchvision's network, whose state_dict loads unchanged. It differs from
  the paper: BN after every conv (from Inception v2), a **3x3** conv where the paper's 5x5
  branch is (a known bug kept for its released weights), no LRN, a 2x2 max pool before 5a,
  adaptive pooling in the aux heads, dropout 0.2 and torchvision's initialisation.
* ``googlenet_cifar``: the paper's inception stack for 32x32 images (see its builder).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.inception import BasicConv2d, Inception, InceptionAux
from moderncnn.models.layers import LocalResponseNorm, scaled
from moderncnn.models.registry import ReportedError, register_model

register = functools.partial(
    register_model,
    family="googlenet",
    paper="Szegedy et al., Going Deeper with Convolutions, CVPR 2015",
    year=2014,
)

#: Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) for each inception block.
INCEPTION_TABLE: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


@dataclass(frozen=True)
class Variant:
    """Everything in which the three GoogLeNets differ."""

    batch_norm: bool  #: BN after every conv (torchvision) or conv bias and no BN (the paper)
    kernel_5x5: int  #: kernel of the "5x5" branch: 5 (the paper) or 3 (torchvision)
    lrn: bool  #: LRN after the first max pool and after the stem's 3x3 conv (Figure 3)
    pool4_kernel: int  #: max pool before 5a: 3x3/2 (Table 1) or 2x2/2 (torchvision)
    aux_pool: bool  #: the paper's 5x5/3 average pool in the aux heads (else adaptive to 4x4)
    init: str  #: "bvlc" (Caffe's bvlc_googlenet) or "torchvision"
    stem: str  #: "imagenet" (224 -> 28 pixels) or "cifar" (one 3x3 conv, 32 stays 32)


VARIANTS = {
    "paper": Variant(False, 5, True, 3, True, "bvlc", "imagenet"),
    "torchvision": Variant(True, 3, False, 2, False, "torchvision", "imagenet"),
    "cifar": Variant(True, 5, False, 3, False, "torchvision", "cifar"),
}


class GoogLeNetOutputs(NamedTuple):
    """Training-mode output with auxiliary heads (torchvision's order)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class GoogLeNet(ConvNet):
    """Stem, inception 3a-5b with max pools between stages, average pool, dropout, FC.

    Module names are torchvision's (``conv1``, ``maxpool1``, ``conv2``, ``conv3``,
    ``maxpool2``, ``inception3a``..., ``aux1``, ``fc``); the paper's LRNs are ``norm1`` and
    ``norm2``.

    Args:
        variant: "paper", "torchvision" or "cifar" (:data:`VARIANTS`), or a :class:`Variant`
            of one's own (``dataclasses.replace(VARIANTS["paper"], pool4_kernel=2)``).
        aux_logits: build the two auxiliary heads; their outputs are returned in training mode
            only, as :class:`GoogLeNetOutputs`.
        drop_rate: dropout before the classifier (0.4 in the paper, 0.2 in torchvision).
        transform_input: convert ImageNet-normalised input to the (x - 0.5) / 0.5 scaling
            torchvision's released weights expect.
        width: multiplies the stem's and every inception column's channels (rounded, at
            least 1); the aux heads and the classifier read the widths they are given.
        reductions: the inception blocks' 1x1 reductions (:class:`Inception`).
    """

    aux_parts = ("aux1", "aux2")

    def __init__(
        self,
        variant: str | Variant,
        num_classes: int,
        in_chans: int,
        aux_logits: bool,
        drop_rate: float,
        transform_input: bool = False,
        width: float = 1.0,
        reductions: bool = True,
    ) -> None:
        super().__init__(num_classes, in_chans)
        if isinstance(variant, str) and variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if transform_input and in_chans != 3:
            raise ValueError("transform_input needs in_chans=3 (it rescales RGB channels)")
        v = VARIANTS[variant] if isinstance(variant, str) else variant
        self.transform_input = transform_input
        conv_block = functools.partial(BasicConv2d, batch_norm=v.batch_norm)
        c64, c192 = scaled(64, width), scaled(192, width)

        # Stem (Table 1's first rows). The CIFAR variant keeps only a 3x3 conv with 192 maps.
        cifar = v.stem == "cifar"
        self.conv1 = (
            conv_block(in_chans, c192, kernel_size=3, padding=1)
            if cifar
            else conv_block(in_chans, c64, kernel_size=7, stride=2, padding=3)
        )
        self.maxpool1 = None if cifar else nn.MaxPool2d(3, stride=2, ceil_mode=True)
        # bvlc_googlenet's LRNs: size 5, alpha 1e-4 (Caffe divides it by the size, as PyTorch
        # does), beta 0.75, k 1.
        self.norm1 = LocalResponseNorm(5, alpha=1e-4, beta=0.75) if v.lrn else None
        self.conv2 = None if cifar else conv_block(c64, c64, kernel_size=1)
        self.conv3 = None if cifar else conv_block(c64, c192, kernel_size=3, padding=1)
        self.norm2 = LocalResponseNorm(5, alpha=1e-4, beta=0.75) if v.lrn else None
        self.maxpool2 = None if cifar else nn.MaxPool2d(3, stride=2, ceil_mode=True)

        channels = c192  # each block takes the previous one's output (192, 256, 480, ...)

        def block(name: str) -> Inception:
            nonlocal channels
            columns = (scaled(c, width) for c in INCEPTION_TABLE[name])
            inception = Inception(
                channels, *columns, conv_block, v.kernel_5x5, reductions=reductions
            )
            channels = inception.out_channels
            return inception

        self.inception3a = block("3a")
        self.inception3b = block("3b")
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = block("4a")
        self.inception4b = block("4b")
        self.inception4c = block("4c")
        self.inception4d = block("4d")
        self.inception4e = block("4e")
        self.maxpool4 = nn.MaxPool2d(v.pool4_kernel, stride=2, ceil_mode=True)
        self.inception5a = block("5a")
        self.inception5b = block("5b")

        if aux_logits:  # on 4a (512 maps) and 4d (528 maps), Sec. 5
            aux = functools.partial(
                InceptionAux, num_classes=num_classes, conv_block=conv_block,
                paper_pool=v.aux_pool,
            )  # fmt: skip
            self.aux1 = aux(self.inception4a.out_channels)
            self.aux2 = aux(self.inception4d.out_channels)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(channels, num_classes)
        self.classifier_widths = {"fc": channels}
        # Feature stages (timm's Inception v3 rule): the map before each max pool (conv1's,
        # the stem's last, 3b's, 4e's), then 5b's output. CIFAR's stem is one conv, no pool.
        stages = (
            [("conv1", c192, 1)]
            if cifar
            else [("conv1", c64, 2), ("norm2" if v.lrn else "conv3", c192, 4)]
        )
        r = 1 if cifar else 8  # 3b's reduction: the stem's strides
        for name, reduction in (("inception3b", r), ("inception4e", 2 * r), ("inception5b", 4 * r)):
            stages.append((name, self.get_submodule(name).out_channels, reduction))
        self.feature_info = [dict(num_chs=c, reduction=red, module=m) for m, c, red in stages]
        if aux_logits:
            self.classifier_widths |= {"aux1.fc2": 1024, "aux2.fc2": 1024}
        if v.init == "bvlc":
            self._init_bvlc()
        else:
            self._init_torchvision()

    def _init_torchvision(self) -> None:
        """Truncated normal (std 0.01, cut at +-2) for conv and FC weights, BN 1 and 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _init_bvlc(self) -> None:
        """bvlc_googlenet's fillers: Caffe's "xavier", U(-a, a) with a = sqrt(3 / fan_in)
        (not PyTorch's xavier_uniform_, which averages fan_in and fan_out), for every weight;
        biases 0.2 in every conv and in the aux heads' fc1, 0 in the classifiers."""
        classifiers = {self.get_submodule(path) for path in self.classifier_widths}
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                fan_in = m.weight[0].numel()
                nn.init.uniform_(m.weight, -math.sqrt(3 / fan_in), math.sqrt(3 / fan_in))
                nn.init.constant_(m.bias, 0.0 if m in classifiers else 0.2)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.transform_input:
            mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
            x = torch.cat(
                [
                    (x[:, i : i + 1] * (s / 0.5)) + (m - 0.5) / 0.5
                    for i, (m, s) in enumerate(zip(mean, std, strict=True))
                ],
                1,
            )
        x = self.conv1(x)
        if self.maxpool1 is None:  # the CIFAR stem is conv1 alone
            return x
        x = self.maxpool1(x)
        if self.norm1 is not None:
            x = self.norm1(x)
        x = self.conv3(self.conv2(x))
        if self.norm2 is not None:
            x = self.norm2(x)
        return self.maxpool2(x)

    def _forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Features after 5b and, in training mode with aux heads, the two aux outputs."""
        want_aux = self.aux1 is not None and self.training
        x = self._stem(self.check_input(x))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if want_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if want_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        return x, aux2, aux1

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)[0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        x, aux2, aux1 = self._forward(x)
        logits = self.forward_head(x)
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


_ERROR = ReportedError("ILSVRC-2014 val, 1 model, 1 crop (Table 5)", top5=10.07)
register_imagenet = functools.partial(
    register, depth=22, input_size=(3, 224, 224), dataset="imagenet", num_classes=1000
)


@register_imagenet(
    min_input_size=31,  # the auxiliary heads' 5x5/3 pools need 79 in training mode
    params=6_998_552,
    aux_params=6_379_728,
    reported_error=_ERROR,
    notes="As published: true 5x5 branches, LRN, no BN, dropout 0.4, aux heads on 4a/4d.",
)
def googlenet_paper(
    num_classes: int, in_chans: int, *, aux_logits: bool = True, drop_rate: float = 0.4
) -> GoogLeNet:
    """GoogLeNet as published (Table 1, Figure 3), with its auxiliary heads (Sec. 5)."""
    return GoogLeNet("paper", num_classes, in_chans, aux_logits, drop_rate)


@register_imagenet(
    min_input_size=15,
    params=6_624_904,
    reported_error=ReportedError(
        _ERROR.protocol, top5=_ERROR.top5, variant="the paper's network (googlenet_paper)"
    ),
    torchvision="googlenet",
    notes="torchvision's: BN, 3x3 conv in the '5x5' branch (kept bug), no LRN, dropout 0.2; "
    "aux_logits=True adds 6,379,984 training-only parameters.",
)
def googlenet(
    num_classes: int,
    in_chans: int,
    *,
    aux_logits: bool = False,
    drop_rate: float = 0.2,
    transform_input: bool = False,
) -> GoogLeNet:
    """torchvision's GoogLeNet (same modules, names and initialisation)."""
    return GoogLeNet("torchvision", num_classes, in_chans, aux_logits, drop_rate, transform_input)


@register(
    depth=20,
    input_size=(3, 32, 32),
    min_input_size=4,
    dataset="cifar10",
    num_classes=10,
    params=5_871_914,
    notes="32x32 stem (one 3x3 conv, 192 channels), then Table 1's inception stack with BN.",
)
def googlenet_cifar(
    num_classes: int,
    in_chans: int,
    *,
    drop_rate: float = 0.4,
    width: float = 1.0,
    reductions: bool = True,
) -> GoogLeNet:
    """GoogLeNet for 32x32 images.

    Kept: Table 1's nine inception blocks with their channel counts and true 5x5 branches, the
    3x3/2 max pools after 3b and 4e, global average pooling, dropout 0.4. Changed: the stem
    (7x7/2 conv, two max pools, 1x1 and 3x3 convs: 224 -> 28 pixels) becomes one 3x3 conv
    with 192 filters that keeps the 32x32 resolution, so the inception stages see 32, 16 and
    8 pixel maps instead of 28, 14 and 7; BN after every conv (trains from scratch without
    the paper's auxiliary heads, which are dropped: they matter for 22 layers on ImageNet).

    Options: ``width`` multiplies the stem's 192 channels and every column of Table 1
    (rounded, at least 1). ``reductions=False`` removes the 1x1 reductions before the 3x3
    and 5x5 convolutions, which then see the block's whole input (Sec. 4, Figure 2(a)
    against 2(b)). Figure 2(a)'s naive module also has no 1x1 projection after its max pool,
    so its output would carry all its input channels and widen from block to block; the
    projection is kept here, so that each block's output keeps Table 1's width and only the
    reductions differ.
    """
    return GoogLeNet(
        "cifar", num_classes, in_chans, aux_logits=False, drop_rate=drop_rate, width=width,
        reductions=reductions,
    )  # fmt: skip
