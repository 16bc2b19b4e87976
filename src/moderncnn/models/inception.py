"""The inception module (Szegedy et al. 2015, Figure 2) and GoogLeNet's other building
blocks: the conv unit, the module's four branches, the auxiliary classifier (Sec. 5).

1x1, 3x3 and 5x5 convolutions and a 3x3 max pool run side by side and are concatenated; 1x1
convolutions first reduce the channels the 3x3 and 5x5 see (Sec. 4), which is what keeps
the 22-layer network at about 7 million parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


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
        reductions: the 1x1 convs before the 3x3 and 5x5 (Sec. 4). Without them the 3x3
            and 5x5 convolve the block's input, as in Figure 2(a)'s naive module, and
            ``ch3x3red``, ``ch5x5red`` are unused; the pool projection stays.
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
        reductions: bool = True,
    ) -> None:
        super().__init__()
        branch = functools.partial(_reduced_conv, conv_block, in_channels, reductions)
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = branch(ch3x3red, ch3x3, 3)
        self.branch3 = branch(ch5x5red, ch5x5, kernel_5x5)
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x))
        return torch.cat(branches, 1)


def _reduced_conv(
    conv_block: ConvBlock, in_channels: int, reductions: bool, reduce: int, out: int, kernel: int
) -> nn.Sequential:
    """A 1x1 conv down to ``reduce`` channels, then the ``kernel`` x ``kernel`` conv (Figure
    2(b)); without ``reductions`` the ``kernel`` x ``kernel`` conv alone, on the block's
    input (Figure 2(a))."""
    conv = functools.partial(conv_block, out_channels=out, kernel_size=kernel, padding=kernel // 2)
    if not reductions:
        return nn.Sequential(conv(in_channels))
    return nn.Sequential(conv_block(in_channels, reduce, kernel_size=1), conv(reduce))


class InceptionAux(nn.Module):
    """Auxiliary classifier (Sec. 5): 5x5/3 average pool (4x4 at 4a/4d's 14x14 maps), 1x1
    conv with 128 filters, FC 1024 + ReLU, dropout 0.7, linear classifier.

    ``paper_pool`` pools with the paper's 5x5/3 window, then adapts to 4x4 (an identity at
    14x14) so other input sizes work; torchvision pools adaptively to 4x4 directly."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        conv_block: ConvBlock = BasicConv2d,
        drop_rate: float = 0.7,
        paper_pool: bool = False,
    ) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3) if paper_pool else None
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        x = F.adaptive_avg_pool2d(x, (4, 4))
        x = torch.flatten(self.conv(x), 1)
        x = F.relu(self.fc1(x), inplace=True)
        return self.fc2(self.dropout(x))
