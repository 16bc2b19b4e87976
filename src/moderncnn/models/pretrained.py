"""Published weights, through torchvision's weights API, and what a model needs of its input.

Every variant torchvision also ships has torchvision's published ImageNet weights:
``create_model("resnet50", weights="IMAGENET1K_V2")`` (or ``"DEFAULT"``,
``"ResNet50_Weights.IMAGENET1K_V1"``, a ``WeightsEnum`` member, or ``pretrained=True``). They
are resolved through torchvision's weight enums (URL, SHA-256 prefix, transforms, categories,
published accuracy: nothing is copied here), downloaded only when asked, with torch.hub's
downloader, into torch.hub's cache (``$TORCH_HOME/hub/checkpoints``), and hash-checked as
torchvision does. A file already in the cache is used as it is.

Every model built by ``create_model`` carries a :class:`PretrainedCfg` (timm's
``pretrained_cfg``): the weights' name, their class names and the :class:`DataConfig` its
inputs need (size, resize, crop, interpolation, mean and std). Freshly initialised weights
get the model's default: its registered input size and the statistics of the data set it was
designed for (ImageNet's, or CIFAR-10's for the CIFAR networks), as timm's default configs.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch

from moderncnn.errors import CheckpointError
from moderncnn.models.registry import list_models, model_info
from moderncnn.models.weights import read_metadata, weights_path

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Per-channel mean and standard deviation of CIFAR-10's 50,000 training images (the original
#: release), the usual normalisation of networks designed for CIFAR.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
#: The registry's ``dataset`` -> (mean, std) of the data a network is designed for.
DATASET_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "cifar10": (CIFAR10_MEAN, CIFAR10_STD),
}
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
    def default(cls, input_size: tuple[int, int, int], dataset: str = "imagenet") -> DataConfig:
        """ImageNet's convention for a network's input size: shorter side 256 for 224 crops;
        small (CIFAR) inputs are resized to the crop itself. Mean and std are those of
        ``dataset`` (:data:`DATASET_STATS`), adapted to ``input_size``'s channels
        (:meth:`for_channels`)."""
        crop = input_size[-1]
        resize = crop if crop <= 64 else round(crop * 256 / 224)
        mean, std = DATASET_STATS.get(dataset, (IMAGENET_MEAN, IMAGENET_STD))
        cfg = cls((3, input_size[1], crop), resize, crop, "bilinear", mean, std)
        return cfg.for_channels(input_size[0])

    @property
    def crop_pct(self) -> float:
        """timm's ``crop_pct``: the crop over the resized shorter side (224 / 256 = 0.875)."""
        return self.crop / self.resize

    def for_channels(self, in_chans: int) -> DataConfig:
        """This config for inputs of ``in_chans`` channels, as weights adapted to them expect
        (:func:`moderncnn.models.weights.adapt_input_conv`): one channel takes the mean of the
        three channels' statistics (grey images); more or other channel counts cycle
        through them (R, G, B, R...)."""
        if in_chans == len(self.mean) == self.input_size[0]:
            return self
        if in_chans == 1:
            mean = (sum(self.mean) / len(self.mean),)
            std = (sum(self.std) / len(self.std),)
        else:
            mean = tuple(self.mean[i % len(self.mean)] for i in range(in_chans))
            std = tuple(self.std[i % len(self.std)] for i in range(in_chans))
        size = (in_chans, *self.input_size[1:])
        return DataConfig(size, self.resize, self.crop, self.interpolation, mean, std)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PretrainedCfg:
    """What a model's weights came with: their name (or file; "" for freshly initialised
    weights), class names, input data config, and for published weights their URL and
    published metrics (e.g. ``{"acc@1": 80.858}``). ``num_classes`` is the number of classes
    the weights' classifier was trained for (the model's own for fresh weights),
    ``classifier`` and ``first_conv`` the module paths of the main classifier and of the
    convolution that reads the input (timm's keys; ``create_model`` fills them in).

    ``cfg["mean"]``, ``cfg.get("input_size")`` and :meth:`to_dict` give timm's flat keys."""

    weights: str
    data: DataConfig
    classes: list[str] | None = None
    url: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    num_classes: int | None = None
    classifier: str = ""
    first_conv: str = ""

    def to_dict(self) -> dict[str, Any]:
        """timm's ``pretrained_cfg`` keys (input_size, interpolation, crop_pct, crop_mode,
        mean, std, num_classes, classifier, first_conv), then this project's (weights,
        resize, crop, classes, url, metrics)."""
        d = self.data
        return {
            "input_size": d.input_size,
            "interpolation": d.interpolation,
            "crop_pct": d.crop_pct,
            "crop_mode": "center",
            "mean": d.mean,
            "std": d.std,
            "num_classes": self.num_classes,
            "classifier": self.classifier,
            "first_conv": self.first_conv,
            "weights": self.weights,
            "resize": d.resize,
            "crop": d.crop,
            "classes": self.classes,
            "url": self.url,
            "metrics": dict(self.metrics),
        }

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


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


