"""Weights files: torchvision ``.pth`` state_dicts and moderncnn ``.safetensors`` files.

Loading accounts for every tensor: keys are taken as they are or mapped (a DDP ``module.``
prefix, torchvision's old DenseNet names; BN step counters absent from old files start at 0),
tensors for training-only parts the model was built without (GoogLeNet's auxiliary heads)
are dropped with a message, classifiers of another size (each model declares its own) are
skipped with a message (fine-tuning) or refused (``new_head=False``, evaluation), the first
convolution of weights for other input channels is adapted with a message (timm's
``adapt_input_conv``: 3-channel ImageNet weights for grey images), and anything else that does
not fit is an error that names the missing and unexpected keys.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from moderncnn.errors import CheckpointError
from moderncnn.io import atomic_write, to_json
from moderncnn.models.base import ConvNet

log = logging.getLogger("moderncnn")

#: torchvision's pre-0.3 DenseNet checkpoints name ``norm.1`` what is now ``norm1``.
_DENSENET_OLD = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


def save_weights(model: nn.Module, path: str | Path, **metadata: object) -> None:
    """Save ``model``'s state_dict as safetensors, atomically, with what rebuilds it:
    the registered name, ``num_classes``, ``in_chans``, the options it was built with
    (``model_kwargs``) and any ``metadata`` (JSON)."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {
        "format": "moderncnn",
        "model": getattr(model, "model_name", "") or type(model).__name__,
        "num_classes": str(getattr(model, "num_classes", "")),
        "in_chans": str(getattr(model, "in_chans", "")),
    }
    if getattr(model, "model_kwargs", None):
        meta["model_kwargs"] = to_json(model.model_kwargs)
    meta.update({k: to_json(v) for k, v in metadata.items()})
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a weights file into (state_dict, metadata). ``.safetensors`` files carry metadata;
    other files are read with ``torch.load(weights_only=True)`` (no code runs)."""
    path = weights_path(path)
    try:
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise unreadable(path, e) from None
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):  # common wrappers of training checkpoints
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{str(path)!r} holds no state_dict (a mapping of names to tensors); save one with "
            "torch.save(model.state_dict(), path) or moderncnn.models.weights.save_weights"
        )
    return dict(obj), {}


def weights_path(path: str | Path) -> Path:
    """``path``, a file that exists (checked before anything slow, like decoding a data set)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {str(path)!r} does not exist")
    return path


def unreadable(path: Path, error: Exception, what: str = "weights") -> CheckpointError:
    """Why ``path`` (of ``what``) could not be loaded, in one line. Not torch's advice to load
    it with ``weights_only=False``: that runs whatever code the file holds."""
    try:  # torch's reader raises OSError on bad contents too (EINVAL: a seek past the end)
        with open(path, "rb") as f:
            empty = not f.read(1)
        reason = "it is empty" if empty else _reason(path, error)
    except OSError as e:
        reason = e.strerror or str(e)
    return CheckpointError(f"cannot read {what} from {str(path)!r}: {reason}")


def _reason(path: Path, error: Exception) -> str:
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    if isinstance(error, pickle.UnpicklingError) and found:
        return (
            f"it holds pickled Python objects ({found.group(1)}), not a plain state_dict (names "
            "to tensors); save one with torch.save(model.state_dict(), path)"
        )
    if path.suffix == ".safetensors":
        return str(error)
    return "not a PyTorch weights file, or a truncated or corrupt one"


def _map_key(key: str) -> str:
    if key.startswith("module."):  # saved from DistributedDataParallel / DataParallel
        key = key[len("module.") :]
    m = _DENSENET_OLD.match(key)
    return m.group(1) + m.group(2) if m else key


def adapt_input_conv(in_chans: int, weight: torch.Tensor) -> torch.Tensor:
    """A first convolution's ``weight`` (out, C, kh, kw) for ``in_chans`` input channels, as
    timm adapts pretrained weights: for 1 channel the kernels are summed over the C channels
    (a grey image g then gives what (g, g, g) gave); for more, 3-channel kernels are repeated
    (R, G, B, R...) and scaled by 3 / ``in_chans``, so the response keeps its size (for a
    multiple of 3 channels a constant image gives exactly what it gave). Raises
    :class:`CheckpointError` for other channel counts (C != 3 to more than one channel)."""
    c = weight.shape[1]
    if in_chans == c:
        return weight
    w = weight.float()
    if in_chans == 1:
        w = w.sum(dim=1, keepdim=True)
    elif c == 3:
        repeats = -(-in_chans // 3)
        w = w.repeat(1, repeats, 1, 1)[:, :in_chans] * (3 / in_chans)
    else:
        raise CheckpointError(
            f"cannot adapt a first convolution over {c} input channels to {in_chans}: only "
            "3-channel weights (to any number) or any weights to 1 channel are adapted"
        )
    return w.to(weight.dtype)


def _adapt_first_conv(
    model: nn.Module, state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], name: str
) -> None:
    """Adapt, in ``state``, the first convolution's weight for another number of input channels
    (:func:`adapt_input_conv`), saying so; leave anything else for the shape check."""
    if not isinstance(model, ConvNet):
        return
    key = f"{model.first_conv}.weight"
    theirs, ours = state.get(key), own.get(key)
    if theirs is None or ours is None or theirs.shape == ours.shape or theirs.dim() != 4:
        return
    if theirs.shape[:1] + theirs.shape[2:] != ours.shape[:1] + ours.shape[2:]:
        return
    conv = model.get_submodule(model.first_conv)
    if getattr(conv, "groups", 1) != 1 or ours.shape[1] != model.in_chans:
        return
    try:
        state[key] = adapt_input_conv(model.in_chans, theirs)
    except CheckpointError:
        return  # reported by the shape check, with the file's and the model's shapes
    how = (
        "summed over the channels"
        if model.in_chans == 1
        else f"repeated and scaled by 3/{model.in_chans}"
    )
    log.warning(
        "%s: %s adapted from %d to %d input channels (%s, as timm does)",
        name,
        key,
        theirs.shape[1],
        model.in_chans,
        how,
    )


