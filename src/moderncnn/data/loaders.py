"""The loader factory: :func:`make_loader` returns a :class:`TensorLoader` (small images:
uint8 tensors on the device, batched augmentation there, no workers) or a
:class:`FolderLoader` (large images: DataLoader workers with ``transforms.v2``). Both yield
``(images, labels)`` on the device and shard for DDP.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from moderncnn.data.augment import train_transform
from moderncnn.data.folder_loader import FolderLoader
from moderncnn.data.sources import ImageSet
from moderncnn.data.splits import Splits
from moderncnn.data.tensor_loader import TensorLoader
from moderncnn.data.transforms import eval_transform
from moderncnn.models.pretrained import DataConfig


@dataclass(frozen=True)
class LoaderOptions:
    """What every loader of a run shares: the crop large images are read at, this process's
    place among ``world`` processes, the seed of the data order and how files are read."""

    #: side of the square crop of large images (small ones keep their size)
    crop: int = 224
    #: shorter side large images are resized to before the centre crop in evaluation
    #: (None: ImageNet's 256 for a 224 crop, in proportion)
    resize: int | None = None
    seed: int = 0
    rank: int = 0
    world: int = 1
    #: DataLoader workers decoding large images (0: in this process)
    workers: int = 2
    #: an unreadable file is an error, not a warning
    strict: bool = False
    channels_last: bool = True

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


def make_loader(
    splits: Splits,
    images: ImageSet,
    batch_size: int,
    device: torch.device,
    options: LoaderOptions = LoaderOptions(),
    *,
    train: bool = False,
    augment: str = "none",
    accum: int = 1,
    ten_crop: bool = False,
) -> TensorLoader | FolderLoader:
    """The loader for ``images`` (one of ``splits``' splits): on-device for small images.

    ``train``: shuffled, augmented with ``augment``, ``batch_size`` the global batch of one
    optimizer step, cut into ``accum`` micro-batches; else ``batch_size`` images a process,
    with the AlexNet paper's ten crops if ``ten_crop``. Large images are evaluated at the
    centre ``options.crop`` of the shorter side resized to ``options.resize``."""
    stats = {"mean": splits.mean, "std": splits.std}
    if splits.small:
        return TensorLoader(
            images, batch_size, device, options, train=train, augment=augment, accum=accum,
            ten_crop=ten_crop, **stats,
        )  # fmt: skip
    crop = options.crop
    tf = (
        train_transform(augment, crop, **stats)
        if train
        else eval_transform(
            DataConfig((3, crop, crop), options.resize or round(crop * 256 / 224), crop, **stats),
            ten_crop,
        )
    )
    return FolderLoader(images, batch_size, device, options, transform=tf, train=train, accum=accum)
