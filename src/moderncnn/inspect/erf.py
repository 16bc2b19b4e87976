"""The effective receptive field (Luo, Li, Urtasun & Zemel, "Understanding the Effective
Receptive Field in Deep Convolutional Neural Networks", NIPS 2016).

The theoretical field (:mod:`moderncnn.inspect.fields`) is every input pixel a unit can see;
the effective field is how much each one counts: the gradient of the centre unit of a feature
map with respect to the input, ``|d y / d x|`` with ``y`` the sum over channels of that
unit, summed over the input's channels and averaged over inputs (Luo et al. Sec. 2: random
inputs, or real images). One number summarises it: the half-width ``radius`` of the
smallest square around the unit's centre holding ``share`` of the gradient's mass, reported
as a side ``2 radius + 1`` in pixels beside the theoretical field's side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from moderncnn.errors import ModernCNNError
from moderncnn.inspect.fields import Field, FieldTracker, probe_input
from moderncnn.inspect.pictures import RANDOM_WEIGHTS, save_png, weights_label
from moderncnn.models.base import ConvNet
from moderncnn.models.registry import model_info
from moderncnn.validate import integer

#: Share of the gradient's mass the effective field's radius holds.
SHARE = 0.95
#: Inputs per forward-backward pass.
CHUNK = 8


@dataclass(frozen=True)
class EffectiveField:
    """The effective receptive field of the centre unit of feature stage ``stage`` (its map
    is the output of ``module``), over ``samples`` inputs of ``input_size``."""

    model: str
    weights: str
    stage: int
    module: str
    input_size: tuple[int, int, int]
    samples: int
    inputs: str  #: "random N(0, 1)" or "images"
    share: float
    map: torch.Tensor  #: (H, W) gradient mass per input pixel, summing to 1
    centre: tuple[float, float]  #: input pixel (row, column) at the unit's field centre
    radius: float  #: half-width of the square around ``centre`` holding ``share`` of the mass
    theoretical: Field  #: the unit's theoretical receptive field

    @property
    def size(self) -> float:
        """Side of the effective field's square in pixels: ``2 radius + 1``."""
        return 2 * self.radius + 1

    @property
    def theoretical_size(self) -> float:
        """Side of the theoretical field (the larger of height and width), padding included."""
        return max(self.theoretical.h.size, self.theoretical.w.size)

    @property
    def ratio(self) -> float:
        """Effective over theoretical side."""
        return self.size / self.theoretical_size

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "weights": self.weights,
            "stage": self.stage,
            "module": self.module,
            "input": list(self.input_size),
            "samples": self.samples,
            "inputs": self.inputs,
            "share": self.share,
            "centre": list(self.centre),
            "effective_radius": round(self.radius, 2),
            "effective_size": round(self.size, 2),
            "theoretical_size": self.theoretical_size,
            "ratio": round(self.ratio, 4),
        }

    def __str__(self) -> str:
        c, h, w = self.input_size
        return (
            f"{self.model} ({self.weights}), stage {self.stage} {self.module}, {self.samples} "
            f"{self.inputs} inputs of {c}x{h}x{w}: effective field {self.size:g} px "
            f"({self.share:.0%} of the gradient within radius {self.radius:g}), theoretical "
            f"{self.theoretical_size:g} px, ratio {self.ratio:.2f}"
        )


def check_share(share: float) -> float:
    """``share`` if it is in (0, 1], else :class:`ModernCNNError`."""
    if not 0 < share <= 1:
        raise ModernCNNError(f"share must be in (0, 1], e.g. {SHARE}; got {share}")
    return share


