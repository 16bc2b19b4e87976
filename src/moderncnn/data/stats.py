"""Measuring a data set's images: how large they are (from a sample of file headers, nothing
decoded), which decides how they are held, and their per-channel mean and std, which
normalise them."""

from __future__ import annotations

import torch

from moderncnn.data.images import image_size
from moderncnn.data.sources import SMALL_IMAGE
from moderncnn.errors import DataError


def mostly_small(files: list[str], sample: int = 64) -> bool:
    """Whether most of ``sample`` files spread evenly over ``files`` are small images, by
    their headers (nothing decoded): one thumbnail first in a folder must not make thumbnails
    of its photos, nor one photo among thumbnails photos of them."""
    picked = [files[i * len(files) // sample] for i in range(sample)] if files[sample:] else files
    sizes = []
    for path in picked:
        try:
            sizes.append(max(image_size(path)))
        except Exception:  # unreadable: counted when the file is decoded
            continue
    if not sizes:
        raise DataError(f"none of {len(picked)} image files sampled is readable, e.g. {files[0]!r}")
    return 2 * sum(size <= SMALL_IMAGE for size in sizes) > len(sizes)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 (N, C, H, W) images, scaled to [0, 1]."""
    s = torch.zeros(images.shape[1], dtype=torch.float64)
    s2 = torch.zeros_like(s)
    for chunk in images.split(4096):
        x = chunk.to(torch.float64).transpose(0, 1).flatten(1)
        s += x.sum(1)
        s2 += (x * x).sum(1)
    n = images.numel() / images.shape[1]
    mean = s / n
    std = (s2 / n - mean**2).clamp_min(0).sqrt()
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())
