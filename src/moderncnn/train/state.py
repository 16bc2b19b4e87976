"""Training checkpoints: ``RUN_DIR/checkpoints/epoch-NNNN/`` holds ``model.safetensors``
(loadable by ``create_model(name, weights=...)``) and ``state.pt`` (optimizer, schedule,
grad scaler, RNG states, epoch, step, best validation error).

A checkpoint is written into a temporary folder, every file fsynced, then renamed into place:
a run killed while saving leaves the previous checkpoint whole, and the temporaries it left
are removed when the run folder is opened again (:func:`open_run_dir`).
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import torch
from torch import nn

from moderncnn.errors import ConfigError
from moderncnn.io import atomic_write, check_writable, fsync_dir, output_error, write_file
from moderncnn.models.weights import load_weights, save_weights, unreadable

_EPOCH_DIR = re.compile(r"^epoch-(\d+)$")
#: What a run writes into its folder (diverged.txt: the experiment runner's): a folder with
#: any of them holds a run, and --overwrite removes them (and nothing else).
RUN_FILES = (
    "config.toml",
    "metrics.csv",
    "results.json",
    "best.safetensors",
    "checkpoints",
    "tb",
    "diverged.txt",
)


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
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_weights(model, tmp / "model.safetensors", epoch=epoch, **metadata)
        atomic_write(
            tmp / "state.pt", lambda path: write_file(path, lambda f: torch.save(state, f))
        )
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        fsync_dir(root)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        error = output_error(final, e)
        if error is None:
            raise
        raise error from None
    _remove_older(root, epoch)
    return final


def _remove_older(root: Path, epoch: int) -> None:
    """Remove the checkpoints of epochs before ``epoch``."""
    for old in root.iterdir():
        m = _EPOCH_DIR.match(old.name)
        if m and int(m.group(1)) < epoch:
            shutil.rmtree(old)


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
        raise unreadable(folder / "state.pt", e, "the training state") from None


def open_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Make ``run_dir`` ready for a run before its data is read: a folder it can write in,
    holding the run to resume or no run at all (``overwrite`` removes the files of one;
    without it, one there is an error: a new run must not mix with it), and no temporaries
    or superseded checkpoints a killed run left."""
    if resume and overwrite:
        raise ConfigError("give --resume (continue the run) or --overwrite (start over), not both")
    check_writable(run_dir)
    if overwrite:
        for name in RUN_FILES:
            _remove(run_dir / name)
    elif not resume and any((run_dir / name).exists() for name in RUN_FILES):
        raise ConfigError(
            f"{str(run_dir)!r} holds a run already; continue it with --resume {run_dir}, or "
            "start over with --overwrite (which removes its checkpoints, weights and metrics)"
        )
    for folder in (run_dir, run_dir / "checkpoints"):
        for tmp in folder.glob(".*.tmp"):
            _remove(tmp)
    latest = latest_checkpoint(run_dir)
    if latest is not None:  # killed between renaming a checkpoint and removing older ones
        _remove_older(latest.parent, int(latest.name.split("-")[1]))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
