"""GoogLeNet (Inception v1): Szegedy et al., "Going Deeper with Convolutions", CVPR 2015
(arXiv 2014).

Inception blocks run 1x1, 3x3, 5x5 convolutions and a 3x3 max pool side by side and
concatenate them; 1x1 convolutions first reduce the channels the 3x3 and 5x5 see (Sec. 4), so
the 22-layer network has about 7 million parameters, fewer than AlexNet's 61 million.

* ``googlenet_paper``: Table 1 / Figure 3 as published: convolutions with bias and ReLU, no
  BN, true 5x5 branches, LRN after the first max pool and after conv2, 3x3/2 max pooling
  (ceil mode, as in the paper's DistBelief/Caffe models), 7x7 average pool, dropout 0.4, and
  two auxiliary classifiers on 4a and 4d (Sec. 5) whose outputs are returned in training mode
  (for a 0.3-weighted loss) and skipped at inference.
* ``googlenet``: torchvision's network, whose state_dict loads unchanged. It differs from
  the paper: BN after every conv (from Inception v2), a **3x3** conv where the paper's 5x5
  branch is (a known bug kept for its released weights), no LRN, a 2x2 max pool before 5a,
  and dropout 0.2.
* ``googlenet_cifar``: the paper's inception stack for 32x32 images (see its docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.registry import register_model

_PAPER = "Szegedy et al., Going Deeper with Convolutions, CVPR 2015"

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


class GoogLeNetOutputs(NamedTuple):
    """Training-mode output with auxiliary heads (torchvision's order)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor | None
    aux_logits1: torch.Tensor | None


class BasicConv2d(nn.Module):
    """conv -> [BN] -> ReLU. With ``batch_norm`` (torchvision) the conv has no bias and
    BN uses eps 1e-3; without it (the paper) the conv has a bias."""

    def __init__(
        self, in_channels: int, out_channels: int, batch_norm: bool = True, **kwargs: object
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=not batch_norm, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True)


ConvBlock = Callable[..., nn.Module]


class Inception(nn.Module):
    """The inception module of Figure 2(b), with Table 1's six channel counts.

    Args:
        in_channels: input channels.
        ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj: Table 1's columns.
        conv_block: conv factory (``BasicConv2d`` with or without BN).
        kernel_5x5: 5 for the paper; 3 reproduces torchvision's branch.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        conv_block: ConvBlock = BasicConv2d,
        kernel_5x5: int = 5,
    ) -> None:
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1),
            conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1),
            conv_block(ch5x5red, ch5x5, kernel_size=kernel_5x5, padding=kernel_5x5 // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x))
        return torch.cat(branches, 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier (Sec. 5): 5x5/3 average pool (4x4 at 4a/4d's 14x14 maps), 1x1
    conv with 128 filters, FC 1024 + ReLU, dropout 0.7, linear classifier.

    ``paper=True`` pools with the paper's 5x5/3 window, then adapts to 4x4 (an identity at
    14x14) so other input sizes work; torchvision pools adaptively to 4x4 directly."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        conv_block: ConvBlock = BasicConv2d,
        dropout: float = 0.7,
        paper: bool = False,
    ) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3) if paper else None
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        x = F.adaptive_avg_pool2d(x, (4, 4))
        x = torch.flatten(self.conv(x), 1)
        x = F.relu(self.fc1(x), inplace=True)
        return self.fc2(self.dropout(x))


class GoogLeNet(ConvNet):
    """Stem, inception 3a-5b with max pools between stages, average pool, dropout, FC.

    Module names are torchvision's (``conv1``, ``inception3a``..., ``aux1``, ``fc``); the
    defaults build torchvision's network, :func:`googlenet_paper` sets the paper's choices.

    Args:
        aux_logits: build the two auxiliary heads; their outputs are returned in training mode
            only, as :class:`GoogLeNetOutputs`.
        batch_norm: BN after every conv (torchvision) or conv bias and no BN (the paper).
        kernel_5x5: kernel of the "5x5" branch: 5 (the paper) or 3 (torchvision).
        lrn: LRN after the first max pool and after conv3 (the paper, Figure 3).
        pool4_kernel: max pool before 5a: 3x3/2 (Table 1) or 2x2/2 (torchvision); both 7x7 at 224.
        stem: "imagenet" (7x7/2 conv, max pool, 1x1, 3x3, max pool) or "cifar" (one 3x3 conv).
        transform_input: convert ImageNet-normalised input to the (x - 0.5) / 0.5 scaling
            torchvision's released weights expect.
    """

    optional_parts = ("aux1", "aux2")

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        aux_logits: bool = False,
        batch_norm: bool = True,
        kernel_5x5: int = 3,
        lrn: bool = False,
        pool4_kernel: int = 2,
        dropout: float = 0.2,
        stem: str = "imagenet",
        transform_input: bool = False,
    ) -> None:
        super().__init__(num_classes, in_chans)
        if transform_input and in_chans != 3:
            raise ValueError("transform_input needs in_chans=3 (it rescales RGB channels)")
        self.batch_norm, self.transform_input = batch_norm, transform_input

        def conv_block(cin: int, cout: int, **kw: object) -> BasicConv2d:
            return BasicConv2d(cin, cout, batch_norm=batch_norm, **kw)

        if stem == "cifar":
            self.conv1 = conv_block(in_chans, 192, kernel_size=3, padding=1)
            stem_rest: list[nn.Module] = []
        else:
            self.conv1 = conv_block(in_chans, 64, kernel_size=7, stride=2, padding=3)
            stem_rest = [
                nn.MaxPool2d(3, stride=2, ceil_mode=True),
                conv_block(64, 64, kernel_size=1),
                conv_block(64, 192, kernel_size=3, padding=1),
                nn.MaxPool2d(3, stride=2, ceil_mode=True),
            ]
            if lrn:  # Caffe's bvlc_googlenet: size 5, alpha 1e-4 (divided by n), beta 0.75
                stem_rest.insert(1, nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75))
                stem_rest.insert(4, nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75))
        # torchvision's names for the stem's parts; the LRNs (paper only) become norm1/norm2.
        names = (
            ["maxpool1", "norm1", "conv2", "conv3", "norm2", "maxpool2"]
            if lrn
            else ["maxpool1", "conv2", "conv3", "maxpool2"]
        )
        self.stem_order = names[: len(stem_rest)]
        for name, m in zip(self.stem_order, stem_rest, strict=True):
            self.add_module(name, m)

        channels = 192
        for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
            block = Inception(
                channels, *INCEPTION_TABLE[name], conv_block=conv_block, kernel_5x5=kernel_5x5
            )
            self.add_module(f"inception{name}", block)
            channels = block.out_channels
            if name == "3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "4e":
                self.maxpool4 = nn.MaxPool2d(pool4_kernel, stride=2, ceil_mode=True)

        if aux_logits:
            paper_pool = not batch_norm
            self.aux1 = InceptionAux(512, num_classes, conv_block, paper=paper_pool)
            self.aux2 = InceptionAux(528, num_classes, conv_block, paper=paper_pool)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision: truncated normal (std 0.01, +-2 std) for conv and FC weights. The paper
        (Caffe's bvlc_googlenet): Xavier weights, conv biases 0.2."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if not self.batch_norm:
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.constant_(m.bias, 0.2 if isinstance(m, nn.Conv2d) else 0.0)
                else:
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        if not self.transform_input:
            return x
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        return torch.cat(
            [
                (x[:, i : i + 1] * (s / 0.5)) + (m - 0.5) / 0.5
                for i, (m, s) in enumerate(zip(mean, std, strict=True))
            ],
            1,
        )

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self._transform_input(x))
        for name in self.stem_order:
            x = getattr(self, name)(x)
        return x

    def _forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Features after 5b and, in training mode with aux heads, the two aux outputs."""
        want_aux = self.aux1 is not None and self.training
        x = self._stem(x)
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

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        x, aux2, aux1 = self.guarded(lambda: self._forward(x), x)
        logits = self.forward_head(x)
        if aux1 is not None:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


_IMAGENET = dict(
    family="googlenet",
    paper=_PAPER,
    year=2014,
    depth=22,
    input_size=(3, 224, 224),
    dataset="imagenet",
    num_classes=1000,
)
_ERROR = {"top5": 10.07, "protocol": "ILSVRC-2014 val, 1 model, 1 crop (Table 5)"}


@register_model(
    **_IMAGENET,
    reported_error=_ERROR,
    notes="As published: true 5x5 branches, LRN, no BN, dropout 0.4, aux heads on 4a/4d.",
    options={"aux_logits": True, "dropout": 0.4},
)
def googlenet_paper(
    num_classes: int, in_chans: int, aux_logits: bool = True, dropout: float = 0.4
) -> GoogLeNet:
    return GoogLeNet(
        num_classes,
        in_chans,
        aux_logits=aux_logits,
        batch_norm=False,
        kernel_5x5=5,
        lrn=True,
        pool4_kernel=3,
        dropout=dropout,
    )


@register_model(
    **_IMAGENET,
    reported_error=_ERROR,
    torchvision="googlenet",
    notes="torchvision's: BN, 3x3 conv in the '5x5' branch (kept bug), no LRN, dropout 0.2. "
    "Error shown is the paper's.",
    options={"aux_logits": False, "dropout": 0.2, "transform_input": False},
)
def googlenet(
    num_classes: int,
    in_chans: int,
    aux_logits: bool = False,
    dropout: float = 0.2,
    transform_input: bool = False,
) -> GoogLeNet:
    return GoogLeNet(
        num_classes,
        in_chans,
        aux_logits=aux_logits,
        dropout=dropout,
        transform_input=transform_input,
    )


@register_model(
    family="googlenet",
    paper=_PAPER,
    year=2014,
    depth=20,
    input_size=(3, 32, 32),
    dataset="cifar10",
    num_classes=10,
    notes="32x32 stem (one 3x3 conv, 192 channels), then Table 1's inception stack with BN.",
    options={"dropout": 0.4},
)
def googlenet_cifar(num_classes: int, in_chans: int, dropout: float = 0.4) -> GoogLeNet:
    """GoogLeNet for 32x32 images.

    Kept: Table 1's nine inception blocks with their channel counts and true 5x5 branches, the
    3x3/2 max pools after 3b and 4e, global average pooling, dropout 0.4. Changed: the stem
    (7x7/2 conv, two max pools, 1x1 and 3x3 convs: 224 -> 28 pixels) becomes one 3x3 conv
    with 192 filters that keeps the 32x32 resolution, so the inception stages see 32, 16 and
    8 pixel maps instead of 28, 14 and 7; BN after every conv (trains from scratch without
    the paper's auxiliary heads, which are dropped: they matter for 22 layers on ImageNet).
    """
    return GoogLeNet(
        num_classes, in_chans, kernel_5x5=5, pool4_kernel=3, dropout=dropout, stem="cifar"
    )
