"""Evaluation as the papers did it: top-1 / top-5 error of the centre crop or of the
AlexNet paper's ten crops (softmax averaged over the four corners, the centre and their
flips, Krizhevsky et al. 2012, Sec. 4.1), per-class accuracy and the confusion matrix."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from moderncnn.checkpoint import read_metadata
from moderncnn.data import load_splits, make_loader
from moderncnn.errors import DataError
from moderncnn.models import create_model, model_info
from moderncnn.train.metrics import Meter


@dataclass
class EvalResult:
    """Mean loss, top-1 / top-5 error (%) over ``n`` images and the (true, predicted) counts."""

    loss: float
    top1_err: float
    top5_err: float
    n: int
    confusion: torch.Tensor

    def per_class_accuracy(self) -> list[float]:
        """Accuracy (%) of each true class (NaN for a class with no image)."""
        c = self.confusion.double()
        return (100 * c.diagonal() / c.sum(1)).tolist()

    def to_dict(self) -> dict[str, float]:
        return {
            "loss": self.loss,
            "top1_err": self.top1_err,
            "top5_err": self.top5_err,
            "n": self.n,
        }


def autocast(device: torch.device, amp: str):
    """``torch.autocast`` for ``amp`` ('none', 'bf16' or 'fp16')."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    device: torch.device,
    amp: str = "none",
) -> EvalResult:
    """Evaluate ``model`` on ``(images, labels)`` batches; images of shape (N, K, C, H, W) are
    K crops per image whose softmax outputs are averaged. Sums over DDP ranks."""
    was_training = model.training
    model.eval()
    meter = Meter(device, num_classes)
    pairs = []  # true * C + predicted, kept on the device until the end
    for x, y in batches:
        crops = x.shape[1] if x.dim() == 5 else 0
        with autocast(device, amp):
            logits = model(x.flatten(0, 1) if crops else x).float()
        if crops:
            probs = logits.softmax(1).view(len(y), crops, -1).mean(1)
            log_probs = probs.clamp_min(1e-12).log()
        else:
            log_probs = logits.log_softmax(1)
        meter.update(F.nll_loss(log_probs, y), log_probs, y)
        pairs.append(y * num_classes + log_probs.argmax(1))
    meter.all_reduce()
    # bincount on the CPU: CUDA's has no deterministic implementation
    flat = torch.cat(pairs).cpu() if pairs else torch.zeros(0, dtype=torch.int64)
    confusion = torch.bincount(flat, minlength=num_classes * num_classes)
    if dist.is_available() and dist.is_initialized():
        confusion = confusion.to(device)
        dist.all_reduce(confusion)
    model.train(was_training)
    r = meter.result()
    cm = confusion.view(num_classes, num_classes).cpu()
    return EvalResult(r["loss"], r["top1_err"], r["top5_err"], int(cm.sum()), cm)


def evaluate_weights(
    model_name: str,
    weights: str | Path,
    data_dir: str | Path,
    *,
    split: str = "test",
    ten_crop: bool = False,
    batch_size: int = 256,
    limit: int = 0,
    device: str = "",
    amp: str = "none",
    cache_dir: str | Path | None = None,
    workers: int = 2,
) -> tuple[EvalResult, list[str]]:
    """Evaluate a weights file on ``split`` ('test', or 'val' / 'train': the held-out split
    and the rest of the training set, as the run that wrote the weights made them).

    Normalisation, classes and validation size come from the file's metadata when it has
    them (moderncnn training writes them).
    """
    meta = read_metadata(weights)
    val_size = int(meta.get("val_size", 5000)) if split != "test" else 0
    splits = load_splits(
        data_dir,
        val_size=val_size,
        limit=limit,
        test=split == "test",
        cache_dir=cache_dir,
        workers=workers,
    )
    if meta.get("classes") and meta["classes"] != splits.classes:
        raise DataError(
            f"{str(weights)!r} was trained on classes {meta['classes'][:5]}..., "
            f"the data has {splits.classes[:5]}..."
        )
    if "mean" in meta:
        splits = dataclasses.replace(splits, mean=tuple(meta["mean"]), std=tuple(meta["std"]))
    images = getattr(splits, split)
    if images is None:
        raise DataError(f"no {split} split (val needs a held-out size > 0)")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = create_model(model_name, num_classes=len(splits.classes), weights=weights).to(dev)
    model.to(memory_format=torch.channels_last)
    crop = model_info(model_name).input_size[-1]
    loader = make_loader(
        splits, images, batch_size, dev, crop=crop, ten_crop=ten_crop, workers=workers
    )
    return evaluate(model, loader, len(splits.classes), dev, amp), splits.classes