def weights_options(name: str, in_chans: int = 3) -> dict[str, Any]:
    """Options torchvision's builder sets with published weights (user options win).
    GoogLeNet's ``transform_input`` rescales RGB channels, so it is left out for ``in_chans``
    other than 3 (the first conv's weights are adapted instead:
    :func:`moderncnn.models.weights.adapt_input_conv`)."""
    if in_chans != 3:
        return {}
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
    categories = weights.meta.get("categories")
    return PretrainedCfg(
        f"{type(weights).__name__}.{weights.name}",
        data,
        list(categories) if categories else None,
        weights.url,
        {k: v for k, v in metrics.items() if v == v},  # NaN: not measured (feature weights)
        len(categories) if categories else None,
    )


def published_file(name: str, path: str | Path) -> WeightsEnum | None:
    """The published weights of model ``name`` whose file ``path`` is, told by its file name
    (torchvision's, with its SHA-256 prefix: ``resnet50-0676ba61.pth``), or None."""
    enum = weights_enum(name)
    filename = Path(path).name
    return next((w for w in enum or () if os.path.basename(urlparse(w.url).path) == filename), None)


def default_cfg(name: str, in_chans: int | None = None) -> PretrainedCfg:
    """The :class:`PretrainedCfg` of registered model ``name`` with freshly initialised weights:
    its input size and the statistics of the data set it was designed for (timm's default
    config), for ``in_chans`` input channels (default: the registered ones)."""
    info = model_info(name)
    size = info.input_size if in_chans is None else (in_chans, *info.input_size[1:])
    return PretrainedCfg("", DataConfig.default(size, info.dataset), num_classes=info.num_classes)


def file_cfg(name: str, path: str | Path, metadata: dict[str, Any]) -> PretrainedCfg:
    """The :class:`PretrainedCfg` of a weights file: a moderncnn ``.safetensors`` file carries
    the class names and normalisation of the data it was trained on; a torchvision file under
    its published name (``resnet50-0676ba61.pth``) has its published config; other files carry
    none, and the model's default data config applies."""
    if not metadata and (published := published_file(name, path)) is not None:
        return dataclasses.replace(torchvision_cfg(published), weights=str(path))
    info = model_info(name)
    data = DataConfig.default(info.input_size, info.dataset)
    if "mean" in metadata and "std" in metadata:
        data = DataConfig(
            data.input_size, data.resize, data.crop, data.interpolation,
            tuple(metadata["mean"]), tuple(metadata["std"]),
        )  # fmt: skip
    classes = metadata.get("classes")
    saved = metadata.get("num_classes")
    num_classes = saved if isinstance(saved, int) else len(classes) if classes else None
    return PretrainedCfg(str(path), data, list(classes) if classes else None,
                         num_classes=num_classes)  # fmt: skip


def weights_cfg(name: str, weights: str | Path | WeightsEnum) -> PretrainedCfg:
    """The :class:`PretrainedCfg` of ``weights`` for model ``name`` without loading them:
    published weights from torchvision's enum, a file from its metadata (header only)."""
    if is_weights_name(weights):
        return torchvision_cfg(resolve_weights(name, weights))  # type: ignore[arg-type]
    return file_cfg(name, weights, read_metadata(weights_path(weights)))  # type: ignore[arg-type]