def mass_radius(grad: torch.Tensor, centre: tuple[float, float], share: float = SHARE) -> float:
    """Half-width of the smallest square around ``centre`` (row, column) holding ``share`` of
    the non-negative (H, W) ``grad``'s mass (Chebyshev distance, as fields are squares)."""
    check_share(share)
    h, w = grad.shape
    rows = (torch.arange(h, dtype=torch.float64) - centre[0]).abs()
    cols = (torch.arange(w, dtype=torch.float64) - centre[1]).abs()
    distance = torch.maximum(rows[:, None], cols[None, :]).flatten()
    order = distance.argsort(stable=True)
    mass = grad.flatten().double()[order].cumsum(0)
    total = mass[-1]
    if not 0 < total < float("inf"):
        raise ModernCNNError(
            f"the gradient's mass is {total.item()}: no effective field to measure (zero: no "
            "input pixel reaches the unit; not finite: the activations overflow)"
        )
    inside = int(torch.searchsorted(mass, share * total * (1 - 1e-12)))
    return float(distance[order][min(inside, len(order) - 1)])


def _stage_fields(
    model: ConvNet, stages: list[int], size: tuple[int, int, int]
) -> list[tuple[Field, tuple[int, int]]]:
    """The theoretical field of each stage's map and that map's (H, W), from one forward
    pass of a zero image under a :class:`FieldTracker`."""
    tracker = FieldTracker()
    with torch.no_grad(), tracker:
        x = tracker.track(probe_input(model, size))
        maps = model.forward_intermediates(x, stages, stop_early=True, intermediates_only=True)
    out = []
    for stage, fmap in zip(stages, maps, strict=True):
        field = tracker.field(fmap)
        if field is None:
            raise ModernCNNError(f"stage {stage} of {model.model_name} is not a spatial map")
        out.append((field, (fmap.shape[-2], fmap.shape[-1])))
    return out


def effective_receptive_field(
    model: ConvNet,
    input_size: tuple[int, int, int] | None = None,
    *,
    stage: int = -1,
    samples: int = 16,
    share: float = SHARE,
    inputs: torch.Tensor | None = None,
    seed: int = 0,
) -> EffectiveField:
    """Measure the effective receptive field of ``model`` (in eval mode, on its device).

    Args:
        model: a network from :func:`moderncnn.create_model`: fresh, or with weights.
        input_size: (C, H, W) of the random inputs; the model's default when None. Choose it
            larger than the theoretical field to see the whole of it (the networks are
            fully convolutional up to their pooling).
        stage: the feature stage (``model.feature_info``; -1: the last map, the one
            ``forward_features`` returns) whose centre unit is measured.
        samples: random N(0, 1) inputs to average over (ignored when ``inputs`` is given).
        share: share of the gradient's mass the radius holds.
        inputs: real images, an (N, C, H, W) batch prepared as the model expects.
        seed: seed of the random inputs.
    """
    (field,) = effective_receptive_fields(
        model, input_size, stages=[stage], samples=samples, share=share, inputs=inputs, seed=seed
    )
    return field


