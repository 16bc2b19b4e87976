"""Building a registered network: :func:`create_model`, timm's one constructor for all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moderncnn.errors import ModernCNNError
from moderncnn.models.base import ConvNet
from moderncnn.models.registry import get_builder


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_chans: int = 3,
    weights: str | Path | None = None,
    new_head: bool = True,
    **options: Any,
) -> ConvNet:
    """Build a registered network, optionally loading weights.

    Args:
        name: a name from :func:`~moderncnn.models.registry.list_models`.
        num_classes: classifier outputs; ``None`` takes the model's default (1000 for the
            ImageNet networks, 10 for the CIFAR ones).
        in_chans: input channels.
        weights: path to a torchvision ``.pth`` state_dict or a moderncnn ``.safetensors``
            checkpoint; see :func:`moderncnn.checkpoint.load_weights`.
        new_head: when ``weights`` has a classifier for another number of classes, keep the
            new one this model was built with (fine-tuning, the default); ``False`` makes it
            an error (evaluation).
        **options: the model's options (``model_info(name).options``: ``drop_rate``,
            ``shortcut``, ``memory_efficient``...).
    """
    builder, info = get_builder(name)
    if num_classes is None:
        num_classes = info.num_classes
    if num_classes < 1 or in_chans < 1:
        raise ModernCNNError(
            f"{name}: num_classes and in_chans must be positive, got {num_classes}, {in_chans}"
        )
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        allowed = ", ".join(f"{k}={v!r}" for k, v in info.options.items()) or "none"
        raise ModernCNNError(f"{name} has no option {', '.join(unknown)}; options: {allowed}")
    try:
        model = builder(num_classes=num_classes, in_chans=in_chans, **options)
    except (TypeError, ValueError) as e:  # a bad option value: say which model and why
        raise ModernCNNError(f"{name}: {e}") from None
    model.model_name = name
    model.min_input_size = info.min_input_size
    if weights is not None:
        from moderncnn.checkpoint import load_weights

        load_weights(model, weights, new_head=new_head)
    return model
