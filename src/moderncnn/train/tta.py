"""Test-time augmentation as the fastest CIFAR-10 trainers use it (Jordan 2024, airbench,
``infer_mirror_translate``): the logits of an image and of its mirror image, averaged; with
'flip-translate' also those of both shifted by one pixel up-left and down-right (reflected
borders), the shifted pairs together weighted as much as the unshifted pair.

Unlike the AlexNet paper's ten crops (:func:`moderncnn.data.augment.ten_crop_params`, softmax
averaged over corner crops of a padded image), the views keep the whole image and logits are
averaged, so it runs on any batch of images of any size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TTA_MODES = ("none", "flip", "flip-translate")


class TestTimeAugmentation(nn.Module):
    """``model``'s mean logits over the views ``mode`` names, one batched forward pass."""

    __test__ = False  # not a pytest class

    def __init__(self, model: nn.Module, mode: str, shift: int = 1) -> None:
        super().__init__()
        if mode not in TTA_MODES[1:]:
            raise ValueError(f"mode must be one of {', '.join(TTA_MODES[1:])}, not {mode!r}")
        self.model, self.mode, self.shift = model, mode, shift

    def _views(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.mode == "flip":
            return [x]
        s, (h, w) = self.shift, x.shape[-2:]
        padded = F.pad(x, (s, s, s, s), mode="reflect")
        return [x, padded[..., :h, :w], padded[..., 2 * s :, 2 * s :]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views = self._views(x)
        views += [v.flip(-1) for v in views]
        logits = self.model(torch.cat(views).contiguous(memory_format=_format(x)))
        per_view = logits.float().view(len(views), len(x), -1)
        if self.mode == "flip":
            return per_view.mean(0)
        # views: x, up-left, down-right, then their mirror images
        plain = per_view[[0, 3]].mean(0)
        shifted = per_view[[1, 2, 4, 5]].mean(0)
        return 0.5 * plain + 0.5 * shifted


def _format(x: torch.Tensor) -> torch.memory_format:
    return (
        torch.channels_last
        if x.is_contiguous(memory_format=torch.channels_last)
        else (torch.contiguous_format)
    )
