"""What a model needs of its input, and the evaluation transform that gives it (timm's
``resolve_data_config`` and ``create_transform`` for evaluation)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from moderncnn.checkpoint import read_metadata
from moderncnn.errors import ModernCNNError
from moderncnn.models.base import ConvNet
from moderncnn.models.pretrained import DataConfig, PretrainedCfg, file_cfg, torchvision_cfg
from moderncnn.models.registry import list_models, model_info


def resolve_data_config(source: Any) -> DataConfig:
    """The :class:`DataConfig` of ``source``: a model (its weights' config, else its
    default), a registered model name, published weights (a torchvision ``WeightsEnum`` member
    or its full name, e.g. ``"ResNet50_Weights.IMAGENET1K_V2"``), a moderncnn ``.safetensors``
    file (the normalisation of the data it was trained on), a :class:`PretrainedCfg` or a
    :class:`DataConfig`."""
    if isinstance(source, DataConfig):
        return source
    if isinstance(source, PretrainedCfg):
        return source.data
    if isinstance(source, ConvNet):
        if source.pretrained_cfg is not None:
            return source.pretrained_cfg.data
        if source.model_name:
            return DataConfig.default(model_info(source.model_name).input_size)
        return DataConfig.default((source.in_chans, 224, 224))
    if type(source).__name__.endswith("_Weights"):
        return torchvision_cfg(source).data
    if isinstance(source, str | Path):
        text = str(source)
        if text in list_models():
            return DataConfig.default(model_info(text).input_size)
        if "_Weights." in text:
            from torchvision.models import get_weight

            return torchvision_cfg(get_weight(text)).data
        meta = read_metadata(text)
        if isinstance(meta.get("model"), str) and meta["model"] in list_models():
            return file_cfg(meta["model"], text, meta).data
    raise ModernCNNError(
        f"cannot tell the input config of {source!r}: give a model, a registered model name, "
        "published weights (e.g. 'ResNet50_Weights.IMAGENET1K_V2') or a moderncnn .safetensors"
    )


def eval_transform(source: Any, ten_crop: bool = False) -> v2.Compose:
    """The evaluation transform of ``source`` (see :func:`resolve_data_config`) for uint8
    (C, H, W) images or PIL images: resize the shorter side, centre crop (or the AlexNet
    paper's ten crops, Sec. 4.1, stacked into (10, C, crop, crop)), scale to [0, 1],
    normalise."""
    cfg = resolve_data_config(source)
    resize = v2.Resize(cfg.resize, interpolation=v2.InterpolationMode(cfg.interpolation))
    crop: nn.Module | Any = (
        functools.partial(_ten_crop, size=cfg.crop) if ten_crop else v2.CenterCrop(cfg.crop)
    )
    return v2.Compose(
        [resize, crop, v2.ToDtype(torch.float32, scale=True), v2.Normalize(cfg.mean, cfg.std)]
    )


def _ten_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    return torch.stack(TF.ten_crop(img, [size, size]))