def load_weights(model: nn.Module, path: str | Path, *, new_head: bool = True) -> list[str]:
    """Load a torchvision ``.pth`` or a moderncnn ``.safetensors`` file into ``model``: see
    :func:`load_state`."""
    state, meta = read_weights(path)
    return load_state(model, state, meta, path, new_head=new_head)


def load_state(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    meta: dict[str, str],
    path: str | Path,
    *,
    new_head: bool = True,
) -> list[str]:
    """Load ``state`` (read from ``path`` with its metadata ``meta``) into ``model``.

    A classifier for another number of classes is left as the model built it (fine-tuning,
    with a message), or, with ``new_head=False``, is an error naming both class counts.
    Returns the keys left so (``[]`` when every tensor loaded).

    Raises :class:`CheckpointError` naming missing and unexpected keys when the file is for
    another architecture.
    """
    name = getattr(model, "model_name", "") or type(model).__name__
    state = {_map_key(k): v for k, v in state.items()}
    own = model.state_dict()

    unexpected = [k for k in state if k not in own]
    optional = getattr(model, "aux_parts", ())
    absent = [k for k in unexpected if k.split(".")[0] in optional]
    if absent:  # training-only parts the model was built without (GoogLeNet's aux heads)
        parts = sorted({k.split(".")[0] for k in absent})
        log.warning(
            "%s: ignored %d tensors of %s: the model was built without them",
            name,
            len(absent),
            ", ".join(parts),
        )
        unexpected = [k for k in unexpected if k not in absent]
    # Files saved before torch 0.4.1 have no BN step counters; torch itself starts them at 0.
    state.update({k: own[k] for k in own if k.endswith("num_batches_tracked") and k not in state})
    missing = [k for k in own if k not in state]
    if missing or unexpected:
        origin = f" (saved from {meta['model']})" if meta.get("model") else ""
        raise CheckpointError(
            f"{str(path)!r}{origin} does not fit {name}: {len(missing)} missing keys "
            f"{_preview(missing)}, {len(unexpected)} unexpected keys {_preview(unexpected)}; "
            "is it a checkpoint for another architecture?"
        )

    _adapt_first_conv(model, state, own, name)
    heads = model.classifier_keys() if isinstance(model, ConvNet) else set()
    mismatched = [k for k in own if state[k].shape != own[k].shape]
    if mismatched and set(mismatched) <= heads:  # another number of classes: fine-tune
        classes = state[mismatched[0]].shape[0]
        if not new_head:
            raise CheckpointError(
                f"{str(path)!r} holds a classifier for {classes} classes "
                f"({', '.join(mismatched)}) and {name} was built for {model.num_classes}, "
                f"so its classifier would stay random. Use weights trained on those "
                f"{model.num_classes} classes, or allow a new, untrained classifier "
                "(new_head=True; moderncnn eval --allow-new-head)"
            )
        log.warning(
            "%s: classifier not loaded (%s): checkpoint has %d classes, model has %d; "
            "every other tensor loaded (fine-tuning)",
            name,
            ", ".join(mismatched),
            classes,
            model.num_classes,
        )
        state.update({k: own[k] for k in mismatched})
    elif mismatched:
        detail = ", ".join(
            f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
            for k in mismatched[:3]
        )
        raise CheckpointError(
            f"{str(path)!r} does not fit {name}: {len(mismatched)} tensors differ in shape "
            f"({detail}); was it saved with other options (in_chans, widths)?"
        )
    model.load_state_dict({k: state[k] for k in own})
    return mismatched  # the new classifier's keys, or none


def _preview(keys: list[str], n: int = 4) -> str:
    return "[" + ", ".join(keys[:n]) + (", ..." if len(keys) > n else "") + "]"


def read_metadata(path: str | Path) -> dict[str, object]:
    """The metadata :func:`save_weights` stored, JSON values decoded; {} for ``.pth`` files.

    Reads the header only, not the tensors."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return {}
    weights_path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as e:
        raise CheckpointError(f"cannot read weights from {str(path)!r}: {e}") from None
    out: dict[str, object] = {}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out
