"""Numeric precision, one rule for every command (train, evaluate, bench, the inference fast
path): ``auto`` is bfloat16 autocast where the device computes in bf16 natively and fp32
elsewhere.

bf16 is only fast where the hardware has it: AVX512-BF16 or AMX on a CPU, a GPU with bf16
(Ampere or later). On other CPUs (AVX2 only: most laptops) PyTorch emulates it, and a run is
many times slower than in fp32, which is why ``auto`` never picks it there and an explicit
``bf16`` on such a CPU warns. ``MODERNCNN_NO_BF16=1`` makes :func:`bf16_supported` say no on
any machine: the fp32 path of a bf16 machine, for tests and for comparisons.
"""

from __future__ import annotations

import logging
import os

import torch

from moderncnn.validate import fp16_on_gpu

log = logging.getLogger("moderncnn")

#: The choices of ``--amp``: 'none' is fp32.
AMP_CHOICES = ("auto", "none", "bf16", "fp16")
#: What each resolved choice computes in.
AMP_DTYPES = {"none": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
#: Set to 1 to take the fp32 path of ``auto`` on a machine with native bf16.
NO_BF16_ENV = "MODERNCNN_NO_BF16"
#: Measured cost of bf16 autocast where it is emulated: ``moderncnn train resnet20 --recipe
#: speedrun`` on a 2-core AMD EPYC with AVX2 ran 11.7 img/s with --amp bf16, 158.5 with
#: --amp none (issue 18).
EMULATED_BF16_COST = "about 13.5x slower than fp32 (11.7 against 158.5 img/s training"

_warned: set[str] = set()


def bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Native bfloat16 arithmetic on ``device`` (AVX512-BF16/AMX on CPUs, Ampere+ on GPUs);
    False on any device while ``$MODERNCNN_NO_BF16`` is set (to anything but 0)."""
    if os.environ.get(NO_BF16_ENV, "0") not in ("", "0"):
        return False
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_amp(amp: str, device: torch.device | str, flag: str = "--amp") -> str:
    """The precision ``amp`` (one of :data:`AMP_CHOICES`) means on ``device``: 'auto' is
    'bf16' where :func:`bf16_supported`, else 'none' (fp32); the others are themselves.
    'fp16' off CUDA is an error (``flag`` names the option in its message); 'bf16' on a CPU
    without native bf16 warns, once per process, of what it costs."""
    device = torch.device(device)
    if amp not in AMP_CHOICES:
        raise ValueError(f"{flag} must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")
    if amp == "auto":
        return "bf16" if bf16_supported(device) else "none"
    fp16_on_gpu(amp, device, flag)
    emulated = amp == "bf16" and device.type == "cpu" and not bf16_supported(device)
    if emulated and flag not in _warned:
        _warned.add(flag)
        log.warning(
            "%s bf16: this CPU has no native bfloat16 (AVX512-BF16/AMX), so bf16 is emulated: "
            "%s on a 2-core AVX2 EPYC); %s auto computes in fp32 here",
            flag,
            EMULATED_BF16_COST,
            flag,
        )
    return amp


def describe(amp: str, asked: str, device: torch.device | str, kept: bool = False) -> str:
    """What a run computes in and why, for its log: ``amp`` resolved from ``asked``, or
    ``kept`` from the start of the run that is resumed."""
    device = torch.device(device)
    what = "fp32" if amp == "none" else f"{amp} autocast"
    if kept:
        return f"{what} (kept from the run's start)"
    if asked != "auto":
        return f"{what} (asked for)"
    native = "has" if bf16_supported(device) else "has no"
    return f"{what} (auto: {device.type} {native} native bf16)"
