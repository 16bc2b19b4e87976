"""A patch-whitening first layer (Jordan 2024, airbench, after Page 2018 and tysam-code's
hlb-CIFAR10): the network's first convolution, its shape unchanged, gets filters made from the
training images before the first step and keeps them. airbench also drops the BatchNorm after
that layer; a zoo network keeps its own (docs/benchmarks.md measures what that leaves).

The filters are the eigenvectors of the covariance of the training images' k x k patches (k
the conv's kernel), each scaled by 1/sqrt(eigenvalue + eps) and paired with its negative, so
a ReLU after it loses nothing: the layer projects every patch on its principal directions,
largest first, and starts the network from decorrelated inputs instead of random ones. A conv
with more output channels than twice the patch's dimensions keeps its own init for the rest;
one with fewer keeps the leading directions. airbench freezes the weights and trains the bias
for its first epochs; here the bias trains throughout.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from moderncnn.data import Splits
from moderncnn.errors import ConfigError

log = logging.getLogger("moderncnn")

#: Training images the covariance is estimated from, and the eigenvalue floor: airbench94's.
WHITEN_IMAGES = 5000
WHITEN_EPS = 5e-4


def whitening_filters(
    x: torch.Tensor, kernel: tuple[int, int], eps: float = WHITEN_EPS
) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues, filters) of the patches of normalised images ``x`` (N, C, H, W): the
    filters (C*kh*kw, C, kh, kw) are the covariance's eigenvectors, largest eigenvalue first,
    each divided by sqrt(eigenvalue + eps). The covariance is summed 500 images at a time, in
    float64: 5,000 images' 3x3 patches at once would take a gigabyte."""
    dims = x.shape[1] * kernel[0] * kernel[1]
    cov, count = torch.zeros(dims, dims, dtype=torch.float64), 0
    for chunk in x.split(500):
        patches = F.unfold(chunk.double(), kernel).transpose(1, 2).reshape(-1, dims)
        cov, count = cov + patches.T @ patches, count + len(patches)
    values, vectors = torch.linalg.eigh(cov / count)
    values, vectors = values.flip(0), vectors.T.flip(0)
    filters = vectors / torch.sqrt(values.clamp_min(0) + eps)[:, None]
    return values, filters.view(-1, x.shape[1], *kernel).float()


def whiten_first_conv(model: nn.Module, splits: Splits) -> nn.Conv2d:
    """Give ``model``'s first convolution whitening filters from the first
    :data:`WHITEN_IMAGES` training images, normalised as the loaders normalise them, and stop
    its weights' gradient (the module docstring says how). Small images only."""
    if splits.train is None or not splits.small:
        raise ConfigError("--whiten needs small images held in memory (CIFAR-style, 32x32)")
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    images = splits.train.images[:WHITEN_IMAGES].float() / 255
    if conv is None or conv.groups != 1 or conv.in_channels != images.shape[1]:
        raise ConfigError(
            f"--whiten needs a network whose first layer is a plain convolution of the images' "
            f"{images.shape[1]} channels"
        )
    mean, std = (torch.tensor(v)[:, None, None] for v in (splits.mean, splits.std))
    _, filters = whitening_filters((images - mean) / std, conv.kernel_size)
    pairs = min(len(filters), conv.out_channels // 2)
    with torch.no_grad():
        conv.weight[: 2 * pairs] = torch.cat([filters[:pairs], -filters[:pairs]])
    conv.weight.requires_grad_(False)
    log.info(
        "whitening: the first conv's %d of %d filters are the top %d of %d patch directions "
        "and their negatives, frozen",
        2 * pairs,
        conv.out_channels,
        pairs,
        len(filters),
    )
    return conv