def effective_receptive_fields(
    model: ConvNet,
    input_size: tuple[int, int, int] | None = None,
    *,
    stages: list[int] | None = None,
    samples: int = 16,
    share: float = SHARE,
    inputs: torch.Tensor | None = None,
    seed: int = 0,
) -> list[EffectiveField]:
    """:func:`effective_receptive_field` of several feature stages (all when None) from the
    same inputs and forward passes (one backward pass per stage)."""
    if not isinstance(model, ConvNet):
        raise ModernCNNError(f"expected a moderncnn network, got {type(model).__name__}")
    indices = model.feature_indices(stages)
    check_share(share)
    if inputs is None:
        integer(samples, "samples", minimum=1)
        size = input_size or model_info(model.model_name).input_size
        kind = "random N(0, 1)"
    else:
        if inputs.dim() != 4:
            raise ModernCNNError(f"inputs must be an (N, C, H, W) batch, got {tuple(inputs.shape)}")
        samples, size, kind = inputs.shape[0], tuple(inputs.shape[1:]), "image"
    size = tuple(int(s) for s in size)
    model.eval()
    fields = _stage_fields(model, indices, size)
    units = [(mh // 2, mw // 2) for _, (mh, mw) in fields]
    p = next(model.parameters())
    generator = torch.Generator().manual_seed(seed)
    totals = [torch.zeros(size[1:], dtype=torch.float64) for _ in indices]
    for start in range(0, samples, CHUNK):
        n = min(CHUNK, samples - start)
        if inputs is None:
            x = torch.randn(n, *size, generator=generator)
        else:
            x = inputs[start : start + n]
        x = x.to(p.device, p.dtype).requires_grad_(True)
        maps = model.forward_intermediates(x, indices, stop_early=True, intermediates_only=True)
        for i, (fmap, (uh, uw)) in enumerate(zip(maps, units, strict=True)):
            last = i == len(maps) - 1
            (grad,) = torch.autograd.grad(fmap[:, :, uh, uw].sum(), x, retain_graph=not last)
            totals[i] += grad.abs().sum(1).sum(0).double().cpu()  # channels, then inputs
    out = []
    for index, (field, _), (uh, uw), total in zip(indices, fields, units, totals, strict=True):
        centre = (field.h.start + uh * field.h.jump, field.w.start + uw * field.w.jump)
        out.append(
            EffectiveField(
                model=model.model_name or type(model).__name__,
                weights=weights_label(model),
                stage=index,
                module=model.feature_info[index]["module"],
                input_size=size,  # type: ignore[arg-type]
                samples=samples,
                inputs=kind,
                share=share,
                map=(total / total.sum()).float(),
                centre=centre,
                radius=mass_radius(total, centre, share),
                theoretical=field,
            )
        )
    return out


def _square(ax, centre: tuple[float, float], side: float, **style: Any) -> None:
    """A ``side``-pixel square around ``centre`` (row, column), in pixel coordinates."""
    half = side / 2
    ax.add_patch(Rectangle((centre[1] - half, centre[0] - half), side, side, fill=False, **style))


def plot_fields(fields: list[EffectiveField]) -> Figure:
    """One panel per field: the gradient map (square root, to show its tails), the
    theoretical field's square (dashed, clipped by the image) and the effective one's."""
    fig = Figure(figsize=(3.8 * len(fields), 4.4))
    for ax, f in zip(fig.subplots(1, len(fields), squeeze=False)[0], fields, strict=True):
        ax.imshow(f.map.sqrt().numpy(), cmap="magma")
        t = f.theoretical
        half_h, half_w = (t.h.size - 1) / 2, (t.w.size - 1) / 2
        ax.add_patch(
            Rectangle(
                (f.centre[1] - half_w - 0.5, f.centre[0] - half_h - 0.5),
                t.w.size,
                t.h.size,
                fill=False,
                ls="--",
                lw=1.2,
                color="cyan",
                label=f"theoretical {f.theoretical_size:g} px",
            )
        )
        _square(
            ax,
            (f.centre[0] - 0.5, f.centre[1] - 0.5),
            f.size,
            lw=1.5,
            color="lime",
            label=f"effective {f.size:g} px ({f.share:.0%} of mass)",
        )
        h, w = f.map.shape
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        c = f.input_size
        ax.set_title(
            f"{f.model}, {f.module}: centre unit\n{_wrap(f.weights)}\n"
            f"mean |dy/dx| over {f.samples} {f.inputs} {c[0]}x{c[1]}x{c[2]}",
            fontsize=7,
            color="red" if f.weights == RANDOM_WEIGHTS else "black",
        )
        ax.legend(loc="lower left", fontsize=6, framealpha=0.8)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 52) -> str:
    """A long weights path cut from the left (the file name is what tells runs apart); the
    random-weights label short, on one line (the title is red then)."""
    if text == RANDOM_WEIGHTS:
        return "random weights (not trained)"
    return text if len(text) <= width else "..." + text[-(width - 3) :]


def save_fields(fields: list[EffectiveField], output: str | Path) -> Path:
    """Write :func:`plot_fields` of ``fields`` as a PNG file."""
    return save_png(plot_fields(fields), output, dpi=90)
