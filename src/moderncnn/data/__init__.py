"""Data sets, caching, per-paper augmentation and loaders for training and evaluation."""

from moderncnn.data.loaders import FolderLoader, Splits, TensorLoader, load_splits, make_loader
from moderncnn.data.sources import DataSource, ImageSet, find_dataset
from moderncnn.data.transforms import eval_transform, resolve_data_config

__all__ = [
    "DataSource",
    "FolderLoader",
    "ImageSet",
    "Splits",
    "TensorLoader",
    "eval_transform",
    "find_dataset",
    "load_splits",
    "make_loader",
    "resolve_data_config",
]
