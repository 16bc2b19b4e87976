"""Inference fast path: conv-BN folding, channels_last, bfloat16 weights and torch.compile
behind one call, :func:`prepare_for_inference`.

Each step is exact or bounded: folding BN into the conv before it is exact in real
arithmetic (fp32 rounding differs by ~1e-6 relative); channels_last only changes the memory
layout; bf16 stores weights and activations in bfloat16 (8 bits of mantissa; oneDNN and
cuDNN accumulate in fp32), which is why it is used only where the CPU/GPU has native bf16
support, why the classifier stays fp32, and why its accuracy is tested separately
(``tests/test_fast.py``). The weights are converted once, not cast on every call as autocast
would: VGG-16 at batch 1 ran 1.82x torchvision's speed with autocast, 2.26x with its weights
converted once (docs/benchmarks.md).
"""

from __future__ import annotations

import copy
from contextlib import nullcontext

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from moderncnn.models.base import ConvNet
from moderncnn.precision import AMP_DTYPES, resolve_amp
from moderncnn.precision import bf16_supported as bf16_supported  # its former home


def _conv_bn_pairs(model: nn.Module, example: torch.Tensor) -> list[tuple[str, str]]:
    """(conv, bn) module names where the BN's input is exactly the conv's output, found by
    running ``example`` once with hooks, so any graph (branches, concatenations) is handled."""
    names = {m: n for n, m in model.named_modules()}
    produced: dict[int, tuple[str, torch.Tensor]] = {}  # id(output) -> (conv, output kept alive)
    pairs: list[tuple[str, str]] = []
    consumers: dict[str, int] = {}

    def conv_hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        produced[id(out)] = (names[m], out)

    def bn_hook(m: nn.Module, args: tuple) -> None:
        hit = produced.get(id(args[0]))
        if hit is not None:
            pairs.append((hit[0], names[m]))
            consumers[hit[0]] = consumers.get(hit[0], 0) + 1

    handles = []
    for m in model.modules():
        if type(m) is nn.Conv2d:
            handles.append(m.register_forward_hook(conv_hook))
        elif type(m) is nn.BatchNorm2d:
            handles.append(m.register_forward_pre_hook(bn_hook))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    # A conv called more than once, or feeding two BNs, cannot be folded into one of them.
    return [(c, b) for c, b in pairs if consumers[c] == 1 and pairs.count((c, b)) == 1]


def fold_conv_bn(model: nn.Module, example: torch.Tensor) -> int:
    """Fold every BatchNorm that directly follows a conv into that conv (eval mode, in place):
    ``W' = W * gamma / sqrt(var + eps)``, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``.
    The BN becomes an ``nn.Identity``. Returns how many pairs were folded."""
    if model.training:
        raise ValueError(
            "fold_conv_bn needs an eval-mode model: BN uses batch statistics in training"
        )
    pairs = _conv_bn_pairs(model, example)
    for conv_name, bn_name in pairs:
        conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
        model.set_submodule(conv_name, fuse_conv_bn_eval(conv, bn))
        model.set_submodule(bn_name, nn.Identity())
    return len(pairs)


#: Layers run in fp32 in a bf16/fp16 model: LRN (``nn.LocalResponseNorm``'s avg_pool3d has
#: no bf16 CPU kernel; moderncnn's raises a sum of squares to a power, which bf16's 8-bit
#: mantissa would round).
FP32_ONLY: tuple[type[nn.Module], ...] = (nn.LocalResponseNorm,)


class FP32(nn.Module):
    """Runs ``module`` in fp32 inside a bf16/fp16 model; ``cast_back`` returns the input's
    dtype (for a layer in the middle), otherwise fp32 (for the classifier)."""

    def __init__(self, module: nn.Module, cast_back: bool = False) -> None:
        super().__init__()
        self.module = module.float()
        self.cast_back = cast_back

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.module(x.float())
        return out.to(x.dtype) if self.cast_back else out


def keep_classifier_fp32(model: ConvNet) -> str:
    """Wrap the model's main classifier (the layer that produces the logits) in :class:`FP32`
    (in place, after the model was converted to bf16/fp16) and return its name. Logits are
    where reduced precision flips close decisions; the final layer is a small share of the
    compute (4M of VGG-16's 138M weights)."""
    name = next(iter(model.classifier_widths))
    model.set_submodule(name, FP32(model.get_submodule(name)))
    return name


class InferenceModel(nn.Module):
    """Wraps a prepared model for inference (it runs under ``torch.inference_mode``): converts
    the input's layout and dtype to the model's and returns fp32 logits. With ``compile``,
    Inductor compiles the whole call with freezing: weights become constants, pre-packed in
    oneDNN's layouts."""

    def __init__(self, model: nn.Module, dtype: torch.dtype, channels_last: bool,
                 compile: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.model = model
        self.dtype = dtype
        self.channels_last = channels_last
        self.compiled = compile
        self._run = torch.compile(self._forward) if compile else self._forward

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        x = x.to(dtype=self.dtype, memory_format=memory_format)
        return self.model(x).float()

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled:
            import torch._inductor.config as inductor

            freezing = inductor.patch(freezing=True)
        else:
            freezing = nullcontext()
        with freezing:
            if isinstance(self.model, ConvNet):  # a clear error before any compilation
                self.model.check_input(x)
            return self._run(x)


def prepare_for_inference(
    model: nn.Module,
    *,
    dtype: torch.dtype | str | None = "auto",
    channels_last: bool = True,
    fold_bn: bool = True,
    compile: bool = False,
    example: torch.Tensor | None = None,
) -> InferenceModel:
    """A copy of ``model`` made fast for inference, in eval mode.

    Args:
        dtype: ``torch.float32``, ``torch.bfloat16``, ``torch.float16`` (GPU), or
            ``"auto"``: bfloat16 where the device supports it natively, else float32
            (:func:`moderncnn.precision.resolve_amp`).
        channels_last: NHWC memory layout (oneDNN and cuDNN's fastest convolutions).
        fold_bn: fold BatchNorm into the preceding conv (:func:`fold_conv_bn`).
        compile: wrap with ``torch.compile`` (Inductor with freezing: parameters are folded
            in as constants, so later changes to the model's weights are not seen); the
            first call compiles (seconds).
        example: an input batch used to trace conv-BN pairs; default: one image at the
            model's default input size (``model_info``) or 224x224.
    """
    device = next(model.parameters()).device
    if dtype == "auto":
        dtype = AMP_DTYPES[resolve_amp("auto", device)]
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"dtype must be float32, bfloat16, float16 or 'auto', got {dtype}")
    model = copy.deepcopy(model).eval()
    if example is None:
        example = torch.randn(1, *_default_input(model), device=device)
    if fold_bn:
        fold_conv_bn(model, example)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if dtype != torch.float32:
        model = model.to(dtype)
        if isinstance(model, ConvNet):
            keep_classifier_fp32(model)
        for name, m in list(model.named_modules()):
            if isinstance(m, FP32_ONLY):
                model.set_submodule(name, FP32(m, cast_back=True))
    return InferenceModel(model, dtype, channels_last, compile).eval()


def _default_input(model: nn.Module) -> tuple[int, int, int]:
    from moderncnn.models import model_info

    name = getattr(model, "model_name", "")
    if name:
        return model_info(name).input_size
    return (getattr(model, "in_chans", 3), 224, 224)
