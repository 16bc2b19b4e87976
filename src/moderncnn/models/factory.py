"""Building a registered network: :func:`create_model`, timm's one constructor for all."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from moderncnn.errors import ConfigError, ModernCNNError
from moderncnn.models import pretrained as published
from moderncnn.models.base import ConvNet, Indices
from moderncnn.models.features import FeatureListNet
from moderncnn.models.registry import get_builder, model_info
from moderncnn.models.weights import load_state, read_metadata, read_weights

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

log = logging.getLogger("moderncnn")


@overload
def create_model(name: str, *, features_only: Literal[False] = False, **kw: Any) -> ConvNet: ...
@overload
def create_model(name: str, *, features_only: Literal[True], **kw: Any) -> FeatureListNet: ...
def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_chans: int = 3,
    weights: str | Path | WeightsEnum | None = None,
    pretrained: bool = False,
    new_head: bool = True,
    progress: bool = True,
    features_only: bool = False,
    out_indices: Indices = None,
    **options: Any,
) -> ConvNet | FeatureListNet:
    """Build a registered network, optionally loading weights.

    Args:
        name: a name from :func:`~moderncnn.models.registry.list_models`.
        num_classes: classifier outputs; ``None`` takes the weights' number of classes when
            ``weights`` are given, else the model's default (1000 for the ImageNet networks,
            10 for the CIFAR ones). ``0``: no classifier (timm's), so that ``forward`` returns
            the pooled pre-logits features, (N, ``head_hidden_size``); with ``weights``, every
            tensor but the classifier's loads.
        in_chans: input channels. Weights for another number (3-channel ImageNet weights for
            grey images) load with their first convolution adapted, as timm's
            (:func:`moderncnn.models.weights.adapt_input_conv`).
        weights: published weights (``"IMAGENET1K_V1"``, ``"DEFAULT"``,
            ``"ResNet50_Weights.IMAGENET1K_V2"`` or the enum member: downloaded into torch.hub's
            cache when not there, see :mod:`moderncnn.models.pretrained`), or a file: a
            torchvision ``.pth`` state_dict or a moderncnn ``.safetensors`` checkpoint (see
            :func:`moderncnn.models.weights.load_weights`).
        pretrained: the default published weights (``weights="DEFAULT"``), as in timm.
        new_head: when ``weights`` has a classifier for another number of classes than
            ``num_classes``, keep the new one this model was built with (fine-tuning, the
            default); ``False`` makes it an error (evaluation).
        progress: show the download's progress bar.
        features_only: return a :class:`~moderncnn.models.features.FeatureListNet` (timm's):
            the feature maps of the stages ``out_indices`` names, without the classifiers
            (weights load into the whole network first, then the classifiers are dropped).
        out_indices: the stages (``feature_info``) to return: all (None), the last n (an
            int) or a sequence of indices, negative ones from the end.
        **options: the model's options (``model_info(name).options``: ``drop_rate``,
            ``shortcut``, ``memory_efficient``...); a moderncnn ``weights`` file's own (its
            ``model_kwargs``) unless given.
    """
    builder, info = get_builder(name)
    if out_indices is not None and not features_only:
        raise ModernCNNError(f"{name}: out_indices needs features_only=True")
    if pretrained:
        if weights is not None:
            raise ModernCNNError(f"{name}: give weights= or pretrained=True, not both")
        weights = "DEFAULT"
    tv_weights = None
    if weights is not None and published.is_weights_name(weights):
        tv_weights = published.resolve_weights(name, weights)  # type: ignore[arg-type]
        options = {**published.weights_options(name, in_chans), **options}
    elif weights is not None:  # a moderncnn file says which options built its network
        options = {**saved_options(weights), **options}
    given_classes = num_classes is not None and num_classes != 0
    if num_classes is None:
        num_classes = info.num_classes
    if num_classes < 0 or in_chans < 1:
        raise ModernCNNError(
            f"{name}: num_classes must be 0 (no classifier) or more and in_chans positive, "
            f"got {num_classes}, {in_chans}"
        )
    head = num_classes  # 0: built with the default classifier, removed after loading
    num_classes = num_classes or info.num_classes
    check_options(name, options)
    try:
        model = builder(num_classes=num_classes, in_chans=in_chans, **options)
    except (TypeError, ValueError) as e:  # a bad option value: say which model and why
        raise ModernCNNError(f"{name}: {e}") from None
    model.model_name = name
    model.model_kwargs = options
    model.min_input_size = info.min_input_size
    if features_only:
        out_indices = model.feature_indices(out_indices)  # checked before any download
    cfg = dataclasses.replace(published.default_cfg(name), num_classes=model.num_classes)
    if weights is not None:
        cfg = _load_weights(model, weights, tv_weights, given_classes, new_head, progress)
    trained_classes = cfg.num_classes if cfg.num_classes is not None else model.num_classes
    if head == 0:
        model.reset_classifier(0)
    model.pretrained_cfg = dataclasses.replace(
        cfg,
        data=cfg.data.for_channels(in_chans),
        num_classes=trained_classes,
        classifier=next(iter(model.classifier_widths), ""),
        first_conv=model.first_conv,
    )
    if not features_only:
        return model
    features = FeatureListNet(model, out_indices)
    features.pretrained_cfg = model.pretrained_cfg
    return features


def check_options(name: str, options: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` unless every one of ``options`` is an option of model
    ``name`` with a value of its default's type (an int will do for a float): the one check
    of model options, made where they enter (here, and by training before it reads data)."""
    declared = model_info(name).options
    allowed = ", ".join(f"{k}={v!r}" for k, v in declared.items()) or "none"
    unknown = sorted(set(options) - set(declared))
    if unknown == ["drop_rate"]:  # timm's name for dropout, which not every network has
        raise ConfigError(
            f"{name} takes no drop_rate option (no dropout to set); options: {allowed}"
        )
    if unknown:
        raise ConfigError(f"{name} has no option {', '.join(unknown)}; options: {allowed}")
    for key, value in options.items():
        default = declared[key]
        kind = (int, float) if type(default) is float else type(default)
        if not isinstance(value, kind) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(
                f"{name}'s option {key} takes a {type(default).__name__} "
                f"(default {default!r}), got {value!r}"
            )


