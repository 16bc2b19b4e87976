"""Batches of small images held as uint8 tensors on the device, augmented and normalised
there in one go: no workers, and a global batch drawn the same whatever the number of
processes or accumulated micro-batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from moderncnn.data.augment import (
    alternating_flips,
    augmentation,
    crop_flip,
    random_crop_flip_params,
    ten_crop_params,
)
from moderncnn.data.sources import ImageSet

if TYPE_CHECKING:  # the factory's module, which imports this one
    from moderncnn.data.loaders import LoaderOptions


class TensorLoader:
    """Batches of uint8 images held on ``device``, augmented and normalised there in one go.

    In training, every epoch is a fixed permutation of (``options.seed``, epoch); each global
    batch of ``batch_size`` images (one optimizer step) is cut into ``accum`` micro-batches,
    each cut into ``options.world`` equal parts, one per rank, and its augmentation is drawn
    for the whole global batch: N processes, or M accumulated micro-batches, see exactly what
    one batch sees. ``batch_size`` must divide by ``accum`` x ``options.world``: training checks
    that before it reads data (:func:`moderncnn.train.build.start_run`).
    Evaluation batches are ``batch_size`` images per rank of a strided shard.
    """

    def __init__(
        self,
        images: ImageSet,
        batch_size: int,
        device: torch.device,
        options: LoaderOptions,
        *,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        train: bool = False,
        augment: str = "none",
        accum: int = 1,
        ten_crop: bool = False,
    ) -> None:
        augmentation(augment, small=True)  # a ConfigError here, not at the first batch
        self.images = images.images.to(device)
        self.labels = images.labels.to(device)
        self.batch_size, self.device, self.options = batch_size, device, options
        self.train, self.augment, self.accum, self.ten_crop = train, augment, accum, ten_crop
        scale = torch.tensor([255.0], device=device)
        self.mean = (torch.tensor(mean, device=device) * scale)[:, None, None]
        self.std = (torch.tensor(std, device=device) * scale)[:, None, None]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.labels)
        if self.train:
            return n // self.batch_size * self.accum
        o = self.options
        return -(-len(range(o.rank, n, o.world)) // self.batch_size)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() - self.mean) / self.std
        return x.contiguous(memory_format=self.options.memory_format)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.train:
            yield from self._eval_batches()
            return
        o = self.options
        # A generator of its own for each (seed, epoch): an epoch's order and augmentation
        # depend on nothing drawn before it, so a resumed run draws what an unbroken one did;
        # 100_003, a prime above any run's count of epochs, keeps the epochs of one seed off
        # those of the next.
        g = torch.Generator().manual_seed(o.seed * 100_003 + self.epoch)
        perm = torch.randperm(len(self.labels), generator=g)
        alternate = augmentation(self.augment, small=True).alternate
        flips = alternating_flips(len(self.labels), o.seed, self.epoch) if alternate else None
        # The global batch laid out as (micro-batch, rank, image): row m holds the positions in
        # the global batch of this rank's part of micro-batch m, so the ranks' parts of every
        # micro-batch together take each image of the global batch once, as one process would.
        parts = torch.arange(self.batch_size).view(self.accum, o.world, -1)[:, o.rank]
        for step in range(len(self) // self.accum):
            batch = perm[step * self.batch_size : (step + 1) * self.batch_size]
            alternated = flips[batch] if flips is not None else None
            params = random_crop_flip_params(self.batch_size, self.augment, g, alternated)
            for mine in parts:
                idx = batch[mine].to(self.device, non_blocking=True)
                dx, dy, flip = (p[mine].to(self.device, non_blocking=True) for p in params[:3])
                x = crop_flip(self.images[idx], dx, dy, flip, params[3])
                yield self._normalise(x), self.labels[idx]

    def _eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        o = self.options
        shard = torch.arange(o.rank, len(self.labels), o.world, device=self.device)
        crops = [t.to(self.device) for t in ten_crop_params()] if self.ten_crop else None
        for idx in shard.split(self.batch_size):
            x = self.images[idx]
            if crops is None:
                yield self._normalise(x), self.labels[idx]
                continue
            n, c, h, w = x.shape
            dx, dy, flip = (t.repeat(n) for t in crops)
            x = crop_flip(x.repeat_interleave(10, 0), dx, dy, flip, pad=4)
            yield self._normalise(x).view(n, 10, c, h, w), self.labels[idx]
