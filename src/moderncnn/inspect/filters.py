"""The learned kernels of a first convolutional layer as an image, as AlexNet's Figure 3 shows
"96 convolutional kernels of size 11x11x3 learned by the first convolutional layer" (Sec. 6.1).

Only a conv that reads the image itself (1 or 3 input channels) has kernels that are images:
each is min-max normalised on its own (as Figure 3 shows them), scaled up with nearest
neighbour so that 3x3 and 5x5 kernels are visible, and tiled in a grid
(``torchvision.utils.make_grid``). The weights come from a run directory (its
``best.safetensors``, the model named in its ``config.toml``), a weights file or published
weights.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from matplotlib.image import imsave  # no pyplot: no GUI backend, no global state
from torch import nn
from torchvision.utils import make_grid

from moderncnn.errors import CheckpointError, ModernCNNError
from moderncnn.models import create_model
from moderncnn.models.base import ConvNet
from moderncnn.models.pretrained import is_weights_name
from moderncnn.models.weights import read_metadata, read_weights
from moderncnn.train.config import load_run_config

#: Kernels are scaled up by a whole factor to at least this many pixels a side.
MIN_PIXELS = 32
#: Pixels between kernels in the grid (white).
PADDING = 2


def image_conv(model: nn.Module, layer: str | None = None) -> tuple[str, nn.Conv2d]:
    """The conv named ``layer`` (a module path, e.g. ``features.conv1``), or the model's first
    ``nn.Conv2d``, with its name. Raises :class:`ModernCNNError` when ``layer`` is not a conv,
    or the conv does not read 1 or 3 input channels (its kernels are not images)."""
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    if not convs:
        raise ModernCNNError(f"{type(model).__name__} has no nn.Conv2d layer")
    if layer is None:
        layer = next(iter(convs))
    elif layer not in convs:
        names = [n for n, m in convs.items() if m.in_channels in (1, 3)]
        kind = "no layer" if layer not in dict(model.named_modules()) else "not a conv:"
        raise ModernCNNError(
            f"{kind} {layer!r}; convs over 1 or 3 channels: {', '.join(names) or 'none'}"
        )
    conv = convs[layer]
    if conv.in_channels not in (1, 3):
        raise ModernCNNError(
            f"{layer} reads {conv.in_channels} channels: only kernels over 1 (grey) or 3 (RGB) "
            "input channels can be drawn as images, as the first conv's"
        )
    return layer, conv


def filter_grid(model: nn.Module, layer: str | None = None) -> torch.Tensor:
    """The kernels of ``layer`` (see :func:`image_conv`) as one (3, H, W) image in [0, 1]:
    each kernel min-max normalised on its own, scaled up (nearest neighbour) by the smallest
    whole factor that makes it :data:`MIN_PIXELS` wide, tiled in a near-square grid with
    :data:`PADDING` white pixels between kernels. Grey kernels are repeated to 3 channels."""
    _, conv = image_conv(model, layer)
    w = conv.weight.detach().float().cpu()
    flat = w.flatten(1)
    lo, hi = flat.min(1).values, flat.max(1).values
    w = (w - lo[:, None, None, None]) / (hi - lo).clamp_min(1e-12)[:, None, None, None]
    scale = math.ceil(MIN_PIXELS / max(w.shape[-2:]))
    w = F.interpolate(w, scale_factor=scale, mode="nearest")
    nrow = math.ceil(math.sqrt(w.shape[0]))
    return make_grid(w, nrow=nrow, padding=PADDING, pad_value=1.0)


def load_for_filters(source: str | Path, model: str | None = None) -> ConvNet:
    """The network whose filters to draw, with its weights: ``source`` is a run directory
    (its ``best.safetensors``, and its ``config.toml``'s model unless ``model`` names one), a
    weights file (``.safetensors``, ``.pth``: ``model`` names the network, which a moderncnn
    ``.safetensors`` file records itself) or published weights (``DEFAULT``,
    ``IMAGENET1K_V1``...) of ``model``."""
    path = Path(source)
    if path.is_dir():
        model = model or load_run_config(path).model
        path = path / "best.safetensors"
        if not path.is_file():
            raise CheckpointError(
                f"run directory {str(source)!r} has no best.safetensors yet (training writes "
                "it after its first validated epoch)"
            )
    if path.is_file():
        meta = read_metadata(path)
        model = model or str(meta.get("model") or "")
        if not model:
            read_weights(path)  # not a weights file at all: says so
            raise ModernCNNError(f"{str(source)!r} does not record its model; name it (--model)")
        return create_model(model, in_chans=int(meta.get("in_chans") or 3), weights=path)
    if model and is_weights_name(str(source)):
        return create_model(model, weights=str(source))
    hint = " (with --model)" if is_weights_name(str(source)) else ""
    raise CheckpointError(
        f"{str(source)!r} is not a run directory, a weights file (.safetensors, .pth) or "
        f"published weights{hint}"
    )


def save_filters(model: nn.Module, output: str | Path, layer: str | None = None) -> Path:
    """Write :func:`filter_grid` of ``model``'s ``layer`` as a PNG file, pixel for pixel."""
    grid = filter_grid(model, layer)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    imsave(output, grid.permute(1, 2, 0).numpy(), format="png")
    return output
