"""Evaluation as the papers did it: top-1 / top-5 error of the centre crop or of the
AlexNet paper's ten crops (softmax averaged over the four corners, the centre and their
flips, Krizhevsky et al. 2012, Sec. 4.1), per-class accuracy and the confusion matrix."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sized
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from moderncnn.checkpoint import load_state, read_metadata, read_weights
from moderncnn.data import Splits, find_dataset, load_splits, make_loader
from moderncnn.data.sources import limit as subset
from moderncnn.data.sources import split_folder, split_folders
from moderncnn.errors import DataError
from moderncnn.models import create_model
from moderncnn.models.factory import saved_options
from moderncnn.models.pretrained import weights_cfg, weights_file
from moderncnn.precision import AMP_DTYPES, resolve_amp
from moderncnn.progress import progress as show_progress
from moderncnn.train.metrics import Meter
from moderncnn.train.tta import TestTimeAugmentation
from moderncnn.validate import parse_device

log = logging.getLogger("moderncnn")


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


def autocast(device: torch.device, amp: str, cache: bool = True):
    """``torch.autocast`` for a resolved ``amp`` ('none', 'bf16' or 'fp16': see
    :func:`moderncnn.precision.resolve_amp`); ``cache=False`` inside a CUDA graph capture
    (cast weights must not outlive it)."""
    dtype = AMP_DTYPES[amp]
    on = dtype != torch.float32
    return torch.autocast(device.type, dtype=dtype, enabled=on, cache_enabled=cache)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    device: torch.device,
    amp: str = "auto",
    *,
    progress: bool = False,
    desc: str = "evaluating",
) -> EvalResult:
    """Evaluate ``model`` on ``(images, labels)`` batches; images of shape (N, K, C, H, W) are
    K crops per image whose softmax outputs are averaged. Sums over DDP ranks. ``amp``: as
    :func:`moderncnn.precision.resolve_amp` resolves it on ``device``.

    ``progress`` shows a bar labelled ``desc`` (see :func:`moderncnn.progress.progress`)."""
    amp = resolve_amp(amp, device)
    was_training = model.training
    model.eval()
    meter = Meter(device, num_classes)
    pairs = []  # true * C + predicted, kept on the device until the end
    total = len(batches) if isinstance(batches, Sized) else None
    for x, y in show_progress(batches, total=total, desc=desc, unit="batch", enabled=progress):
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


@dataclass
class WeightsEvaluation:
    """What :func:`evaluate_weights` measured: the result, its split and classes, the split's
    folder (ImageFolder trees; None for CIFAR) and the classifier keys left untrained."""

    result: EvalResult
    split: str
    classes: list[str]
    folder: Path | None
    new_head: list[str]


def evaluate_weights(
    model_name: str,
    weights: str | Path,
    data_dir: str | Path,
    *,
    split: str = "test",
    ten_crop: bool = False,
    tta: str = "none",
    batch_size: int = 256,
    limit: int = 0,
    device: str = "",
    amp: str = "auto",
    cache_dir: str | Path | None = None,
    workers: int = 2,
    allow_new_head: bool = False,
    progress: bool = True,
) -> WeightsEvaluation:
    """Evaluate a weights file on ``split``: 'test' (an ImageFolder tree's ``test/``, else
    ``val/``: a tree holding only one of them will do), or 'val' / 'train' (the held-out split
    and the rest of ``train/``, as the run that wrote the weights made them).

    The classifier must be for the data's classes: one for another number is an error, or
    with ``allow_new_head`` is replaced by a random one (named in ``new_head``); a moderncnn
    file's class names must be the data's, in the same order. Normalisation and validation
    size come from the file's metadata when it has them (moderncnn training writes them);
    ``weights`` may also name published weights (``IMAGENET1K_V1``, ``DEFAULT``...), which
    bring their own normalisation and input size. ``tta`` ('flip', 'flip-translate')
    averages logits over views of each image (:mod:`moderncnn.train.tta`).
    """
    if ten_crop and tta != "none":
        raise DataError("--ten-crop already averages over flips and crops; drop --tta")
    dev = parse_device(device)
    amp = resolve_amp(amp, dev)
    cfg = weights_cfg(model_name, weights)  # published weights: from their enum, no download
    weights = weights_file(model_name, weights)
    state, saved = read_weights(weights)  # a missing or unreadable file fails before the data
    meta = read_metadata(weights)
    source = find_dataset(data_dir)
    if split != "test" and source.kind == "folder" and "train" not in split_folders(source):
        raise DataError(
            f"--split {split} reads the images of train/ (val: those held out from it), and "
            f"{str(source.root)!r} has no train/ folder; its test split is "
            f"{split_folder(source, 'test')}: evaluate that with --split test (the default)"
        )
    held = split != "test"  # the run's own split, rebuilt as it made it (run_split)
    val_size, run_limit, expect, val_from = run_split(weights, meta) if held else (0, 0, None, "")
    splits = load_splits(
        data_dir,
        val_size=val_size,
        limit=run_limit if held else limit,
        train=held,
        test=not held,
        cache_dir=cache_dir,
        workers=workers,
        progress=progress,
        expect=expect,
        val_from=val_from,
    )
    trained = meta.get("classes")
    if trained and len(trained) == len(splits.classes):  # another count: load_weights says so
        _check_class_names(weights, trained, splits)
    crop = cfg.data.crop
    if cfg.url is not None or "mean" in meta:  # the weights' normalisation, where known
        splits = dataclasses.replace(splits, mean=cfg.data.mean, std=cfg.data.std)
    images = getattr(splits, split)
    if images is None:
        raise DataError(f"no {split} split (val needs a held-out size > 0)")
    if held:  # a fixed random subset of the run's split, not another split
        images = subset(images, limit)
    model = create_model(model_name, num_classes=len(splits.classes), **saved_options(weights))
    new_head = load_state(model, state, saved, weights, new_head=allow_new_head)
    model.to(dev, memory_format=torch.channels_last)
    loader = make_loader(
        splits, images, batch_size, dev, crop=crop, ten_crop=ten_crop, workers=workers
    )
    net = TestTimeAugmentation(model, tta) if tta != "none" else model
    result = evaluate(
        net, loader, len(splits.classes), dev, amp, progress=progress, desc=f"evaluating {split}"
    )
    folder = None
    if source.kind == "folder":
        folder = split_folder(source, "test" if split == "test" else "train")
    return WeightsEvaluation(result, split, splits.classes, folder, new_head)


def run_split(
    weights: str | Path, meta: dict[str, object]
) -> tuple[int, int, tuple[str, str] | None, str]:
    """How the run that wrote ``weights`` split its training images: (val_size, limit, the
    digest its images must have and whose it is, where val_size came from), from the
    file's metadata (moderncnn training records them); without it, the default hold-out
    of all the images, which cannot be checked."""
    if "val_size" not in meta:
        log.warning(
            "%s records no training split: --split val and train hold out the default 5000 "
            "images of all of them, which may not be the split the weights were trained on",
            weights,
        )
        return 5000, 0, None, "the default val_size (the weights record none)"
    digest = meta.get("split_digest")
    expect = (str(digest), f"the run of {str(weights)!r}") if digest else None
    val_from = f"the val_size of the run of {str(weights)!r}"
    return int(meta["val_size"]), int(meta.get("limit") or 0), expect, val_from


def _check_class_names(weights: str | Path, trained: list[str], splits: Splits) -> None:
    """Raise unless the weights were trained on the data's class names, in the same order."""
    data = splits.classes
    if trained == data:
        return
    only_trained = [c for c in trained if c not in data]
    only_data = [c for c in data if c not in trained]
    if only_trained or only_data:
        detail = f"only in the weights: {_some(only_trained)}; only in the data: {_some(only_data)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(trained, data, strict=True)) if a != b)
        detail = (
            f"the same classes in another order: class {i} is {trained[i]!r} in the weights, "
            f"{data[i]!r} in the data"
        )
    raise DataError(
        f"{str(weights)!r} was trained on other classes than {str(splits.source.root)!r} holds "
        f"({detail}); evaluate it on the classes it was trained on"
    )


def _some(names: list[str], n: int = 5) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return (", ".join(names[:n]) or "none") + more
