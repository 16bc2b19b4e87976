"""The lecture's comparison of the families, measured: parameters, MACs, receptive field and
CPU latency of each network next to the top-5 error its paper reports."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from moderncnn.errors import ModernCNNError
from moderncnn.inspect.fields import Field
from moderncnn.inspect.history import ILSVRC_TOP5
from moderncnn.inspect.summary import summarize
from moderncnn.models import create_model, model_info
from moderncnn.models.probe import InputSize
from moderncnn.validate import integer

#: The lecture's line-up: one or two networks per family.
DEFAULT_MODELS = ("alexnet", "vgg16", "vgg19", "googlenet", "resnet50", "resnet152", "densenet121")
#: Untimed passes before the timed ones (first-call allocations, oneDNN kernel selection).
WARMUP_RUNS = 2


@dataclass(frozen=True)
class Entry:
    """One network: measured counts, its registry facts and (optionally) its latency in
    seconds. ``depth`` is weight layers on the longest path, as the paper counts them."""

    name: str
    year: int
    depth: int
    input: InputSize
    params: int
    macs: int
    field: Field | None
    latency: float | None
    top5: float | None
    protocol: str | None

    def to_dict(self) -> dict[str, Any]:
        size = None if self.field is None else self.field.size
        return {
            "model": self.name,
            "year": self.year,
            "depth": self.depth,
            "input": list(self.input),
            "params": self.params,
            "macs": self.macs,
            "receptive_field": list(size) if isinstance(size, tuple) else size,
            "latency_ms": None if self.latency is None else round(self.latency * 1e3, 3),
            "top5_error": self.top5,
            "protocol": self.protocol,
        }


@dataclass(frozen=True)
class Comparison:
    """Entries plus what the latency depends on: torch version, threads and runs (``runs``
    is None when latency was not measured)."""

    entries: list[Entry]
    torch_version: str
    threads: int
    runs: int | None

    def answers(self) -> dict[str, str]:
        """The lecture's quiz, from the measured counts: question -> model."""
        e = self.entries
        out = {
            "fewest parameters": min(e, key=lambda r: r.params).name,
            "most parameters": max(e, key=lambda r: r.params).name,
            "least compute": min(e, key=lambda r: r.macs).name,
            "most compute": max(e, key=lambda r: r.macs).name,
        }
        reported = [r for r in e if r.top5 is not None]
        if reported:
            out["lowest reported top-5 error"] = min(reported, key=lambda r: r.top5).name
        if self.runs is not None:
            out["fastest on this CPU"] = min(e, key=lambda r: r.latency).name
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "torch": self.torch_version,
            "threads": self.threads,
            "runs": self.runs,
            "models": [r.to_dict() for r in self.entries],
            "answers": self.answers(),
        }


def measure_latency(
    name: str, input_size: InputSize, runs: int = 10, warmup: int = WARMUP_RUNS, **options: Any
) -> float:
    """Median seconds of ``runs`` batch-1 forward passes on the CPU (eval, inference mode),
    after ``warmup`` untimed ones, with randomly initialised weights; ``options``: the model's."""
    integer(runs, "runs", minimum=1)
    model = create_model(name, in_chans=input_size[0], **options).eval()
    x = torch.randn(1, *input_size)
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    names: Sequence[str] = DEFAULT_MODELS,
    input_size: InputSize | None = None,
    runs: int | None = 10,
) -> Comparison:
    """Measure ``names`` at ``input_size`` (each model's default when None). ``runs=None``
    skips the latency measurement."""
    if runs is not None:
        integer(runs, "runs", minimum=1)  # before minutes of measurement
    entries = []
    for name in names:
        s = summarize(name, input_size, depth=0)
        info = model_info(name)
        err = info.reported_error
        entries.append(
            Entry(
                name=name,
                year=info.year,
                depth=info.depth,
                input=s.input,
                params=s.params,
                macs=s.macs,
                field=s.field,
                latency=None if runs is None else measure_latency(name, s.input, runs),
                top5=err.top5 if err else None,
                protocol=err.protocol if err else None,
            )
        )
    return Comparison(entries, torch.__version__, torch.get_num_threads(), runs)


def plot_comparison(comparison: Comparison, path: str | Path) -> Path:
    """PNG of reported top-5 error against GMACs, marker area proportional to parameters,
    each network labelled, with the human estimate as a line. Networks without a reported
    top-5 error are left out."""
    from matplotlib.figure import Figure  # heavy import, only when plotting

    shown = [r for r in comparison.entries if r.top5 is not None]
    if not shown:
        raise ModernCNNError("none of these models has a reported top-5 error to plot")
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.subplots()
    areas = [r.params / 1e5 for r in shown]  # points^2: 100 for 10M parameters
    ax.scatter(
        [r.macs / 1e9 for r in shown],
        [r.top5 for r in shown],
        s=areas,
        alpha=0.45,
        edgecolors="k",
    )
    for r, area in zip(shown, areas, strict=True):
        # Label on the side away from the nearest network in compute, so pairs such as
        # VGG-16 / VGG-19 do not overwrite each other.
        others = [o for o in shown if o is not r]
        near = min(others, key=lambda o: abs(math.log(o.macs / r.macs)), default=None)
        up = near is None or r.top5 >= near.top5
        ax.annotate(
            f"{r.name}\n{r.params / 1e6:.1f}M params",
            (r.macs / 1e9, r.top5),
            xytext=(0, (math.sqrt(area) / 2 + 3) * (1 if up else -1)),
            textcoords="offset points",
            ha="center",
            va="bottom" if up else "top",
            fontsize=8,
        )
    human = next(r for r in ILSVRC_TOP5 if r.year is None)
    ax.axhline(human.top5, color="gray", linestyle="--", linewidth=1)
    ax.annotate(
        f"human: {human.top5}%",
        (0.01, human.top5),
        xycoords=("axes fraction", "data"),
        va="bottom",
        fontsize=8,
        color="gray",
    )
    ax.set_xscale("log")
    ax.set_xlabel("GMACs per image (measured, log scale)")
    ax.set_ylabel("top-5 error, % (reported by each paper)")
    sizes = sorted({"x".join(map(str, r.input)) for r in shown})
    ax.set_title(f"ILSVRC top-5 error against compute at {', '.join(sizes)}")
    ax.text(
        0.99,
        0.99,
        "marker area proportional to parameters",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
    )
    ax.margins(x=0.25, y=0.15)
    ax.grid(alpha=0.3)
    path = Path(path)
    try:
        fig.savefig(path, dpi=120)
    except OSError as e:
        raise ModernCNNError(f"cannot write the plot to {path}: {e.strerror or e}") from None
    return path
