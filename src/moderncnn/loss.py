"""The training loss of every network, auxiliary classifiers included."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def compute_loss(
    out: torch.Tensor | tuple, target: torch.Tensor, aux_weight: float, label_smoothing: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, main logits): cross-entropy of the main logits plus ``aux_weight`` times that of
    each auxiliary output (GoogLeNet's 0.3, Szegedy et al. Sec. 5); any tuple or namedtuple
    output counts as (main, *aux), with ``None`` entries ignored."""
    logits, *aux = out if isinstance(out, tuple) else (out,)
    loss = F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing)
    for a in aux:
        if a is not None:
            loss = loss + aux_weight * F.cross_entropy(
                a.float(), target, label_smoothing=label_smoothing
            )
    return loss, logits
