"""Checks of the values users give (command-line flags, recipe keys, function arguments), one
per kind: counts, numbers, fractions, devices, input sizes, input files and output files.

Each returns the value (parsed, when given as text) or raises :class:`ConfigError` with a
message that says what works. ``name`` starts the message (``"batch_size must be 1 or
more, got 0"``); as argparse types (:func:`moderncnn.cli.types.flag`) they are called without
one, argparse naming the flag instead.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from moderncnn.errors import ConfigError
from moderncnn.io import check_writable

#: The largest input :func:`parse_input_size` takes: channels, and pixels a side (AlexNet's
#: 224 x 18; a 3 x 4096 x 4096 image is 200 MB in fp32, before any activation).
MAX_CHANNELS = 64
MAX_SIDE = 4096

#: Devices by type; ``cuda`` may carry an index (``cuda:1``).
DEVICE_TYPES = ("cpu", "cuda", "mps")


def _must(name: str, rule: str, got: object) -> ConfigError:
    """``"NAME must be RULE, got GOT"`` (no name: ``"must be ..."``)."""
    return ConfigError(f"{name} must be {rule}, got {got}".lstrip())


def integer(value: int | str, name: str = "", minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an integer of at least ``minimum`` (counts: 0 or 1) and, where given,
    at most ``maximum``."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise _must(name, "an integer", repr(value)) from None
    if value < minimum:
        raise _must(name, f"{minimum} or more", value)
    if maximum is not None and value > maximum:
        raise _must(name, f"{minimum} to {maximum:,}", f"{value:,}")
    return value


def number(value: float, name: str = "", minimum: float = 0.0, inclusive: bool = True) -> float:
    """A finite ``value`` >= ``minimum`` (``inclusive``) or > it (rates, factors)."""
    if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
        raise _must(name, f"a number {'>=' if inclusive else '>'} {minimum:g}", value)
    return value


def fraction(value: float, name: str = "") -> float:
    """A ``value`` in [0, 1): a probability that must leave something (label smoothing,
    momentum)."""
    if not 0 <= value < 1:
        raise _must(name, "in [0, 1)", value)
    return value


def parse_device(
    value: str | torch.device = "", name: str = "device", here: bool = True
) -> torch.device:
    """The device ``value`` names: cpu, cuda, cuda:N or mps; '' is cuda when torch sees a GPU,
    else cpu. With ``here`` the device must exist on this machine (a saved run's configuration
    names a device of the machine that trained it: checked with ``here=False``)."""
    if value == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(value)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in DEVICE_TYPES:
        raise _must(name, "cpu, cuda or cuda:N (or mps)", repr(str(value)))
    if here:
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if dev.type == "cuda" and (dev.index or 0) >= gpus:
            seen = f"cuda:0 to cuda:{gpus - 1}" if gpus else "no CUDA GPU"
            raise ConfigError(f"{name} {str(value)!r}: torch sees {seen} here; use cpu".lstrip())
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ConfigError(f"{name} 'mps': torch sees no Apple GPU here; use cpu".lstrip())
    return dev


def fp16_on_gpu(dtype: str, device: torch.device, flag: str) -> None:
    """Raise when ``dtype`` 'fp16' is asked for off CUDA (CPU autocast and kernels want bf16)."""
    if dtype == "fp16" and device.type != "cuda":
        raise ConfigError(f"{flag} fp16 needs a GPU (CUDA), not {device.type}; use {flag} bf16")


def parse_input_size(text: str, name: str = "input size") -> tuple[int, int, int]:
    """``"3x224x224" -> (3, 224, 224)``: channels x height x width, of at most
    :data:`MAX_CHANNELS` channels and :data:`MAX_SIDE` pixels a side."""
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text.strip())
    size = tuple(int(v) for v in match.groups()) if match else ()
    if (
        not size
        or not 1 <= size[0] <= MAX_CHANNELS
        or not all(1 <= s <= MAX_SIDE for s in size[1:])
    ):
        raise ConfigError(
            f"{name} must be CxHxW with 1 to {MAX_CHANNELS} channels and 1 to {MAX_SIDE} pixels "
            f"a side, e.g. 3x224x224; got {text!r}".lstrip()
        )
    return size  # type: ignore[return-value]


def existing_file(path: str | Path, name: str = "file") -> Path:
    """A file that exists at ``path`` (not a folder)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{name} {str(path)!r} does not exist")
    if path.is_dir():
        raise ConfigError(f"{name} {str(path)!r} is a folder; give a file")
    return path


def output_file(path: str | Path, suffix: str, name: str = "") -> Path:
    """A ``suffix`` file (e.g. '.png') that can be written at ``path``: not a folder, with no
    file where a folder should be, writable. Nothing is created: writers make missing folders."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise _must(name, f"a {suffix} file", repr(str(path)))
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a folder; give a file name ending in {suffix}")
    check_writable(path.parent, path)
    return path
