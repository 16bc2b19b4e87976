"""Data sets, caching, per-paper augmentation and loaders for training and evaluation."""

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
