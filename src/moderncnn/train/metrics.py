"""Metrics summed on the device (no host sync per step) and written per epoch to
``metrics.csv`` and, when installed, TensorBoard."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from moderncnn.errors import DataError
from moderncnn.io import atomic_write, output_error

log = logging.getLogger("moderncnn")

COLUMNS = [
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_top1_err",
    "train_top5_err",
    "val_loss",
    "val_top1_err",
    "val_top5_err",
    "images_per_s",
    "epoch_time_s",
]


class Meter:
    """Sums of loss, top-1 and top-5 hits and count, kept as one tensor on the device."""

    def __init__(self, device: torch.device, num_classes: int) -> None:
        self.sums = torch.zeros(4, dtype=torch.float64, device=device)
        self.k = min(5, num_classes)

    def update(self, loss: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: ``loss`` is the batch's mean loss."""
        hits = logits.topk(self.k, dim=1).indices.eq(target[:, None])
        n = torch.full((), target.shape[0], dtype=torch.float64, device=target.device)
        self.sums += torch.stack([loss.double() * n, hits[:, 0].sum(), hits.any(1).sum(), n])

    def reset(self) -> None:
        """Start from zero, in place (a captured CUDA graph adds to this very tensor)."""
        self.sums.zero_()

    def all_reduce(self) -> None:
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.sums)

    def top1_counts(self) -> torch.Tensor:
        """(top-1 hits, images) added so far: a copy, on the device."""
        return self.sums[[1, 3]]

    def result(self) -> dict[str, float]:
        """Mean loss and top-1 / top-5 error in %, over what was added (one host sync)."""
        loss, top1, top5, n = self.sums.tolist()
        n = max(n, 1.0)
        return {
            "loss": loss / n,
            "top1_err": 100 * (1 - top1 / n),
            "top5_err": 100 * (1 - top5 / n),
        }


@dataclass
class TrainResult:
    """What a run produced: where, the chosen epoch and its validation / test errors."""

    run_dir: Path
    epochs: int
    best_epoch: int
    val: dict[str, float] | None
    test: dict[str, float] | None
    wall_time_s: float  #: seconds of training (the loop, less any ``on_epoch_end`` hook)
    images_per_s: float
    amp: str  #: the precision it computed in: 'none' (fp32), 'bf16' or 'fp16' autocast
    stopped_at: int | None = None  #: the step ``stop_error`` ended training at


class MetricsLog:
    """Rows of :data:`COLUMNS` appended to ``metrics.csv``; a resumed run first drops rows of
    epochs after its checkpoint, so the file always describes one run."""

    def __init__(self, run_dir: Path, tensorboard: bool, keep_epochs: int = 0) -> None:
        self.path = run_dir / "metrics.csv"
        rows = read_metrics(self.path) if self.path.is_file() else []
        kept = [r for r in rows if int(r["epoch"]) <= keep_epochs]
        atomic_write(self.path, lambda p: _write_rows(p, kept, "w"))  # a kill keeps the old
        self.tb = _summary_writer(run_dir / "tb") if tensorboard else None

    def write(self, row: dict[str, float], epochs: int) -> None:
        """Append an epoch's ``row`` (of ``epochs``) and say it in one line."""
        val = (
            f"  val loss {row['val_loss']:.3f} err {row['val_top1_err']:.2f}%"
            if "val_loss" in row
            else ""
        )
        log.info(
            "epoch %d/%d  lr %.4g  train loss %.3f err %.2f%%%s  %.0f img/s  %.1f s",
            row["epoch"], epochs, row["lr"], row["train_loss"], row["train_top1_err"], val,
            row["images_per_s"], row["epoch_time_s"],
        )  # fmt: skip
        try:
            _write_rows(self.path, [{k: row.get(k, "") for k in COLUMNS}], "a")
        except OSError as e:
            raise output_error(self.path, e) from None
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("epoch", "step") and v != "":
                    self.tb.add_scalar(k.replace("_", "/", 1), v, int(row["epoch"]))
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _write_rows(path: Path, rows: list[dict], mode: str) -> None:
    """Rows to ``path``: a new file with the header (``mode`` "w") or appended ("a")."""
    with open(path, mode, newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        if mode == "w":
            writer.writeheader()
        writer.writerows(rows)


def _summary_writer(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info(
            "TensorBoard is not installed (pip install 'moderncnn[tensorboard]'); "
            "metrics go to metrics.csv only"
        )
        return None
    return SummaryWriter(str(path))


def read_metrics(path: Path) -> list[dict[str, str]]:
    """The rows of a run's metrics.csv; DataError for a file that is not CSV text."""
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{str(path)!r} is not a metrics.csv a run wrote: {e}") from None
