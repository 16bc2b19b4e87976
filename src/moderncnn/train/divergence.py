"""Divergence: what counts as a run gone to NaN or inf, and the error that says where its last
good checkpoint is and what to change."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from moderncnn.errors import DivergedError
from moderncnn.train import distributed
from moderncnn.train.config import TrainConfig
from moderncnn.train.evaluate import EvalResult


def non_finite(model: nn.Module) -> list[str]:
    """Names of ``model``'s weights and buffers (BatchNorm statistics) holding NaN or inf."""
    state = model.state_dict()
    names = [k for k, t in state.items() if t.is_floating_point()]
    if not names:
        return []
    finite = torch.stack([torch.isfinite(state[k]).all() for k in names]).tolist()  # one sync
    return [k for k, ok in zip(names, finite, strict=True) if not ok]


def not_finite(model: nn.Module, val: EvalResult | None, device: torch.device) -> str | None:
    """Divergence the training loss misses (BatchNorm normalises with batch statistics in
    training): weights or running statistics that hold NaN or inf, and the validation
    metrics they give; what is not finite, or None. Every process takes the same decision."""
    bad = non_finite(model)
    if distributed.all_reduce(torch.tensor(len(bad), device=device)).item():
        stats = bad and all(k.endswith(("running_mean", "running_var")) for k in bad)
        kind = "BatchNorm statistics" if stats else "weights or BatchNorm statistics"
        names = ", ".join(bad[:3]) + (f", ... ({len(bad)} in all)" if len(bad) > 3 else "")
        return f"{kind} ({names or 'on another rank'}) hold NaN or inf"
    for name, value in (val.to_dict() if val else {}).items():
        if not math.isfinite(value):
            return f"validation {name} is {value}"
    return None


def diverged(
    what: float | str, cfg: TrainConfig, epoch: int, step: int, last_checkpoint: Path | None
) -> DivergedError:
    """The error for a run that diverged in ``epoch`` (0-based) near ``step``; ``what``: the
    training loss, or what else is not finite."""
    problem = f"loss is {what}" if isinstance(what, float) else what
    where = last_checkpoint or "none (no epoch finished)"
    hint = "; or try --amp none" if cfg.amp != "none" else ""
    return DivergedError(
        f"{problem} in epoch {epoch + 1} near step {step}: training diverged. "
        f"Last good checkpoint: {where}. Lower --lr (now {cfg.lr}){hint}"
    )
