"""Multi-scale feature maps for detection and segmentation backbones, as timm's
``features_only``: ``create_model(name, features_only=True, out_indices=(1, 2, 3, 4))``.

A :class:`FeatureListNet` returns the maps of the chosen stages of a network, as declared in
its ``feature_info``, and describes them in a :class:`FeatureInfo` (timm's interface:
``channels()``, ``reduction()``, ``module_name()``). The maps come from
:meth:`~moderncnn.models.base.ConvNet.forward_intermediates`: forward hooks on the stages'
modules during the network's own ``forward_features``, stopped after the last stage wanted.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from moderncnn.models.base import ConvNet, Indices


class FeatureInfo:
    """The stages of a network (``info``: one dict each, ``num_chs``, ``reduction``,
    ``module``) and the ones a feature network returns (``out_indices``), as timm's.

    The accessors take ``idx``: None for the returned stages, an int or a list of ints for
    those stages of the network (whatever ``out_indices`` is)."""

    def __init__(self, info: list[dict[str, Any]], out_indices: tuple[int, ...]) -> None:
        self.info = [dict(stage) for stage in info]
        self.out_indices = out_indices

    def get(self, key: str, idx: int | list[int] | None = None) -> Any:
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if isinstance(idx, int):
            return self.info[idx][key]
        return [self.info[i][key] for i in idx]

    def channels(self, idx: int | list[int] | None = None) -> Any:
        """Channels of each map."""
        return self.get("num_chs", idx)

    def reduction(self, idx: int | list[int] | None = None) -> Any:
        """Input size over map size (the output stride)."""
        return self.get("reduction", idx)

    def module_name(self, idx: int | list[int] | None = None) -> Any:
        """The module whose output the map is."""
        return self.get("module", idx)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        return self.info[idx]

    def __len__(self) -> int:
        return len(self.info)


class FeatureListNet(nn.Module):
    """The feature maps of ``model`` at ``out_indices`` (default: every stage), as a list.

    Takes ``model`` over: its classifiers (``classifier_widths``; VGG's and AlexNet's
    whole FC stack) and training-only auxiliary heads are removed; stages after the last one
    in ``out_indices`` stay but do not run. Its state_dict is the trunk's under ``model.``;
    :func:`~moderncnn.models.factory.create_model` loads weights into the whole network
    first, so a full checkpoint is checked tensor for tensor, and its classifier tensors go
    with the classifier.
    """

    def __init__(self, model: ConvNet, out_indices: Indices = None) -> None:
        super().__init__()
        self.out_indices = tuple(model.feature_indices(out_indices))
        self.feature_info = FeatureInfo(model.feature_info, self.out_indices)
        heads = {path.split(".")[0] for path in model.classifier_widths} | set(model.aux_parts)
        for part in heads:
            setattr(model, part, None)
        model.classifier_widths = {}
        self.model = model

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.model.forward_intermediates(
            x, self.out_indices, stop_early=True, intermediates_only=True
        )  # type: ignore[return-value]
