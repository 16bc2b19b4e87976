"""Training checkpoints: ``RUN_DIR/checkpoints/epoch-NNNN/`` holds ``model.safetensors``
(loadable by ``create_model(name, weights=...)``) and ``state.pt`` (optimizer, schedule,
grad scaler, RNG states, epoch, step, best validation error).

A checkpoint is written into a temporary folder, every file fsynced, then renamed into place:
a run killed while saving leaves the previous checkpoint whole.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import torch
from torch import nn

from moderncnn.checkpoint import load_weights, save_weights
from moderncnn.errors import CheckpointError
from moderncnn.io import atomic_write, fsync_dir

_EPOCH_DIR = re.compile(r"^epoch-(\d+)$")


def rng_state() -> dict[str, object]:
    state: dict[str, object] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, object]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    run_dir: Path, epoch: int, model: nn.Module, state: dict, **metadata: object
) -> Path:
    """Write epoch ``epoch``'s checkpoint atomically and remove older ones; return its folder."""
    root = run_dir / "checkpoints"
    final = root / f"epoch-{epoch:04d}"
    tmp = root / f".epoch-{epoch:04d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(model, tmp / "model.safetensors", epoch=epoch, **metadata)
    atomic_write(tmp / "state.pt", lambda path: torch.save(state, path))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fsync_dir(root)
    for old in root.iterdir():
        m = _EPOCH_DIR.match(old.name)
        if m and int(m.group(1)) < epoch:
            shutil.rmtree(old)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder in ``run_dir``, or None."""
    root = run_dir / "checkpoints"
    found = [p for p in root.glob("epoch-*") if _EPOCH_DIR.match(p.name)] if root.is_dir() else []
    return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)


def load_checkpoint(folder: Path, model: nn.Module) -> dict:
    """Load a checkpoint's weights into ``model`` and return its training state."""
    load_weights(model, folder / "model.safetensors", new_head=False)
    try:
        return torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"cannot read {str(folder / 'state.pt')!r}: {e}") from None
