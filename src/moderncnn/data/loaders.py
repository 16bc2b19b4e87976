"""Splits and batches: the honest protocol (train / held-out validation / test) and loaders.

:func:`load_splits` reads a data set once; :func:`make_loader` returns a
:class:`TensorLoader` (small images: uint8 tensors on the device, batched augmentation there,
no workers) or a :class:`FolderLoader` (large images: DataLoader workers with
``transforms.v2``). Both yield ``(images, labels)`` on the device and shard for DDP.
"""

from __future__ import annotations

import logging
import multiprocessing.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from moderncnn.data.augment import (
    alternating_flips,
    augmentation,
    crop_flip,
    random_crop_flip_params,
    ten_crop_params,
    train_transform,
)
from moderncnn.data.cache import (
    cached_decode,
    default_cache_dir,
    examples,
    report_bad,
    try_decode,
)
from moderncnn.data.images import image_size
from moderncnn.data.sources import (
    SMALL_IMAGE,
    DataSource,
    ImageSet,
    digest,
    download_cifar,
    find_dataset,
    holdout,
    limit,
    list_folder,
    read_cifar,
    split_folder,
)
from moderncnn.data.transforms import eval_transform
from moderncnn.errors import DataError
from moderncnn.models.pretrained import IMAGENET_MEAN, IMAGENET_STD, DataConfig

log = logging.getLogger("moderncnn")


@dataclass
class Splits:
    """A data set read for training: train, held-out validation and test splits (``train``
    is None when only the test split was read, for evaluation)."""

    source: DataSource
    classes: list[str]
    train: ImageSet | None
    val: ImageSet | None
    test: ImageSet | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    #: :func:`~moderncnn.data.sources.digest` of the training images before the hold-out
    #: (with ``limit`` and ``val_size``, what defines the split); "" when train is not read
    digest: str = ""

    @property
    def small(self) -> bool:
        """Small images, held as uint8 tensors and augmented on the device."""
        return (self.train if self.train is not None else self.test).images is not None


def _is_small(files: list[str], sample: int = 64) -> bool:
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


def _list(source: DataSource, split: str, n: int) -> ImageSet:
    if source.kind != "folder":
        return limit(read_cifar(source, split), n)
    return limit(list_folder(split_folder(source, split)), n)


def load_splits(
    data_dir: str | Path,
    *,
    val_size: int = 5000,
    limit: int = 0,
    train: bool = True,
    test: bool = True,
    cache_dir: str | Path | None = None,
    strict: bool = False,
    workers: int = 2,
    download: str = "",
    progress: bool = True,
    expect: tuple[str, str] | None = None,
    val_from: str = "",
) -> Splits:
    """Read ``data_dir`` (CIFAR python format or ImageFolder) into train / val / test.

    ``val_size`` training images are held out for validation (fixed, see
    :func:`~moderncnn.data.sources.holdout`); ``limit`` caps every split (a fixed random subset,
    for quick runs); ``train=False`` reads the test split alone (evaluation: a folder may hold
    only ``test/`` or ``val/``); ``download`` ('cifar10' or 'cifar100') fetches CIFAR when it is
    missing (and is refused where another data set is there); ``progress`` shows a bar
    while images are decoded. Small images are normalised with the statistics of the
    training split, or of the test split when it is read alone. ``expect``: (digest, who
    expects it): the training images must be those (:attr:`Splits.digest`), else DataError;
    ``val_from``: where ``val_size`` came from, for the error when there are too few images.
    """
    try:
        source = find_dataset(data_dir)
    except DataError:
        if not download:
            raise
        source = download_cifar(download, data_dir)
    if download and source.kind != download:
        raise DataError(
            f"--download {download}: {str(source.root)!r} holds {source.name} already, and "
            f"{source.name} is what would be read; drop --download, or give another --data-dir"
        )
    wanted = [split for split, asked in (("train", train), ("test", test)) if asked]
    read = {split: _list(source, split, limit) for split in wanted}
    ident = digest(read["train"], source.root) if "train" in read else ""
    if expect and ident != expect[0]:
        n = len(read["train"])
        raise DataError(
            f"{str(source.root)!r} does not hold the training images of {expect[1]} (its "
            f"{n} images{f' (limit {limit})' if limit else ''} have digest {ident}, the "
            f"run's {expect[0]}): give the run's data"
        )
    files = [f for images in read.values() for f in images.files or []]
    if files and _is_small(files):  # judged on both splits: one loader for both
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        for split, images in read.items():
            name = f"{source.name}-{split}"
            read[split] = cached_decode(
                images, name, cache, strict=strict, workers=workers, progress=progress
            )
    full, test_set = read.get("train"), read.get("test")
    train_set, val = full, None
    if full is not None and val_size:
        train_idx, val_idx = holdout(len(full), val_size, val_from)
        train_set, val = full.subset(train_idx), full.subset(val_idx)
    if full is not None and test_set is not None and test_set.classes != full.classes:
        raise DataError(
            f"{str(source.root)!r}: the test classes differ from the training classes "
            f"({len(test_set.classes)} vs {len(full.classes)})"
        )
    stats_from = train_set if train_set is not None else test_set
    mean, std = (
        channel_stats(stats_from.images)
        if stats_from.images is not None
        else (IMAGENET_MEAN, IMAGENET_STD)
    )
    log.info(
        "%s (%s): %d train, %d validation, %d test images, %d classes",
        source.root,
        source.kind,
        len(train_set) if train_set is not None else 0,
        len(val) if val is not None else 0,
        len(test_set) if test_set is not None else 0,
        len(stats_from.classes),
    )
    return Splits(source, stats_from.classes, train_set, val, test_set, mean, std, ident)