def saved_options(weights: str | Path) -> dict[str, Any]:
    """The options that built a moderncnn weights file's network (``model_kwargs`` in its
    metadata; training writes them), {} for other files."""
    saved = read_metadata(weights).get("model_kwargs")
    return dict(saved) if isinstance(saved, dict) else {}


def _load_weights(
    model: ConvNet,
    weights: str | Path | WeightsEnum,
    tv_weights: WeightsEnum | None,
    given_classes: bool,
    new_head: bool,
    progress: bool,
) -> published.PretrainedCfg:
    """Load ``weights`` into ``model`` (see :func:`create_model`) and return their config.
    The file is read once; without ``given_classes`` the model takes the number of classes of
    the file's main classifier, as timm does."""
    path = published.weights_file(model.model_name, tv_weights or weights, progress)
    state, meta = read_weights(path)
    if not given_classes:
        key = f"{next(iter(model.classifier_widths))}.weight"
        found = state.get(key, state.get(f"module.{key}"))
        if found is not None and found.shape[0] != model.num_classes:
            model.reset_classifier(found.shape[0])
    load_state(model, state, meta, path, new_head=new_head)
    if tv_weights is not None and not tv_weights.meta.get("categories"):
        log.warning(
            "%s: %s are feature-extraction weights; the classifier is not usable (torchvision: "
            "they are missing values there), fine-tune a new one",
            model.model_name,
            tv_weights,
        )
    return published.weights_cfg(model.model_name, tv_weights or path)
