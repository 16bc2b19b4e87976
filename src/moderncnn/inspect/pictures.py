"""What the pictures of :mod:`moderncnn.inspect` share: the label that says which weights made
them (and says so on the picture when they are random), and writing a figure as a small PNG."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
from PIL import Image
from torch import nn

from moderncnn.inspect.filters import load_for_filters
from moderncnn.models import create_model
from moderncnn.models.base import ConvNet

#: The label of a network whose weights were never trained.
RANDOM_WEIGHTS = "random weights (fresh initialisation, not trained)"


def weights_label(model: nn.Module) -> str:
    """The weights ``model`` holds: their name or file (``pretrained_cfg.weights``, set when
    ``create_model`` loads them; "" for a fresh network), else :data:`RANDOM_WEIGHTS`."""
    cfg = getattr(model, "pretrained_cfg", None)
    return str(cfg.weights) if cfg is not None and cfg.weights else RANDOM_WEIGHTS


def is_random(model: nn.Module) -> bool:
    return weights_label(model) == RANDOM_WEIGHTS


def png_bytes(fig: Figure, dpi: int = 80) -> bytes:
    """``fig`` as a 256-colour PNG (a low dpi and a palette keep the files in tens of
    kilobytes; no dithering: it would cost more bytes than it shows)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    image = Image.open(buffer).convert("RGB")
    image = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def save_png(fig: Figure, output: str | Path, dpi: int = 80) -> Path:
    """Write ``fig`` to ``output`` (its folder made when missing)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(png_bytes(fig, dpi))
    return output


def load_network(model: str, weights: str | Path | None = None, seed: int = 0) -> ConvNet:
    """Registered network ``model`` with ``weights``: a run directory, a weights file or
    published weights' name (see :func:`moderncnn.inspect.filters.load_for_filters`); when
    None, fresh random weights drawn from ``seed`` (the global generator is left as it was),
    so that a picture of an untrained network can be made again."""
    if weights is not None:
        return load_for_filters(weights, model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return create_model(model)
