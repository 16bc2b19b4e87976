"""Evaluation as the papers did it: top-1 / top-5 error of the centre crop or of the
AlexNet paper's ten crops (softmax averaged over the four corners, the centre and their
flips, Krizhevsky et al. 2012, Sec. 4.1), per-class accuracy and the confusion matrix: the
loop that training validates and tests with. Scoring a weights file on a data set (``moderncnn
eval``) is :mod:`moderncnn.scoring`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sized
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from moderncnn.precision import AMP_DTYPES, resolve_amp
from moderncnn.progress import progress as show_progress
from moderncnn.train.metrics import Meter

log = logging.getLogger("moderncnn")


@dataclass
class EvalResult:
    """Mean loss, top-1 / top-5 error (%) over ``n`` images and the (true, predicted) counts.
    When the model has more outputs than the data has classes, ``outside`` counts, per true
    class, the predictions of none of the data's classes (None otherwise)."""

    loss: float
    top1_err: float
    top5_err: float
    n: int
    confusion: torch.Tensor
    outside: torch.Tensor | None = None

    def per_class_accuracy(self) -> list[float]:
        """Accuracy (%) of each true class (NaN for a class with no image)."""
        c = self.confusion.double()
        total = c.sum(1) + (self.outside.double() if self.outside is not None else 0)
        return (100 * c.diagonal() / total).tolist()

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
    outputs: int | None = None,
) -> EvalResult:
    """Evaluate ``model`` on ``(images, labels)`` batches; images of shape (N, K, C, H, W) are
    K crops per image whose softmax outputs are averaged. Sums over DDP ranks. ``amp``: as
    :func:`moderncnn.precision.resolve_amp` resolves it on ``device``.

    ``outputs``: the model's number of logits when more than the ``num_classes`` of the labels
    (the data's classes first, see :class:`ClassSubset`); top-5 is then among all of them, and
    predictions past ``num_classes`` are counted in ``EvalResult.outside``.
    ``progress`` shows a bar labelled ``desc`` (see :func:`moderncnn.progress.progress`)."""
    amp = resolve_amp(amp, device)
    was_training = model.training
    model.eval()
    extra = outputs is not None and outputs > num_classes
    width = num_classes + 1 if extra else num_classes  # one column for "outside"
    meter = Meter(device, outputs if extra else num_classes)
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
        pairs.append(y * width + log_probs.argmax(1).clamp(max=width - 1))
    meter.all_reduce()
    # bincount on the CPU: CUDA's has no deterministic implementation
    flat = torch.cat(pairs).cpu() if pairs else torch.zeros(0, dtype=torch.int64)
    confusion = torch.bincount(flat, minlength=num_classes * width)
    if dist.is_available() and dist.is_initialized():
        confusion = confusion.to(device)
        dist.all_reduce(confusion)
    model.train(was_training)
    r = meter.result()
    cm = confusion.view(num_classes, width).cpu()
    outside = cm[:, num_classes].clone() if extra else None
    cm = cm[:, :num_classes].contiguous()
    n = int(cm.sum()) + (int(outside.sum()) if outside is not None else 0)
    return EvalResult(r["loss"], r["top1_err"], r["top5_err"], n, cm, outside)
