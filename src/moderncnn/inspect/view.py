"""An explorer page of a network: one self-contained HTML file (scripts and images inlined,
no server, no network) that shows

* the network as its paper draws it: stages and blocks (an inception block's branches, a
  residual block's shortcut, a dense block's concatenations, a transition), each with
  output shape, parameters, MACs and receptive field, from :func:`~moderncnn.inspect.summarize`
  of the real modules, expandable to layers;
* the theoretical receptive field through the depth beside the effective one of each
  feature stage (:func:`~moderncnn.inspect.erf.effective_receptive_field`);
* per image: the top-5 classes, the strongest channels of each stage's feature map and a
  class-activation map (:mod:`moderncnn.inspect.cam`);
* the facts: paper, year, reported error, parameters, MACs, and the lecture's arithmetic
  (:mod:`moderncnn.inspect.explain`) where it applies.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from PIL import Image
from torch import nn
from torchvision.utils import make_grid

from moderncnn import __version__
from moderncnn.errors import ModernCNNError
from moderncnn.inspect import explain
from moderncnn.inspect.cam import explain_images, prepare_images
from moderncnn.inspect.erf import (
    EffectiveField,
    effective_receptive_field,
    effective_receptive_fields,
)
from moderncnn.inspect.pictures import is_random, weights_label
from moderncnn.inspect.summary import Layer, summarize
from moderncnn.io import to_json
from moderncnn.models.base import ConvNet
from moderncnn.models.registry import model_info
from moderncnn.predict import class_names

#: Block kinds the page draws in their paper's shape, by module type.
KINDS = {
    "Inception": "inception",
    "InceptionAux": "auxiliary",
    "BasicBlock": "residual",
    "Bottleneck": "residual",
    "PreActBasicBlock": "residual",
    "PreActBottleneck": "residual",
    "DenseBlock": "dense",
    "DenseLayer": "dense-layer",
    "Transition": "transition",
}
#: Channels of each stage's map shown per image (the strongest by mean activation).
CHANNELS = 8
#: Random inputs the effective field of each stage averages over.
ERF_SAMPLES = 8


def png_uri(pixels: np.ndarray) -> str:
    """An (H, W) array in [0, 1] (coloured with matplotlib's viridis) or an (H, W, 3) uint8
    image, as a PNG ``data:`` URI."""
    if pixels.ndim == 2:
        pixels = (colormaps["viridis"](pixels)[..., :3] * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _upscale(maps: torch.Tensor, pixels: int) -> torch.Tensor:
    """(N, 1, h, w) maps scaled up by a whole factor to at least ``pixels`` a side (nearest)."""
    factor = max(1, math.ceil(pixels / max(maps.shape[-2:])))
    return F.interpolate(maps, scale_factor=factor, mode="nearest")


def channel_grid(fmap: torch.Tensor, channels: int = CHANNELS) -> tuple[np.ndarray, list[int]]:
    """The ``channels`` strongest channels (largest mean activation) of a (C, H, W) map, each
    min-max normalised, in one row; and their indices."""
    strongest = fmap.float().mean((1, 2)).topk(min(channels, fmap.shape[0])).indices
    maps = fmap[strongest].float()[:, None]
    lo = maps.amin((2, 3), keepdim=True)
    hi = maps.amax((2, 3), keepdim=True)
    maps = _upscale((maps - lo) / (hi - lo).clamp_min(1e-12), 48)
    grid = make_grid(maps, nrow=len(strongest), padding=2, pad_value=1.0)[0]
    return grid.numpy(), strongest.tolist()


def _kind(module: nn.Module) -> str:
    kind = KINDS.get(type(module).__name__, "")
    if kind == "residual" and getattr(module, "residual", True) is False:
        return "plain"  # the plain networks' block: no shortcut (ResNet Sec. 4.1)
    return kind


def _shortcut(module: nn.Module) -> str:
    """What a residual block adds to its output: the identity or a projection."""
    down = getattr(module, "downsample", None) or getattr(module, "shortcut", None)
    if down is None:
        return "identity"
    return type(down).__name__ if next(down.parameters(), None) is None else "projection"


def network_tree(model: ConvNet, layers: list[Layer]) -> list[dict[str, Any]]:
    """The summary's rows nested by module path, each with its block kind."""
    modules = dict(model.named_modules())
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for layer in layers:
        module = modules[layer.name]
        node = {**layer.to_dict(), "short": layer.name.rsplit(".", 1)[-1], "children": []}
        node["kind"] = _kind(module)
        if node["kind"] == "residual":
            node["shortcut"] = _shortcut(module)
        parent = layer.name.rsplit(".", 1)[0] if "." in layer.name else ""
        (nodes[parent]["children"] if parent in nodes else roots).append(node)
        nodes[layer.name] = node
    return roots


def field_growth(layers: list[Layer]) -> list[dict[str, Any]]:
    """Theoretical receptive field after each convolution and pooling, with its position
    (``order``) among the modules."""
    return [
        {"name": row.name, "type": row.type, "field": row.field.size, "order": i}
        for i, row in enumerate(layers)
        if row.field is not None and row.type in ("Conv2d", "MaxPool2d", "AvgPool2d")
    ]


def arithmetic(model: ConvNet) -> list[dict[str, Any]]:
    """The lecture's worked examples that apply to ``model``: stacked 3x3 convolutions where
    they replace larger kernels (VGG, ResNet), 1x1 reductions where a 1x1 conv narrows the
    channels (GoogLeNet, bottlenecks, DenseNet-BC), and GoogLeNet without its reductions."""
    family = _family(model)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    examples = []
    if family in ("vgg", "resnet") and any(c.kernel_size == (3, 3) for c in convs):
        examples.append(explain.stacked_3x3())
    if any(c.kernel_size == (1, 1) and c.out_channels < c.in_channels for c in convs):
        examples.append(explain.reduction_1x1())
    if family == "googlenet":
        examples.append(explain.googlenet_reductions())
    return [e.to_dict() for e in examples]


def _family(model: ConvNet) -> str:
    return model_info(model.model_name).family if model.model_name else ""


def facts(model: ConvNet, params: int, macs: int, field: Any) -> dict[str, Any]:
    """Paper, year, reported error and the measured totals."""
    out: dict[str, Any] = {"model": model.model_name or type(model).__name__}
    if model.model_name:
        info = model_info(model.model_name)
        out |= {
            "family": info.family,
            "paper": info.paper,
            "year": info.year,
            "depth": info.depth,
            "dataset": info.dataset,
            "reported_error": info.to_dict()["reported_error"],
            "notes": info.notes,
        }
    return out | {"params": params, "macs": macs, "receptive_field": field}


def effective_fields(
    model: ConvNet, size: tuple[int, int, int], samples: int = ERF_SAMPLES
) -> list[dict[str, Any]]:
    """Effective and theoretical receptive field of each feature stage's centre unit; a
    stage whose gradient cannot be measured (a fresh 1000-layer network's activations
    overflow in eval mode) gets the reason instead (``error``)."""
    try:
        fields: list[EffectiveField | str] = list(
            effective_receptive_fields(model, size, samples=samples)
        )
    except ModernCNNError:  # measure the stages one by one to keep those that work
        fields = [
            _stage_or_reason(model, size, stage, samples)
            for stage in range(len(model.feature_info))
        ]
    rows = []
    for stage, erf in enumerate(fields):
        if isinstance(erf, str):
            rows.append(
                {"stage": stage, "module": model.feature_info[stage]["module"], "error": erf}
            )
            continue
        m = erf.map / erf.map.max()
        rows.append(
            erf.to_dict() | {"map": png_uri(_upscale(m[None, None].sqrt(), 128)[0, 0].numpy())}
        )
    return rows


def _stage_or_reason(
    model: ConvNet, size: tuple[int, int, int], stage: int, samples: int
) -> EffectiveField | str:
    try:
        return effective_receptive_field(model, size, stage=stage, samples=samples)
    except ModernCNNError as e:
        return str(e)


def _finite(value: float) -> float | None:
    """``value``, or None (JSON's null) where it is infinite or NaN: a fresh network whose
    activations overflow (preact_resnet1001 in eval mode) has such logits."""
    return value if math.isfinite(value) else None


def image_results(
    model: ConvNet,
    files: Sequence[str | Path],
    size: tuple[int, int, int] | None,
    method: str = "gradcam",
) -> list[dict[str, Any]]:
    """Per image: top-5, each stage's strongest channels and the class-activation map."""
    if not files:
        return []
    batch, _ = prepare_images(model, files, size)
    p = next(model.parameters())
    with torch.no_grad():
        features, maps = model.forward_intermediates(batch.to(p.device, p.dtype))
        probs = model.forward_head(features).float().softmax(1).cpu()
    names = class_names(model)
    top = probs.topk(min(5, len(names)))
    cams = explain_images(model, files, method, input_size=size)
    out = []
    for i, cam in enumerate(cams):
        stages = []
        for info, fmap in zip(model.feature_info, maps, strict=True):
            grid, idx = channel_grid(fmap[i].cpu())
            stages.append(
                {
                    "module": info["module"],
                    "shape": list(fmap.shape[1:]),
                    "channels": idx,
                    "grid": png_uri(grid),
                }
            )
        out.append(
            {
                "name": cam.image_name,
                "top5": [
                    [names[c], _finite(v)]
                    for v, c in zip(top.values[i].tolist(), top.indices[i].tolist(), strict=True)
                ],
                "stages": stages,
                "cam": png_uri(cam.overlay()),
                "image": png_uri((cam.image * 255).astype(np.uint8)),
                "cam_class": cam.class_name,
                "cam_probability": _finite(cam.probability),
                "cam_layer": cam.layer,
                "method": cam.method,
            }
        )
    return out


def page_data(
    model: ConvNet,
    images: Sequence[str | Path] = (),
    input_size: tuple[int, int, int] | None = None,
    erf_samples: int = ERF_SAMPLES,
) -> dict[str, Any]:
    """Everything the page shows, as JSON-able data.

    Args:
        input_size: (C, H, W) the summary and the effective fields are measured at and the
            images are resized and cropped to; the model's default (its weights') when None.
    """
    if not isinstance(model, ConvNet):
        raise ModernCNNError(f"expected a moderncnn network, got {type(model).__name__}")
    model.eval()
    if input_size is None:
        size = tuple(model.pretrained_cfg.data.input_size) if model.pretrained_cfg else None
        size = size or model_info(model.model_name).input_size
    else:
        size = tuple(input_size)
    summary = summarize(model, size, depth=64)  # type: ignore[arg-type]
    total_field = summary.to_dict()["receptive_field"]
    # a module's place in the depth: its last row (a stage ends where its last layer does)
    order = {}
    for i, row in enumerate(summary.layers):
        parts = row.name.split(".")
        for k in range(1, len(parts) + 1):
            order[".".join(parts[:k])] = i
    return {
        "version": __version__,
        "model": summary.model,
        "weights": weights_label(model),
        "random": is_random(model),
        "input": list(size),
        "facts": facts(model, summary.params, summary.macs, total_field),
        "cam_layer": model.cam_layer,
        "tree": network_tree(model, summary.layers),
        "growth": field_growth(summary.layers),
        "erf": [
            row | {"order": order.get(row["module"], len(order))}
            for row in effective_fields(model, size, erf_samples)  # type: ignore[arg-type]
        ],
        "images": image_results(model, images, size if input_size else None),  # type: ignore[arg-type]
        "arithmetic": arithmetic(model),
    }


def render(data: dict[str, Any]) -> str:
    """The page's HTML: the template with ``data`` inlined as JSON."""
    template = package_files("moderncnn.inspect").joinpath("view.html").read_text("utf-8")
    payload = to_json(data, separators=(",", ":")).replace("</", "<\\/")
    return template.replace("/*DATA*/null", payload).replace("{{title}}", data["model"])


def write_view(
    model: ConvNet,
    output: str | Path,
    images: Sequence[str | Path] = (),
    input_size: tuple[int, int, int] | None = None,
    erf_samples: int = ERF_SAMPLES,
) -> Path:
    """Write the explorer page of ``model`` (see :func:`page_data`) to ``output``."""
    output = Path(output)
    html = render(page_data(model, images, input_size, erf_samples))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    return output
