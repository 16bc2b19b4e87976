"""What a model needs of its input, and the evaluation transform that gives it (timm's
``resolve_data_config`` and ``create_transform`` for evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.transforms import functional as F

from moderncnn.errors import ModernCNNError
from moderncnn.models.base import ConvNet
from moderncnn.models.pretrained import (
    DataConfig,
    PretrainedCfg,
    default_cfg,
    file_cfg,
    torchvision_cfg,
)
from moderncnn.models.registry import list_models
from moderncnn.models.weights import read_metadata


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
            return default_cfg(source.model_name, source.in_chans).data
        return DataConfig.default((source.in_chans, 224, 224))
    if type(source).__name__.endswith("_Weights"):
        return torchvision_cfg(source).data
    if isinstance(source, str | Path):
        text = str(source)
        if text in list_models():
            return default_cfg(text).data
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


def eval_transform(source: Any, ten_crop: bool = False) -> EvalTransform:
    """The evaluation transform of ``source`` (see :func:`resolve_data_config`): an
    :class:`EvalTransform`, which takes PIL images and uint8 (C, H, W) tensors as torchvision's
    ``weights.transforms()`` does and gives the same tensor."""
    return EvalTransform(resolve_data_config(source), ten_crop)


class EvalTransform(nn.Module):
    """torchvision's ``ImageClassification`` preset (what ``weights.transforms()`` returns)
    for a :class:`DataConfig`, step for step, on a PIL image or a uint8 (C, H, W) tensor: the
    shorter side resized to ``resize`` (``interpolation``, antialiased; Pillow resizes a PIL
    image), the centre ``crop`` taken (or, with ``ten_crop``, the AlexNet paper's ten crops,
    Sec. 4.1, stacked into (10, C, crop, crop)), a PIL image made a tensor, the values scaled
    to [0, 1] and normalised. For a one-channel config (``in_chans=1``) colour images are
    converted to grey (ITU-R 601-2 luma) first."""

    def __init__(self, cfg: DataConfig, ten_crop: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.ten_crop = ten_crop

    def forward(self, img: Any) -> torch.Tensor:
        cfg = self.cfg
        if cfg.input_size[0] == 1 and F.get_image_num_channels(img) == 3:
            img = F.rgb_to_grayscale(img)
        mode = F.InterpolationMode(cfg.interpolation)
        img = F.resize(img, [cfg.resize], interpolation=mode, antialias=True)
        if self.ten_crop:
            img = torch.stack([_tensor(c) for c in F.ten_crop(img, [cfg.crop, cfg.crop])])
        else:
            img = _tensor(F.center_crop(img, [cfg.crop]))
        img = F.convert_image_dtype(img, torch.float)
        return F.normalize(img, mean=list(cfg.mean), std=list(cfg.std))

    def extra_repr(self) -> str:
        c = self.cfg
        crops = "ten crops" if self.ten_crop else "centre crop"
        return (
            f"resize={c.resize}, {crops} {c.crop}, interpolation={c.interpolation}, "
            f"mean={c.mean}, std={c.std}"
        )


def _tensor(img: Any) -> torch.Tensor:
    return img if isinstance(img, torch.Tensor) else F.pil_to_tensor(img)