class TensorLoader:
    """Batches of uint8 images held on ``device``, augmented and normalised there in one go.

    In training, every epoch is a fixed permutation of (``seed``, epoch); each global batch of
    ``batch_size`` images (one optimizer step) is cut into ``accum`` micro-batches, each cut into
    ``world`` equal parts, one per rank, and its augmentation is drawn for the whole global
    batch: N processes, or M accumulated micro-batches, see exactly what one batch sees.
    ``batch_size`` must divide by ``accum`` x ``world``: training's config checks that, where
    the batch size enters.
    Evaluation batches are ``batch_size`` images per rank of a strided shard.
    """

    def __init__(
        self,
        images: ImageSet,
        batch_size: int,
        device: torch.device,
        *,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        train: bool = False,
        augment: str = "none",
        ten_crop: bool = False,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        accum: int = 1,
        channels_last: bool = True,
    ) -> None:
        augmentation(augment, small=True)  # a ConfigError here, not at the first batch
        self.images = images.images.to(device)
        self.labels = images.labels.to(device)
        self.batch_size, self.device, self.train, self.augment = batch_size, device, train, augment
        self.ten_crop, self.seed, self.rank, self.world = ten_crop, seed, rank, world
        self.accum = accum
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
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
        return -(-len(range(self.rank, n, self.world)) // self.batch_size)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.float() - self.mean) / self.std).contiguous(memory_format=self.memory_format)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.train:
            yield from self._eval_batches()
            return
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        perm = torch.randperm(len(self.labels), generator=g)
        alternate = augmentation(self.augment, small=True).alternate
        flips = alternating_flips(len(self.labels), self.seed, self.epoch) if alternate else None
        # positions in the global batch of this rank's part of each micro-batch
        parts = torch.arange(self.batch_size).view(self.accum, self.world, -1)[:, self.rank]
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
        shard = torch.arange(self.rank, len(self.labels), self.world, device=self.device)
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
    from ``crop`` when the epoch ends, or the caller stops reading it."""

    def __init__(
        self,
        images: ImageSet,
        batch_size: int,
        device: torch.device,
        *,
        transform,
        crop: int,
        train: bool = False,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        accum: int = 1,
        workers: int = 2,
        strict: bool = False,
        channels_last: bool = True,
    ) -> None:
        self.sampler = DistributedSampler(
            _FolderDataset(images, transform, crop),
            num_replicas=world,
            rank=rank,
            shuffle=train,
            seed=seed,
            drop_last=train,
        )
        if workers:
            # workers forked now share this process's temporary folder, which it removes at
            # exit: workers killed after a failure would leave pymp-* folders of their own
            multiprocessing.util.get_temp_dir()
        self.loader = DataLoader(
            self.sampler.dataset,
            batch_size=batch_size // (world * accum) if train else batch_size,
            sampler=self.sampler,
            num_workers=workers,
            collate_fn=_collate,
            pin_memory=device.type == "cuda",
            drop_last=train,
            persistent_workers=workers > 0,
        )
        self.device, self.strict, self.crop = device, strict, crop
        self.train, self.world = train, world
        self.where = "this epoch" if train else "this evaluation"
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        bad_files, far, read = [], [], 0
        try:
            for x, y, bad, far_ones in self.loader:
                if bad and self.strict:
                    report_bad(bad, len(self.sampler.dataset), self.where, strict=True)
                bad_files.extend(bad)
                far.extend(far_ones)
                read += len(y)
                if x is None:
                    if self.train and self.world > 1:  # the other ranks wait for its gradients
                        raise DataError(
                            f"every file of a training batch is unreadable, e.g. "
                            f"{examples(bad)}; remove them (or train in one process)"
                        )
                    continue
                x = x.to(self.device, non_blocking=True)
                if x.dim() == 4:  # not ten-crop stacks
                    x = x.contiguous(memory_format=self.memory_format)
                yield x, y.to(self.device, non_blocking=True)
        finally:  # also when the reader stops early (the training loop reads N batches)
            report_bad(bad_files, len(bad_files) + read, self.where, strict=False)
            warn_far(far, read, self.where, self.crop)


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
