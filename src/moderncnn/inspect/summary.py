"""Per-layer summary: output shape, parameters, MACs, receptive field and memory per module.

Compute is counted by :class:`torch.utils.flop_counter.FlopCounterMode` per module; it counts
convolutions and matrix products (linear layers) only, at 2 FLOPs per multiply-accumulate,
so MACs = FLOPs / 2 and BN, activations and pooling cost nothing. Registered networks are
built on the ``meta`` device: shapes, counts and fields with no memory and no arithmetic.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from moderncnn.errors import ModernCNNError
from moderncnn.inspect.fields import Field, FieldTracker, last_maps, probe_input
from moderncnn.models.base import ConvNet
from moderncnn.models.probe import InputSize, build_meta
from moderncnn.validate import integer


@dataclass(frozen=True)
class Layer:
    """One module of the summary. ``output_shape`` (without the batch), ``field`` and
    ``memory`` (the output's size in bytes) are None for modules that did not run (GoogLeNet's
    auxiliary heads at inference); ``field`` also for non-spatial outputs."""

    name: str
    type: str
    depth: int
    params: int
    macs: int
    output_shape: tuple[int, ...] | None
    field: Field | None
    memory: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "depth": self.depth,
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "params": self.params,
            "macs": self.macs,
            **_field_json(self.field),
            "memory_bytes": self.memory,
        }


def _field_json(field: Field | None) -> dict[str, object]:
    """``receptive_field`` and ``jump``: numbers, [height, width] lists where they differ."""
    if field is None:
        return {"receptive_field": None, "jump": None}
    size, jump = field.size, field.jump
    return {
        "receptive_field": list(size) if isinstance(size, tuple) else size,
        "jump": list(jump) if isinstance(jump, tuple) else jump,
    }


@dataclass(frozen=True)
class Summary:
    """Totals at batch 1 and per-module rows to the requested depth. ``field`` is the
    receptive field of the last spatial map; ``activations`` the bytes of all distinct
    leaf-module outputs (in-place ops counted once). ``params`` counts the inference network;
    ``aux_params`` the training-only auxiliary heads (GoogLeNet's), which do not run here."""

    model: str
    input: InputSize
    params: int
    macs: int
    field: Field | None
    activations: int
    layers: list[Layer] = field(default_factory=list)
    aux_params: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input": list(self.input),
            "params": self.params,
            "aux_params": self.aux_params,
            "macs": self.macs,
            "flops": self.flops,
            **_field_json(self.field),
            "activation_bytes": self.activations,
            "layers": [layer.to_dict() for layer in self.layers],
        }


def summarize(
    model: str | nn.Module, input_size: InputSize | None = None, depth: int = 2
) -> Summary:
    """Summarise a registered network by name (built on ``meta``) or any module (run on its
    own device, in its current mode: call ``.eval()`` first) at batch 1.

    Args:
        model: a name from :func:`moderncnn.list_models`, or a module.
        input_size: (C, H, W); a registered network's default when None.
        depth: module nesting depth of the rows: 1 for the top-level children, 0 for none.
    """
    integer(depth, "depth")
    if isinstance(model, str):
        name = model
        model, input_size = build_meta(model, input_size)
    elif input_size is None:
        raise ModernCNNError("summarize(module) needs an input_size (C, H, W)")
    else:
        name = getattr(model, "model_name", "") or type(model).__name__
    outputs: dict[str, tuple[torch.Tensor, Field | None]] = {}
    tracker, flops = FieldTracker(), FlopCounterMode(display=False)
    with ExitStack() as hooks:
        for n, m in model.named_modules():
            if n:
                hooks.callback(m.register_forward_hook(_record(outputs, n, tracker)).remove)
        with torch.no_grad(), tracker, flops, last_maps(model) as maps:
            model(tracker.track(probe_input(model, input_size)))  # checks the input size

    per_module = flops.get_flop_counts()
    root = type(model).__name__
    layers = []
    for n, m in model.named_modules():
        level = n.count(".") + 1
        if not n or level > depth:
            continue
        out, out_field = outputs.get(n, (None, None))
        layers.append(
            Layer(
                name=n,
                type=type(m).__name__,
                depth=level,
                params=sum(p.numel() for p in m.parameters()),
                macs=sum(per_module.get(f"{root}.{n}", {}).values()) // 2,
                output_shape=None if out is None else tuple(out.shape[1:]),
                field=out_field,
                memory=None if out is None else _nbytes(out),
            )
        )
    return Summary(
        model=name,
        input=tuple(input_size),  # type: ignore[arg-type]
        params=_num_params(model),
        macs=flops.get_total_flops() // 2,
        field=tracker.field(maps[-1]),
        activations=_leaf_activations(model, outputs),
        layers=layers,
        aux_params=_num_params(model, aux=True),
    )


def _num_params(model: nn.Module, aux: bool = False) -> int:
    if isinstance(model, ConvNet):
        return model.num_params(aux)
    return 0 if aux else sum(p.numel() for p in model.parameters())


def _record(
    outputs: dict[str, tuple[torch.Tensor, Field | None]], name: str, tracker: FieldTracker
):
    """Forward hook keeping the module's (first) output tensor and its field as it leaves the
    module (a later in-place add may widen it); a module run twice (a shared ReLU) keeps
    its last call."""

    def hook(module: nn.Module, args: tuple, output: object) -> None:
        tensors = [t for t in tree_leaves(output) if isinstance(t, torch.Tensor)]
        if tensors:
            outputs[name] = tensors[0], tracker.field(tensors[0])

    return hook


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _leaf_activations(
    model: nn.Module, outputs: dict[str, tuple[torch.Tensor, Field | None]]
) -> int:
    """Bytes of the distinct outputs of modules without children (an in-place ReLU returns
    its input: counted once)."""
    leaves = [n for n, m in model.named_modules() if n and next(m.children(), None) is None]
    distinct = {id(out[0]): out[0] for n in leaves if (out := outputs.get(n)) is not None}
    return sum(_nbytes(t) for t in distinct.values())
