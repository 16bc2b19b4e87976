"""The loader factory: :func:`make_loader` returns a :class:`TensorLoader` (small images:
uint8 tensors on the device, batched augmentation there, no workers) or a
:class:`FolderLoader` (large images: DataLoader workers with ``transforms.v2``). Both yield
``(images, labels)`` on the device and shard for DDP.
"""

from __future__ import annotations

import torch

from moderncnn.data.augment import train_transform
from moderncnn.data.folder_loader import FolderLoader
from moderncnn.data.sources import ImageSet
from moderncnn.data.splits import Splits
from moderncnn.data.tensor_loader import TensorLoader
from moderncnn.data.transforms import eval_transform
from moderncnn.models.pretrained import DataConfig


def make_loader(
    splits: Splits,
    images: ImageSet,
    batch_size: int,
    device: torch.device,
    *,
    train: bool = False,
    augment: str = "none",
    crop: int = 224,
    ten_crop: bool = False,
    resize: int | None = None,
    seed: int = 0,
    rank: int = 0,
    world: int = 1,
    accum: int = 1,
    workers: int = 2,
    strict: bool = False,
    channels_last: bool = True,
) -> TensorLoader | FolderLoader:
    """The loader for ``images`` (one of ``splits``' splits): on-device for small images.
    Large images are evaluated at the centre ``crop`` of the shorter side resized to ``resize``
    (default: ImageNet's 256 for 224)."""
    stats = {"mean": splits.mean, "std": splits.std}
    common = dict(
        train=train, seed=seed, rank=rank, world=world, accum=accum, channels_last=channels_last
    )
    if splits.small:
        return TensorLoader(
            images, batch_size, device, augment=augment, ten_crop=ten_crop, **stats, **common
        )
    tf = (
        train_transform(augment, crop, **stats)
        if train
        else eval_transform(
            DataConfig((3, crop, crop), resize or round(crop * 256 / 224), crop, **stats),
            ten_crop,
        )
    )
    return FolderLoader(
        images,
        batch_size,
        device,
        transform=tf,
        crop=crop,
        workers=workers,
        strict=strict,
        **common,
    )
