"""The honest protocol: a data set read once into train, held-out validation and test splits
(:func:`load_splits`), with the statistics that normalise it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from moderncnn.data.cache import cached_decode, default_cache_dir
from moderncnn.data.sources import (
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
from moderncnn.data.stats import channel_stats, mostly_small
from moderncnn.errors import DataError
from moderncnn.models.pretrained import IMAGENET_MEAN, IMAGENET_STD

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
    #: the per-channel mean and std the loaders normalise with (:func:`load_splits` chose them)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    #: :func:`~moderncnn.data.sources.digest` of the training images before the hold-out
    #: (with ``limit`` and ``val_size``, what defines the split); "" when train is not read
    digest: str = ""

    @property
    def small(self) -> bool:
        """Small images, held as uint8 tensors and augmented on the device."""
        return (self.train if self.train is not None else self.test).images is not None


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
    normalisation: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> Splits:
    """Read ``data_dir`` (CIFAR python format or ImageFolder) into train / val / test.

    ``val_size`` training images are held out for validation (fixed, see
    :func:`~moderncnn.data.sources.holdout`); ``limit`` caps every split (a fixed random subset,
    for quick runs); ``train=False`` reads the test split alone (evaluation: a folder may hold
    only ``test/`` or ``val/``); ``download`` ('cifar10' or 'cifar100') fetches CIFAR when it is
    missing (and is refused where another data set is there); ``progress`` shows a bar
    while images are decoded. ``expect``: (digest, who expects it): the training images
    must be those (:attr:`Splits.digest`), else DataError; ``val_from``: where ``val_size``
    came from, for the error when there are too few images.

    ``normalisation``: the (mean, std) the images are to be normalised with, chosen here once
    (pretrained weights' own, say); by default, for small images the statistics of the
    training split (of the test split when it is read alone), for large ones ImageNet's.
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
    if files and mostly_small(files):  # judged on both splits: one loader for both
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
    if normalisation is None:
        small = stats_from.images is not None
        normalisation = channel_stats(stats_from.images) if small else (IMAGENET_MEAN, IMAGENET_STD)
    mean, std = normalisation
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
