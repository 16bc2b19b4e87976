"""Receptive fields, propagated through the network's real graph.

Along one axis a layer's field is three numbers (Araujo, Norris & Sim, "Computing Receptive
Fields of Convolutional Neural Networks", Distill 2019):

* ``size`` r: how many input pixels one unit sees;
* ``jump`` j: input pixels between neighbouring units (the product of the strides so far);
* ``start`` s: centre of the first unit's field, in input pixel coordinates.

A k x k window with stride t, padding p and dilation d maps (r, j, s) to
(r + (k' - 1) j, j t, s + ((k' - 1) / 2 - p) j), where k' = d (k - 1) + 1. Where paths meet
(a residual add, an Inception or DenseNet concatenation) the field is the union of the
incoming ones, so a layer's field is the largest over all paths into it.

:class:`FieldTracker` follows every torch function a forward pass calls (a
:class:`~torch.overrides.TorchFunctionMode`), so functional code (``F.relu``, ``torch.cat``,
``out + identity``, ``x[:, :, ::2, ::2]``) counts as much as modules do. Fields are
theoretical: they include padding and may exceed the image. Run it on ``meta`` tensors for
shapes and fields without memory or arithmetic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves
from torch.utils.weak import WeakTensorKeyDictionary

from moderncnn.models.base import ConvNet


def _number(x: float) -> int | float:
    """``3.0 -> 3``; fractional values (adaptive pooling's mean stride) keep two decimals."""
    return int(x) if float(x).is_integer() else round(x, 2)


@dataclass(frozen=True)
class Axis:
    """A field along one axis: ``size`` and ``jump`` in input pixels, ``start`` the centre of
    unit 0's field (pixel ``i`` has centre ``i``)."""

    size: float
    jump: float
    start: float

    def span(self, unit: int = 0) -> tuple[float, float]:
        """First and last input pixel that output unit ``unit`` sees."""
        centre = self.start + unit * self.jump
        return centre - (self.size - 1) / 2, centre + (self.size - 1) / 2

    def window(self, kernel: int, stride: float = 1, padding: float = 0, dilation: int = 1) -> Axis:
        """The field after a sliding window (convolution, pooling, strided slicing)."""
        reach = dilation * (kernel - 1)  # k' - 1
        return Axis(
            self.size + reach * self.jump,
            self.jump * stride,
            self.start + (reach / 2 - padding) * self.jump,
        )

    def union(self, other: Axis) -> Axis:
        """The field of a unit fed by both paths: the hull of the two spans. The jumps of maps
        that meet are equal in these networks; the larger is kept otherwise."""
        (lo1, hi1), (lo2, hi2) = self.span(), other.span()
        lo, hi = min(lo1, lo2), max(hi1, hi2)
        return Axis(hi - lo + 1, max(self.jump, other.jump), (lo + hi) / 2)


class Field(NamedTuple):
    """Receptive field of a 4-D (N, C, H, W) map: one :class:`Axis` per spatial dimension."""

    h: Axis
    w: Axis

    @property
    def size(self) -> int | float | tuple[int | float, int | float]:
        """Receptive field in pixels: one number when square, else (height, width)."""
        return _square(self.h.size, self.w.size)

    @property
    def jump(self) -> int | float | tuple[int | float, int | float]:
        """Effective stride in input pixels: one number when square, else (height, width)."""
        return _square(self.h.jump, self.w.jump)

    def union(self, other: Field) -> Field:
        return Field(self.h.union(other.h), self.w.union(other.w))


def _square(h: float, w: float) -> int | float | tuple[int | float, int | float]:
    return _number(h) if h == w else (_number(h), _number(w))


#: The input image: every pixel sees itself.
INPUT_FIELD = Field(Axis(1, 1, 0), Axis(1, 1, 0))


def _pair(v: int | tuple[int, ...] | list[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[-1])


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _windowed(
    field: Field,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[float, float],
    dilation: tuple[int, int] = (1, 1),
) -> Field:
    per_axis = zip(kernel, stride, padding, dilation, strict=True)
    return Field(*(a.window(*p) for a, p in zip(field, per_axis, strict=True)))


# A rule maps the field of an op's first tracked input, the op's arguments and its output to
# the output's field; None leaves the output untracked.
Rule = Callable[[Field, tuple, dict, torch.Tensor], Field | None]


def _conv(field: Field, args: tuple, kwargs: dict, out: torch.Tensor) -> Field:
    kernel = tuple(_arg(args, kwargs, 1, "weight").shape[-2:])
    stride = _pair(_arg(args, kwargs, 3, "stride", 1))
    dilation = _pair(_arg(args, kwargs, 5, "dilation", 1))
    padding = _arg(args, kwargs, 4, "padding", 0)
    if padding == "valid":
        padding = 0
    elif padding == "same":  # PyTorch puts the odd pixel of an even total on the right
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
    return _windowed(field, kernel, stride, _pair(padding), dilation)


def _pool(field: Field, args: tuple, kwargs: dict, out: torch.Tensor, dilated: bool) -> Field:
    """``max_pool2d(x, kernel, stride, padding, dilation, ...)`` and ``avg_pool2d(x, kernel,
    stride, padding, ...)``. Ceil mode adds a last, partial window: the field is unchanged."""
    kernel = _pair(_arg(args, kwargs, 1, "kernel_size"))
    stride = _arg(args, kwargs, 2, "stride")
    stride = _pair(stride) if stride else kernel  # None or [] mean "the kernel size"
    padding = _pair(_arg(args, kwargs, 3, "padding", 0))
    dilation = _pair(_arg(args, kwargs, 4, "dilation", 1)) if dilated else (1, 1)
    return _windowed(field, kernel, stride, padding, dilation)


def _adaptive_axis(axis: Axis, n: int, o: int) -> Axis:
    """Adaptive pooling of ``n`` to ``o`` units: unit i pools [floor(i n/o), ceil((i+1) n/o)).
    Exactly a window when ``o`` divides ``n`` (global pooling, an identity); otherwise the
    widest window and the mean stride."""
    widest = max(math.ceil((i + 1) * n / o) - (i * n) // o for i in range(o))
    first = math.ceil(n / o)
    return Axis(
        axis.size + (widest - 1) * axis.jump,
        axis.jump * n / o,
        axis.start + (first - 1) / 2 * axis.jump,
    )


def _adaptive(field: Field, args: tuple, kwargs: dict, out: torch.Tensor) -> Field:
    sizes = zip(args[0].shape[-2:], out.shape[-2:], strict=True)
    return Field(*(_adaptive_axis(a, n, o) for a, (n, o) in zip(field, sizes, strict=True)))


def _getitem(field: Field, args: tuple, kwargs: dict, out: torch.Tensor) -> Field | None:
    """Basic slicing ``x[:, :, a::s, b::s]`` (ResNet's option-A shortcut subsamples so) or
    ``x[..., a::s, b::s]``; other indexing leaves the output untracked."""
    index = args[1] if isinstance(args[1], tuple) else (args[1],)
    dots = [k for k, i in enumerate(index) if i is Ellipsis]
    if dots:
        index = index[: dots[0]] + (slice(None),) * (5 - len(index)) + index[dots[0] + 1 :]
    index = index + (slice(None),) * (4 - len(index))
    if len(index) != 4 or not all(isinstance(i, slice) for i in index[2:]):
        return None
    sizes = args[0].shape[-2:]
    slices = [i.indices(n) for i, n in zip(index[2:], sizes, strict=True)]
    return Field(
        *(a.window(1, step, -first) for a, (first, _, step) in zip(field, slices, strict=True))
    )


def _pad(field: Field, args: tuple, kwargs: dict, out: torch.Tensor) -> Field:
    """``F.pad(x, (left, right, top, bottom, ...))``: output pixel 0 is input pixel -left."""
    pad = tuple(_arg(args, kwargs, 1, "pad")) + (0, 0, 0, 0)
    return Field(field.h.window(1, 1, pad[2]), field.w.window(1, 1, pad[0]))


_RULES: dict[Callable, Rule] = {
    F.conv2d: _conv,
    F.max_pool2d: functools.partial(_pool, dilated=True),
    F.avg_pool2d: functools.partial(_pool, dilated=False),
    F.adaptive_avg_pool2d: _adaptive,
    F.adaptive_max_pool2d: _adaptive,
    torch.Tensor.__getitem__: _getitem,
    F.pad: _pad,
}


class FieldTracker(TorchFunctionMode):
    """Attach a :class:`Field` to every 4-D tensor computed from a tracked one.

    Convolutions, pooling (plain and adaptive), slicing and padding have rules. Any other
    op whose output has the spatial size of all its tracked inputs (activations, BN,
    dropout, LRN, residual adds, channel concatenation) is pointwise in space: its output
    sees the union of its inputs' fields. Other ops (flatten, linear) leave the output
    untracked. Usage::

        tracker = FieldTracker()
        with tracker:
            y = model(tracker.track(x))
        tracker.field(y)
    """

    def __init__(self) -> None:
        super().__init__()
        self._fields = WeakTensorKeyDictionary()

    def track(self, x: torch.Tensor, field: Field = INPUT_FIELD) -> torch.Tensor:
        self._fields[x] = field
        return x

    def field(self, x: torch.Tensor) -> Field | None:
        return self._fields.get(x)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.dim() == 4]
        if outputs:
            field = self._propagate(func, args, kwargs, outputs[0])
            for t in outputs:
                if field is None:  # also forgets the field of a tensor changed in place
                    self._fields.pop(t, None)
                else:
                    self._fields[t] = field
        return out

    def _propagate(
        self, func: Callable, args: tuple, kwargs: dict, out: torch.Tensor
    ) -> Field | None:
        inputs = [
            (t, self._fields[t])
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor) and t in self._fields
        ]
        if not inputs:
            return None
        rule = _RULES.get(func)
        if rule is not None:
            return rule(inputs[0][1], args, kwargs, out)
        if any(t.shape[-2:] != out.shape[-2:] for t, _ in inputs):
            return None
        return functools.reduce(Field.union, (f for _, f in inputs))


def probe_input(model: nn.Module, input_size: tuple[int, int, int]) -> torch.Tensor:
    """A zero batch of one (C, H, W) image on the device and in the dtype of ``model``'s
    parameters (``meta`` for a meta model: nothing is allocated)."""
    p = next(model.parameters(), torch.empty(0))
    return torch.zeros(1, *input_size, device=p.device, dtype=p.dtype)


@contextmanager
def last_maps(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect each forward pass's last spatial map while active: the input of a
    :class:`ConvNet`'s ``forward_head`` (the last feature map), the output of other modules."""
    maps: list[torch.Tensor] = []
    with ExitStack() as stack:
        if isinstance(model, ConvNet):
            head = model.forward_head

            def record(x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
                maps.append(x)
                return head(x, pre_logits)

            model.forward_head = record  # an instance attribute shadows the method
            stack.callback(delattr, model, "forward_head")
        else:
            hook = model.register_forward_hook(lambda module, args, out: maps.append(out))
            stack.callback(hook.remove)
        yield maps


def feature_field(model: nn.Module, input_size: tuple[int, int, int]) -> Field | None:
    """Receptive field of the last spatial map (see :func:`last_maps`) at batch 1, from a
    forward pass on the model's device (``meta`` for large networks) in its current mode;
    None when that output is not a 4-D map."""
    tracker = FieldTracker()
    with torch.no_grad(), tracker, last_maps(model) as maps:
        model(tracker.track(probe_input(model, input_size)))
    return tracker.field(maps[-1])
