"""Figures: error-vs-epoch curves of runs (as the ResNet paper's Fig. 6: dashed training,
solid validation) and a confusion matrix."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
from matplotlib.ticker import MaxNLocator

from moderncnn.errors import DataError
from moderncnn.train.metrics import read_metrics

METRICS = {
    "top1": ("top1_err", "top-1 error (%)"),
    "top5": ("top5_err", "top-5 error (%)"),
    "loss": ("loss", "loss"),
}


def _column(rows: list[dict[str, str]], key: str, path: Path) -> list[float]:
    try:
        return [float(r[key]) if r.get(key) not in (None, "") else float("nan") for r in rows]
    except ValueError as e:
        raise DataError(
            f"{str(path)!r}: column {key} holds a value that is not a number ({e})"
        ) from None


def plot_curves(run_dirs: list[str | Path], output: str | Path, metric: str = "top1") -> Path:
    """Draw training (dashed) and validation (solid) ``metric`` per epoch of every run."""
    key, label = METRICS[metric]
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for i, run in enumerate(run_dirs):
        path = Path(run) / "metrics.csv"
        if not path.is_file():
            raise DataError(f"{str(run)!r} is not a run directory: it has no metrics.csv")
        rows = read_metrics(path)
        if not rows:
            raise DataError(f"{str(path)!r} has no epochs yet")
        epochs = _column(rows, "epoch", path)
        color = f"C{i % 10}"
        name = Path(run).resolve().name
        ax.plot(
            epochs,
            _column(rows, f"train_{key}", path),
            "--",
            color=color,
            lw=1,
            label=f"{name} train",
        )
        val = _column(rows, f"val_{key}", path)
        ax.plot(epochs, val, "-", color=color, lw=2, label=f"{name} val")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, output)


def plot_confusion(confusion: torch.Tensor, classes: list[str], output: str | Path) -> Path:
    """The confusion matrix, rows normalised to the true class; counts written when small."""
    c = confusion.double()
    rate = (c / c.sum(1, keepdim=True).clamp_min(1)).numpy()
    n = len(classes)
    size = min(4 + 0.45 * n, 20)
    fig = Figure(figsize=(size, size))
    ax = fig.subplots()
    im = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    if n <= 30:
        ax.set_xticks(range(n), classes, rotation=90)
        ax.set_yticks(range(n), classes)
        for i in range(n):
            for j in range(n):
                color = "white" if rate[i, j] > 0.5 else "black"
                ax.text(j, i, int(c[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _save(fig, output)


def _save(fig: Figure, output: str | Path) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=120)
    return output
