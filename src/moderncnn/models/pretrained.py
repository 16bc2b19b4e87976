"""Published weights, through torchvision's weights API, and what a model needs of its input.

Every variant torchvision also ships has torchvision's published ImageNet weights:
``create_model("resnet50", weights="IMAGENET1K_V2")`` (or ``"DEFAULT"``,
``"ResNet50_Weights.IMAGENET1K_V1"``, a ``WeightsEnum`` member, or ``pretrained=True``). They
are resolved through torchvision's weight enums (URL, SHA-256 prefix, transforms, categories,
published accuracy: nothing is copied here), downloaded only when asked, with torch.hub's
downloader, into torch.hub's cache (``$TORCH_HOME/hub/checkpoints``), and hash-checked as
torchvision does. A file already in the cache is used as it is.

Whatever the weights came from, the model carries a :class:`PretrainedCfg` (timm's
``pretrained_cfg``): the weights' name, their class names and the :class:`DataConfig` its
inputs need (size, resize, crop, interpolation, mean and std).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch

from moderncnn.errors import CheckpointError
from moderncnn.models.registry import list_models, model_info

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: ``IMAGENET1K_V1``, ``DEFAULT`` or ``ResNet50_Weights.IMAGENET1K_V2``: a published weights
#: name, not a file.
_WEIGHTS_NAME = re.compile(r"^(?:\w+_Weights\.)?(?:DEFAULT|[A-Z][A-Z0-9_]*)$")
#: Options torchvision's builders set when they load published weights: its GoogLeNet files
#: expect inputs rescaled as (x - 0.5) / 0.5 (torchvision.models.googlenet).
_WEIGHTS_OPTIONS: dict[str, dict[str, Any]] = {"googlenet": {"transform_input": True}}


@dataclass(frozen=True)
class DataConfig:
    """How to prepare an image for a model (timm's data config): resize the shorter side to
    ``resize`` with ``interpolation``, take the centre ``crop`` x ``crop``, scale to [0, 1],
    normalise with ``mean`` and ``std``."""

    input_size: tuple[int, int, int]
    resize: int
    crop: int
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    @classmethod
    def default(cls, input_size: tuple[int, int, int]) -> DataConfig:
        """ImageNet's convention for a network's input size: shorter side 256 for 224 crops;
        small (CIFAR) inputs are resized to the crop itself."""
        crop = input_size[-1]
        resize = crop if crop <= 64 else round(crop * 256 / 224)
        return cls(tuple(input_size), resize, crop)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PretrainedCfg:
    """What a model's weights came with: their name (or file), class names, input data config,
    and for published weights their URL and published metrics (e.g. ``{"acc@1": 80.858}``)."""

    weights: str
    data: DataConfig
    classes: list[str] | None = None
    url: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def is_weights_name(weights: object) -> bool:
    """Whether ``weights`` names published weights (or is a torchvision ``WeightsEnum``)
    rather than a file."""
    if isinstance(weights, str):
        return bool(_WEIGHTS_NAME.match(weights)) and not Path(weights).exists()
    return type(weights).__name__.endswith("_Weights")


def weights_enum(name: str) -> type[WeightsEnum] | None:
    """torchvision's weights enum of registered model ``name``, or None when torchvision does
    not ship the variant."""
    tv = model_info(name).torchvision
    if tv is None:
        return None
    from torchvision.models import get_model_weights

    return get_model_weights(tv)


def models_with_weights() -> list[str]:
    """Registered models that have published weights."""
    return [n for n in list_models() if model_info(n).torchvision]


def resolve_weights(name: str, weights: str | WeightsEnum) -> WeightsEnum:
    """The published weights of model ``name`` that ``weights`` names."""
    enum = weights_enum(name)
    if enum is None:
        raise CheckpointError(
            f"{name} has no published weights (torchvision does not ship this variant); "
            f"models with published ImageNet weights: {', '.join(models_with_weights())}"
        )
    available = ", ".join(w.name for w in enum)
    if not isinstance(weights, str):
        if not isinstance(weights, enum):
            raise CheckpointError(f"{weights} are not weights of {name}; its weights: {available}")
        return weights
    owner, _, key = weights.rpartition(".")
    if owner and owner != enum.__name__:
        raise CheckpointError(f"{weights} are not weights of {name} ({enum.__name__}: {available})")
    if key == "DEFAULT":
        return enum.DEFAULT
    try:
        return enum[key]
    except KeyError:
        raise CheckpointError(
            f"{name} has no weights {weights!r}; it has {available} "
            f"(DEFAULT is {enum.DEFAULT.name})"
        ) from None


def weights_options(name: str) -> dict[str, Any]:
    """Options torchvision's builder sets with published weights (user options win)."""
    return dict(_WEIGHTS_OPTIONS.get(model_info(name).torchvision or "", {}))


def cached_path(weights: WeightsEnum) -> Path:
    """Where torch.hub keeps (or will keep) the file of ``weights``."""
    filename = os.path.basename(urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def fetch(weights: WeightsEnum, progress: bool = True) -> Path:
    """The local file of ``weights``: the cached one, else downloaded now with torch.hub's
    downloader, which checks the SHA-256 prefix in the file name as torchvision does."""
    path = cached_path(weights)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(path.name)
    try:
        torch.hub.download_url_to_file(
            weights.url, str(path), match.group(1) if match else None, progress=progress
        )
    except Exception as e:  # URLError, timeouts, HTTP errors, a hash mismatch
        reason = str(getattr(e, "reason", e)).splitlines()[0]
        raise CheckpointError(
            f"cannot download {weights.url} ({reason}). Offline? Fetch that file another way "
            f"and put it at {path}, where it is picked up"
        ) from None
    return path


def weights_file(name: str, weights: str | Path | WeightsEnum, progress: bool = True) -> Path:
    """The local file of ``weights`` for model ``name``: published weights fetched into the
    cache (see :func:`fetch`), a file as it is."""
    if is_weights_name(weights):
        return fetch(resolve_weights(name, weights), progress)  # type: ignore[arg-type]
    return Path(weights)  # type: ignore[arg-type]


def torchvision_cfg(weights: WeightsEnum) -> PretrainedCfg:
    """The :class:`PretrainedCfg` of published weights, read from torchvision's enum."""
    t = weights.transforms()
    crop, resize = t.crop_size[0], t.resize_size[0]
    data = DataConfig(
        (3, crop, crop), resize, crop, t.interpolation.value, tuple(t.mean), tuple(t.std)
    )
    metrics = next(iter(weights.meta.get("_metrics", {}).values()), {})
    return PretrainedCfg(
        f"{type(weights).__name__}.{weights.name}",
        data,
        list(weights.meta["categories"]) if weights.meta.get("categories") else None,
        weights.url,
        {k: v for k, v in metrics.items() if v == v},  # NaN: not measured (feature weights)
    )


def file_cfg(name: str, path: str | Path, metadata: dict[str, Any]) -> PretrainedCfg:
    """The :class:`PretrainedCfg` of a weights file: a moderncnn ``.safetensors`` file carries
    the class names and normalisation of the data it was trained on; other files carry none,
    and the model's default data config applies."""
    data = DataConfig.default(model_info(name).input_size)
    if "mean" in metadata and "std" in metadata:
        data = DataConfig(
            data.input_size, data.resize, data.crop, data.interpolation,
            tuple(metadata["mean"]), tuple(metadata["std"]),
        )  # fmt: skip
    classes = metadata.get("classes")
    return PretrainedCfg(str(path), data, list(classes) if classes else None)


def weights_cfg(name: str, weights: str | Path | WeightsEnum) -> PretrainedCfg:
    """The :class:`PretrainedCfg` of ``weights`` for model ``name`` without loading them:
    published weights from torchvision's enum, a file from its metadata (header only)."""
    if is_weights_name(weights):
        return torchvision_cfg(resolve_weights(name, weights))  # type: ignore[arg-type]
    from moderncnn.checkpoint import read_metadata, weights_path

    return file_cfg(name, weights, read_metadata(weights_path(weights)))  # type: ignore[arg-type]
