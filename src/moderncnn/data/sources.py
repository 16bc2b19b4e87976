"""Where images come from: CIFAR-10/100 in the official python format, or an ImageFolder tree.

A split is an :class:`ImageSet`: either a uint8 tensor (small images, decoded once and cached,
see :mod:`moderncnn.data.cache`) or a list of files (large images, decoded by DataLoader
workers). :func:`find_dataset` recognises the layout of a ``--data-dir`` and names the layouts
it knows when it recognises none.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from moderncnn.errors import DataError

log = logging.getLogger("moderncnn")

#: Largest height/width that is decoded once into the uint8 cache and augmented on device.
SMALL_IMAGE = 64

_CIFAR = {  # kind: (folder, train files, test files, meta file, label-names key, labels key)
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
        "batches.meta",
        b"label_names",
        b"labels",
    ),
    "cifar100": (
        "cifar-100-python",
        ["train"],
        ["test"],
        "meta",
        b"fine_label_names",
        b"fine_labels",
    ),
}

LAYOUTS = (
    "CIFAR-10 python format (DIR/cifar-10-batches-py/data_batch_1..5, test_batch), "
    "CIFAR-100 python format (DIR/cifar-100-python/train, test, meta), or an ImageFolder tree "
    "(DIR/train/<class>/*.jpg and DIR/test/<class>/* or DIR/val/<class>/*; evaluating the "
    "test split needs only test/ or val/)"
)

#: The split folders of an ImageFolder tree; ``test/`` or else ``val/`` is the test split.
FOLDER_SPLITS = ("train", "test", "val")


@dataclass(frozen=True)
class DataSource:
    """A recognised data set: its kind ('cifar10', 'cifar100' or 'folder') and root folder."""

    kind: str
    root: Path

    @property
    def name(self) -> str:
        return self.kind if self.kind != "folder" else self.root.name


@dataclass
class ImageSet:
    """One split: class names, int64 labels and either uint8 images (N, 3, H, W) or files."""

    classes: list[str]
    labels: torch.Tensor
    images: torch.Tensor | None = None
    files: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> ImageSet:
        """The images at ``index`` (a 1-D int64 tensor), in that order."""
        files = None if self.files is None else [self.files[i] for i in index.tolist()]
        images = None if self.images is None else self.images[index]
        return replace(self, labels=self.labels[index], images=images, files=files)


def find_dataset(data_dir: str | Path) -> DataSource:
    """Recognise the layout under ``data_dir`` (or its only sub-folder, as a tarball unpacks).

    An ImageFolder tree needs one of ``train/``, ``test/`` or ``val/``: a folder holding only
    ``val/`` (ImageNet's layout) or ``test/`` can be evaluated, not trained on.
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"data directory {str(root)!r} does not exist; expected {LAYOUTS}")
    candidates = [root]
    subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subdirs) == 1:
        candidates.append(subdirs[0])
    for path in candidates:
        for kind, (folder, train, *_rest) in _CIFAR.items():
            for base in (path / folder, path):
                if all((base / f).is_file() for f in train):
                    return DataSource(kind, base)
        if any((path / name).is_dir() for name in FOLDER_SPLITS):
            return DataSource("folder", path)
    found = ", ".join(sorted(p.name for p in root.iterdir())[:8]) or "nothing"
    raise DataError(
        f"no data set recognised in {str(root)!r} (found: {found}); expected {LAYOUTS}; "
        "CIFAR can be fetched with --download"
    )


def download_cifar(kind: str, data_dir: str | Path) -> DataSource:
    """Fetch CIFAR-10 or CIFAR-100 with torchvision's downloader into ``data_dir``."""
    from torchvision import datasets

    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}.get(kind)
    if cls is None:
        raise DataError(f"--download knows cifar10 and cifar100, not {kind!r}")
    try:
        cls(str(data_dir), train=True, download=True)
    except Exception as e:  # network down, disk full: say so in one line
        raise DataError(f"cannot download {kind} into {str(data_dir)!r}: {e}") from None
    return find_dataset(data_dir)


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"{str(path)!r} is missing; expected {LAYOUTS}")
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except Exception as e:
        raise DataError(f"cannot read {str(path)!r} as a CIFAR python batch: {e}") from None


