"""Data sets, caching, per-paper augmentation and loaders for training and evaluation.

A data set's way in: :mod:`~moderncnn.data.sources` finds its layout and lists it,
:mod:`~moderncnn.data.cache` decodes small images once, :mod:`~moderncnn.data.splits` makes
the train / validation / test splits and chooses their normalisation (measured by
:mod:`~moderncnn.data.stats`), and :mod:`~moderncnn.data.loaders` batches them: small images
on the device (:mod:`~moderncnn.data.tensor_loader`), large ones from their files
(:mod:`~moderncnn.data.folder_loader`), with the training augmentation of
:mod:`~moderncnn.data.augment` or the evaluation transform of
:mod:`~moderncnn.data.transforms`.
"""

from moderncnn.data.folder_loader import FolderLoader
from moderncnn.data.loaders import LoaderOptions, make_loader
from moderncnn.data.sources import DataSource, ImageSet, find_dataset
from moderncnn.data.splits import Splits, load_splits
from moderncnn.data.tensor_loader import TensorLoader
from moderncnn.data.transforms import eval_transform, resolve_data_config

__all__ = [
    "DataSource",
    "FolderLoader",
    "ImageSet",
    "LoaderOptions",
    "Splits",
    "TensorLoader",
    "eval_transform",
    "find_dataset",
    "load_splits",
    "make_loader",
    "resolve_data_config",
]
