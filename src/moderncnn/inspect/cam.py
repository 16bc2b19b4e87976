"""Class-activation maps: where in the image the evidence for a class is, by Grad-CAM
(Selvaraju et al., ICCV 2017) and Grad-CAM++ (Chattopadhyay et al., WACV 2018).

The maps come from pytorch-grad-cam (the ``grad-cam`` package: ``pip install
'moderncnn[viz]'``), the well-kept implementation of these methods; moderncnn adds what its
users ask it for (its issue #153, "what is the meaning of target layers?"): the target layer
of every zoo model, declared beside its feature stages (:attr:`ConvNet.cam_layer
<moderncnn.models.base.ConvNet.cam_layer>`), the image prepared as the model's weights
expect (:func:`moderncnn.data.eval_transform`) and a picture that names what it shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from moderncnn.data.images import read_image
from moderncnn.data.transforms import eval_transform, resolve_data_config
from moderncnn.errors import ModernCNNError
from moderncnn.inspect.pictures import RANDOM_WEIGHTS, is_random, save_png, weights_label
from moderncnn.models.base import ConvNet
from moderncnn.models.pretrained import DataConfig
from moderncnn.predict import class_names

#: Method name -> pytorch-grad-cam's class.
METHODS = {"gradcam": "GradCAM", "gradcam++": "GradCAMPlusPlus"}
#: Shown for each method on the pictures.
METHOD_TITLES = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++"}


def _pytorch_grad_cam() -> Any:
    try:
        import pytorch_grad_cam
    except ImportError:
        raise ModernCNNError(
            "class-activation maps need the grad-cam package: pip install 'moderncnn[viz]'"
        ) from None
    return pytorch_grad_cam


def class_activation_maps(
    model: ConvNet,
    images: torch.Tensor,
    classes: Sequence[int] | None = None,
    method: str = "gradcam",
    layer: str | None = None,
) -> tuple[np.ndarray, torch.Tensor]:
    """Class-activation maps of a prepared (N, C, H, W) batch, one (H, W) map in [0, 1]
    per image, and the model's logits (N, classes).

    Args:
        classes: the class each map explains, one per image; the top-1 class when None.
        method: a key of :data:`METHODS`.
        layer: module path of the target layer; ``model.cam_layer`` when None.
    """
    if method not in METHODS:
        raise ModernCNNError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    cams = _pytorch_grad_cam()
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = layer or model.cam_layer
    modules = dict(model.named_modules())
    if layer not in modules:
        stages = ", ".join(s["module"] for s in model.feature_info)
        raise ModernCNNError(f"{model._name} has no layer {layer!r}; its feature stages: {stages}")
    if classes is not None and len(classes) != len(images):
        raise ModernCNNError(f"{len(images)} images but {len(classes)} classes to explain")
    if classes is not None and any(not 0 <= c < model.num_classes for c in classes):
        raise ModernCNNError(f"classes must be in 0..{model.num_classes - 1}, got {list(classes)}")
    targets = None if classes is None else [ClassifierOutputTarget(int(c)) for c in classes]
    cam = getattr(cams, METHODS[method])(model=model.eval(), target_layers=[modules[layer]])
    try:  # not `with`: its __exit__ prints and swallows an IndexError
        maps = cam(input_tensor=images, targets=targets)
        logits = cam.outputs.detach()
    finally:
        cam.activations_and_grads.release()  # the hooks
    return maps, logits


@dataclass(frozen=True)
class ClassActivation:
    """One image's map: the image as the model saw it (H, W, 3 in [0, 1]), the map (H, W in
    [0, 1]), the class it explains and how it was computed."""

    image_name: str
    image: np.ndarray
    map: np.ndarray
    class_index: int
    class_name: str
    probability: float
    model: str
    weights: str
    method: str
    layer: str

    @property
    def random(self) -> bool:
        return self.weights == RANDOM_WEIGHTS

    def overlay(self) -> np.ndarray:
        """The map in colour over the image, uint8 (H, W, 3) (pytorch-grad-cam's)."""
        from pytorch_grad_cam.utils.image import show_cam_on_image

        return show_cam_on_image(self.image.astype(np.float32), self.map, use_rgb=True)

    def to_dict(self) -> dict[str, Any]:
        names = ("image_name", "class_index", "class_name", "probability", "model", "weights")
        return {k: getattr(self, k) for k in (*names, "method", "layer")}


def image_config(model: ConvNet, input_size: tuple[int, int, int] | None = None) -> DataConfig:
    """The data config images are prepared with: the model's weights' (or its default);
    ``input_size`` replaces the resize and crop (a smaller input, e.g. for tests)."""
    cfg = resolve_data_config(model)
    if input_size is None:
        return cfg
    default = DataConfig.default(input_size)
    return dataclasses.replace(
        cfg, input_size=tuple(input_size), resize=default.resize, crop=default.crop
    )


def prepare_images(
    model: ConvNet, files: Sequence[str | Path], input_size: tuple[int, int, int] | None = None
) -> tuple[torch.Tensor, np.ndarray]:
    """The images at ``files`` as the model's batch (see :func:`image_config`) and as
    pictures (N, H, W, 3 in [0, 1]: the same pixels before normalisation)."""
    cfg = image_config(model, input_size)
    transform = eval_transform(cfg)
    batch = torch.stack([transform(read_image(f, cfg.resize)) for f in files])
    mean, std = torch.tensor(cfg.mean)[:, None, None], torch.tensor(cfg.std)[:, None, None]
    pictures = (batch * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return batch, pictures


def explain_images(
    model: ConvNet,
    files: Sequence[str | Path],
    method: str = "gradcam",
    layer: str | None = None,
    class_index: int | None = None,
    input_size: tuple[int, int, int] | None = None,
) -> list[ClassActivation]:
    """A :class:`ClassActivation` for each image file, explaining ``class_index`` (the
    top-1 class of each image when None)."""
    batch, pictures = prepare_images(model, files, input_size)
    p = next(model.parameters())
    classes = None if class_index is None else [class_index] * len(files)
    maps, logits = class_activation_maps(model, batch.to(p.device, p.dtype), classes, method, layer)
    probs = logits.float().softmax(1).cpu()
    chosen = probs.argmax(1).tolist() if class_index is None else classes
    names = class_names(model)
    return [
        ClassActivation(
            image_name=f"{Path(f).parent.name}/{Path(f).name}",
            image=pictures[i],
            map=maps[i],
            class_index=c,
            class_name=names[c],
            probability=float(probs[i, c]),
            model=model.model_name or type(model).__name__,
            weights=weights_label(model),
            method=method,
            layer=layer or model.cam_layer,
        )
        for i, (f, c) in enumerate(zip(files, chosen, strict=True))
    ]


def plot_activation(result: ClassActivation) -> Figure:
    """The image as the model saw it beside the map over it, titled with the model, the
    weights, the image, the method, the layer and the class (random weights in red)."""
    fig = Figure(figsize=(5.2, 3.2))
    left, right = fig.subplots(1, 2)
    left.imshow(result.image, interpolation="nearest")
    left.set_title(result.image_name, fontsize=7)
    right.imshow(result.overlay(), interpolation="bilinear")
    right.set_title(
        f"{METHOD_TITLES[result.method]} at {result.layer}\n"
        f"class {result.class_name!r} (p={result.probability:.2f})",
        fontsize=7,
    )
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    return _titled(fig, f"{result.model}, {_short(result.weights)}", result.random)


def plot_activation_grid(results: Sequence[ClassActivation], columns: int = 5) -> Figure:
    """Several maps in one figure: each image above its map, titled with its name and the
    class explained; the model, weights, method and layer once above (random weights in
    red). The results must share model, weights, method and layer."""
    first = results[0]
    if any(
        (r.model, r.weights, r.method, r.layer)
        != (first.model, first.weights, first.method, first.layer)
        for r in results
    ):
        raise ModernCNNError("a grid shows maps of one model, weights, method and layer")
    columns = min(columns, len(results))
    rows = math.ceil(len(results) / columns)
    fig = Figure(figsize=(1.5 * columns, 3.3 * rows))
    axes = fig.subplots(2 * rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, r in enumerate(results):
        top, bottom = (
            axes[2 * (i // columns), i % columns],
            axes[2 * (i // columns) + 1, i % columns],
        )
        top.imshow(r.image, interpolation="nearest")
        top.set_title(r.image_name, fontsize=6)
        bottom.imshow(r.overlay(), interpolation="nearest")
        bottom.set_title(f"{r.class_name} ({r.probability:.2f})", fontsize=6)
    title = f"{METHOD_TITLES[first.method]} at {first.layer} of {first.model}"
    return _titled(fig, f"{title}\n{_short(first.weights)}", first.random)


def _short(weights: str, width: int = 70) -> str:
    return weights if len(weights) < width else "..." + weights[-(width - 3) :]


def _titled(fig: Figure, title: str, random: bool) -> Figure:
    """``fig`` with its title above, in red for random weights, laid out."""
    fig.suptitle(title, fontsize=7, color="red" if random else "black")
    fig.tight_layout()
    return fig


def save_activations(results: Sequence[ClassActivation], folder: str | Path) -> list[Path]:
    """Write :func:`plot_activation` of each result as ``FOLDER/<folder>_<image stem>.<method>.png``
    (the image's folder in the name: CIFAR's test/cat/0000.jpg and test/dog/0000.jpg differ)."""
    folder = Path(folder)
    return [
        save_png(
            plot_activation(r),
            folder / f"{Path(r.image_name.replace('/', '_')).stem}.{r.method}.png",
        )
        for r in results
    ]


def random_weights_note(model: ConvNet) -> str:
    """A line for the command line when ``model``'s maps come from untrained weights."""
    return f"note: {RANDOM_WEIGHTS}: the maps show no learned evidence" if is_random(model) else ""