def read_cifar(source: DataSource, split: str) -> ImageSet:
    """The ``train`` or ``test`` split of a CIFAR python-format folder, as uint8 tensors."""
    _, train, test, meta_file, names_key, labels_key = _CIFAR[source.kind]
    meta = _unpickle(source.root / meta_file)
    classes = [n.decode() for n in meta[names_key]]
    data, labels = [], []
    for name in train if split == "train" else test:
        batch = _unpickle(source.root / name)
        data.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch[labels_key])
    images = torch.from_numpy(np.concatenate(data))
    return ImageSet(classes, torch.tensor(labels, dtype=torch.int64), images=images)


def split_folders(source: DataSource) -> list[str]:
    """The split folders an ImageFolder tree holds, of ``train``, ``test`` and ``val``."""
    return [name for name in FOLDER_SPLITS if (source.root / name).is_dir()]


def split_folder(source: DataSource, split: str) -> Path:
    """The folder of ``split``: ``train``, or ``test`` / ``val`` for the test set."""
    names = ["train"] if split == "train" else ["test", "val"]
    for name in names:
        if (source.root / name).is_dir():
            return source.root / name
    found = ", ".join(f"{name}/" for name in split_folders(source)) or "none"
    raise DataError(
        f"{str(source.root)!r} has no {' or '.join(names)}/ folder (it has: {found}); "
        f"expected {LAYOUTS}"
    )


def list_folder(folder: Path) -> ImageSet:
    """Files and labels of an ImageFolder split (``<class>/<image>``), classes sorted."""
    try:
        classes, class_to_idx = find_classes(folder)
        samples = make_dataset(folder, class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=True)
    except (FileNotFoundError, OSError) as e:
        raise DataError(f"{str(folder)!r}: {e}") from None
    if not samples:
        raise DataError(f"{str(folder)!r} holds no image files ({', '.join(IMG_EXTENSIONS)})")
    labels = torch.tensor([c for _, c in samples], dtype=torch.int64)
    return ImageSet(classes, labels, files=[p for p, _ in samples])


def digest(images: ImageSet, root: Path) -> str:
    """What identifies a split's images: a SHA-256 of its class names, labels and files
    (relative to ``root``, so a data set moved elsewhere keeps it) or pixels (CIFAR). Two
    listings with one digest hold the same images in the same order, so :func:`holdout`
    splits them alike."""
    h = hashlib.sha256("\n".join(images.classes).encode())
    h.update(images.labels.numpy().tobytes())
    if images.files is not None:
        h.update("\n".join(str(Path(f).relative_to(root)) for f in images.files).encode())
    else:
        h.update(images.images.numpy().tobytes())
    return h.hexdigest()[:16]


def holdout(n: int, size: int, size_from: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) indices: a fixed random ``size`` of ``n`` images is held out
    (``size_from``: where ``size`` came from, for the error when it is too large).

    The split never depends on the run's seed, so every run validates on the same images (the
    ResNet paper's 45k/5k split of the CIFAR-10 training set, Sec. 4.2).
    """
    if not 0 <= size < n:
        came = f" ({size_from})" if size_from else ""
        raise DataError(f"cannot hold out {size} validation images{came} from {n} training images")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return perm[size:].sort().values, perm[:size].sort().values


def limit(images: ImageSet, n: int) -> ImageSet:
    """A fixed random subset of ``n`` images (all of them when ``n`` is 0 or larger)."""
    if not 0 < n < len(images):
        return images
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))
    return images.subset(perm[:n].sort().values)
