"""Batches of large images decoded from their files by DataLoader workers through a
``transforms.v2`` pipeline, with a report of the files it could not read and of the images
far from the crop."""

from __future__ import annotations

import logging
import multiprocessing.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from moderncnn.data.cache import examples, report_bad, try_decode
from moderncnn.data.sources import ImageSet
from moderncnn.errors import DataError

if TYPE_CHECKING:  # the factory's module, which imports this one
    from moderncnn.data.loaders import LoaderOptions

log = logging.getLogger("moderncnn")


#: How far from the crop an image of the large-image loader may be before it is reported:
#: its shorter side this many times smaller, or its longer side this many times longer.
FAR = 4


def far_from(image: torch.Tensor, crop: int) -> str:
    """The size of ``image`` (C, H, W) as 'WxH' when it is far from the ``crop`` it will be
    resized and cropped to (:data:`FAR`), else ''."""
    h, w = image.shape[-2:]
    far = crop > FAR * min(h, w) or max(h, w) > FAR * min(h, w)
    return f"{w}x{h}" if far else ""


def warn_far(far: list[tuple[str, str]], read: int, where: str, crop: int) -> None:
    """One warning for the (path, size) of images :func:`far_from` the crop, if any."""
    if far:
        log.warning(
            "%d of %d images in %s are far smaller than the %d-pixel crop or far from "
            "square (over %dx): upscaled or mostly cropped away, e.g. %s",
            len(far),
            read,
            where,
            crop,
            FAR,
            examples(far),
        )


class _FolderDataset(Dataset):
    """Files decoded in workers: ``(image, label, note)``. An unreadable file gives no image
    and a note (path, reason), never another file in its place; an image far smaller than
    ``crop`` or far from square gives a note (path, its size)."""

    def __init__(self, images: ImageSet, transform, crop: int) -> None:
        self.files, self.labels, self.transform = images.files or [], images.labels, transform
        self.crop = crop

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        path, label = self.files[i], self.labels[i]
        img = try_decode(path)
        if isinstance(img, str):
            return None, label, (path, img)
        far = far_from(img, self.crop)
        return self.transform(img), label, (path, far) if far else None


def _collate(batch):
    """(images or None, labels, unreadable (path, reason), far (path, size)) of a batch."""
    read = [b for b in batch if b[0] is not None]
    x, y = (
        default_collate([b[:2] for b in read])
        if read
        else (None, torch.zeros(0, dtype=torch.int64))
    )
    bad = [b[2] for b in batch if b[0] is None]
    far = [b[2] for b in read if b[2] is not None]
    return x, y, bad, far


class FolderLoader:
    """DataLoader over image files with a ``transforms.v2`` pipeline and a distributed
    sampler; moves batches to ``device``. Unreadable files are left out of their batch (a
    batch may come out smaller, or not at all), counted, and reported with the images far
    from ``options.crop`` when the epoch ends, or the caller stops reading it."""

    def __init__(
        self,
        images: ImageSet,
        batch_size: int,
        device: torch.device,
        options: LoaderOptions,
        *,
        transform,
        train: bool = False,
        accum: int = 1,
    ) -> None:
        o = options
        self.sampler = DistributedSampler(
            _FolderDataset(images, transform, o.crop),
            num_replicas=o.world,
            rank=o.rank,
            shuffle=train,
            seed=o.seed,
            drop_last=train,
        )
        if o.workers:
            # workers forked now share this process's temporary folder, which it removes at
            # exit: workers killed after a failure would leave pymp-* folders of their own
            multiprocessing.util.get_temp_dir()
        self.loader = DataLoader(
            self.sampler.dataset,
            # in training, batch_size is the global batch: this rank's part of a micro-batch
            batch_size=batch_size // (o.world * accum) if train else batch_size,
            sampler=self.sampler,
            num_workers=o.workers,
            collate_fn=_collate,
            pin_memory=device.type == "cuda",
            drop_last=train,
            persistent_workers=o.workers > 0,
        )
        self.device, self.options, self.train = device, options, train
        self.where = "this epoch" if train else "this evaluation"

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        bad_files, far, read = [], [], 0
        try:
            for x, y, bad, far_ones in self.loader:
                if bad and self.options.strict:
                    report_bad(bad, len(self.sampler.dataset), self.where, strict=True)
                bad_files.extend(bad)
                far.extend(far_ones)
                read += len(y)
                if x is None:
                    # in distributed training the other ranks would wait for its gradients
                    if self.train and self.options.world > 1:
                        raise DataError(
                            f"every file of a training batch is unreadable, e.g. "
                            f"{examples(bad)}; remove them (or train in one process)"
                        )
                    continue
                x = x.to(self.device, non_blocking=True)
                if x.dim() == 4:  # not ten-crop stacks
                    x = x.contiguous(memory_format=self.options.memory_format)
                yield x, y.to(self.device, non_blocking=True)
        finally:  # also when the reader stops early (the training loop reads N batches)
            report_bad(bad_files, len(bad_files) + read, self.where, strict=False)
            warn_far(far, read, self.where, self.options.crop)
