"""``moderncnn bench``: moderncnn's fast path against a reference, on one machine, in one run.

The reference is what a typical user runs: torchvision's implementation of the same network
(fp32, contiguous NCHW, eager) where torchvision has one, else the same moderncnn network in
fp32, contiguous and eager. ``torchvision-best`` is what a careful user runs: the same model,
eager, with the fast path's dtype under autocast and channels_last (and fused SGD in
training), so the ratio measures what the fast path adds beyond the usual settings. Runs
alternate (A B A B ...) after warm-up so that drift in the machine's speed (turbo, other
processes) hits both sides alike; the figures are medians. Achieved FLOP/s come from
:class:`torch.utils.flop_counter.FlopCounterMode` and are set against the fp32
matrix-multiply rate measured in the same run.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from moderncnn.errors import ModernCNNError
from moderncnn.fast import InferenceModel, prepare_for_inference
from moderncnn.loss import compute_loss
from moderncnn.models import create_model, model_info
from moderncnn.precision import AMP_DTYPES, resolve_amp
from moderncnn.validate import integer, parse_device

MODES = ("train", "infer")
REFERENCES = ("torchvision", "torchvision-best", "eager")
#: ``dtype`` of the fast path, by the ``--amp`` choice it is (:mod:`moderncnn.precision`):
#: 'auto' is bf16 where the device has native bf16, else fp32; fp16 on CUDA only.
DTYPES = {"auto": "auto", "fp32": "none", "bf16": "bf16", "fp16": "fp16"}
#: The largest input batch a benchmark allocates, in bytes (fp32): activations come on top.
MAX_INPUT_BYTES = 2**31


@dataclass
class BenchResult:
    """One benchmark: images/s of ours and the reference (medians), their ratio, FLOP/s."""

    model: str
    mode: str
    batch: int
    input: list[int]
    ours: str  #: what the fast path did
    ref: str  #: what the reference was
    ours_img_s: float
    ref_img_s: float
    ratio: float
    flops_per_img: float
    achieved_gflops: float
    peak_gflops: float
    device: str
    threads: int
    torch: str
    runs: int
    ours_run_s: list[float] = field(default_factory=list)
    ref_run_s: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: torch.device | str = "cpu", n: int = 2048, runs: int = 5) -> float:
    """The fp32 matrix-multiply rate of ``device`` (GFLOP/s, median of ``runs``): the ceiling
    that achieved FLOP/s of a network are compared to."""
    device = torch.device(device)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    rates = []
    for _ in range(runs):
        _sync(device)
        t = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        rates.append(2 * n**3 / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)


def time_alternating(
    fns: list[Callable[[], object]], runs: int, device: torch.device, min_run_s: float = 0.5
) -> list[list[float]]:
    """Seconds per call of each of ``fns``: warm-up, then ``runs`` rounds of A B A B ...,
    each run long enough (``min_run_s``) to average out timer noise."""
    for fn in fns:  # warm-up: allocator, oneDNN primitive caches, compilation
        for _ in range(2):
            fn()
    _sync(device)
    t = time.perf_counter()
    fns[0]()
    _sync(device)
    iters = max(1, round(min_run_s / max(time.perf_counter() - t, 1e-6)))
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, times, strict=True):
            _sync(device)
            t = time.perf_counter()
            for _ in range(iters):
                fn()
            _sync(device)
            out.append((time.perf_counter() - t) / iters)
    return times


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    dtype: torch.dtype,
) -> Callable[[], None]:
    """One training step of ``model`` on the batch ``(x, y)`` (autocast to ``dtype`` unless
    fp32), as a function to time."""

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss, _ = compute_loss(model(x), y, aux_weight=0.3)
        loss.backward()
        optimizer.step()

    return step


def random_train_step(
    name: str, batch: int, dtype: torch.dtype, size: tuple[int, int, int] = (3, 32, 32), **options
) -> Callable[[], None]:
    """A training step of ``create_model(name, **options)`` as the fast path trains it
    (channels_last, fused SGD, autocast to ``dtype`` unless fp32) on one random CPU batch, as
    a function to time (``benchmarks/time_to_accuracy.py``, ``benchmarks/profile_step.py``)."""
    torch.manual_seed(0)
    model = create_model(name, **options).train().to(memory_format=torch.channels_last)
    x = torch.randn(batch, *size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, model.num_classes, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    return train_step(model, opt, x, y, dtype)


def _reference(
    name: str, against: str, num_classes: int, device: torch.device
) -> tuple[nn.Module, str]:
    """The reference model (fp32, contiguous) and its name."""
    tv = model_info(name).torchvision
    if against != "eager" and tv is not None:
        kwargs = {"aux_logits": False, "init_weights": True} if tv == "googlenet" else {}
        model = torchvision.models.get_model(tv, weights=None, num_classes=num_classes, **kwargs)
        return model.to(device), f"torchvision.models.{tv}"
    return create_model(name, num_classes=num_classes).to(device), f"moderncnn {name}"


def _settings(dtype: torch.dtype, channels_last: bool) -> str:
    layout = "channels_last" if channels_last else "contiguous"
    return f"{_dtype_name(dtype)}, {layout}, eager"


def _flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def bench(
    name: str,
    mode: str = "infer",
    batch: int = 32,
    input_size: tuple[int, int, int] | None = None,
    against: str = "torchvision",
    runs: int = 5,
    dtype: str = "auto",
    compile: bool = False,
    device: str = "cpu",
    min_run_s: float = 0.5,
) -> BenchResult:
    """Time moderncnn's fast path for ``name`` against the reference (see module docstring).

    Inference fast path: :func:`moderncnn.fast.prepare_for_inference` (conv-BN folding,
    channels_last, bf16 weights where ``dtype`` says, optional compile). Training fast path:
    channels_last, fused SGD, autocast where ``dtype`` says, optional compile. ``dtype``
    'auto' is bf16 where the device has native bf16, else fp32, in both modes.
    """
    if mode not in MODES:
        raise ModernCNNError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if against not in REFERENCES:
        raise ModernCNNError(f"--against must be one of {', '.join(REFERENCES)}, got {against!r}")
    integer(batch, "--batch", minimum=1)
    integer(runs, "--runs", minimum=1)
    size = input_size or model_info(name).input_size
    if batch * math.prod(size) * 4 > MAX_INPUT_BYTES:
        raise ModernCNNError(
            f"a batch of {batch} inputs of {'x'.join(map(str, size))} is "
            f"{batch * math.prod(size) * 4 / 2**30:.1f} GiB in fp32, over the "
            f"{MAX_INPUT_BYTES / 2**30:g} GiB a benchmark allocates: lower --batch or --input"
        )
    dev = parse_device(device, "--device")
    chosen = _dtype(dtype, dev)
    ours_model = create_model(name, in_chans=size[0]).to(dev)
    ref_model, ref_desc = _reference(name, against, ours_model.num_classes, dev)
    x = torch.randn(batch, *size, device=dev)
    ours_model.check_input(x)  # a clear error before any timing
    best = against == "torchvision-best"
    x_cl = x.contiguous(memory_format=torch.channels_last)
    x_ref = x_cl if best else x
    if best:
        ref_model.to(memory_format=torch.channels_last)
    if mode == "train":
        ours_model = ours_model.train().to(memory_format=torch.channels_last)
        ref_model.train()
        y = torch.randint(0, ours_model.num_classes, (batch,), device=dev)
        fused = dev.type in ("cpu", "cuda")
        opt_ours = torch.optim.SGD(
            ours_model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4, fused=fused
        )
        opt_ref = torch.optim.SGD(
            ref_model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4, fused=fused and best
        )
        step_model = torch.compile(ours_model) if compile else ours_model
        ours_fn = train_step(step_model, opt_ours, x_cl, y, chosen)
        ref_dtype = chosen if best else torch.float32
        ref_fn = train_step(ref_model, opt_ref, x_ref, y, ref_dtype)
        ref_desc += f" {_settings(ref_dtype, best)}" + (", fused SGD" if best else "")
        flops = _flops(train_step(ref_model, opt_ref, x, y, torch.float32))
        desc = f"channels_last, fused SGD, {_dtype_name(chosen)}" + (
            ", compiled" if compile else ""
        )
    else:
        fast = prepare_for_inference(ours_model, dtype=chosen, compile=compile, example=x[:1])
        ref_model.eval()
        ref_dtype = fast.dtype if best else torch.float32
        ref_desc += f" {_settings(ref_dtype, best)}"

        def ref_fn() -> torch.Tensor:
            on = ref_dtype != torch.float32
            with torch.autocast(dev.type, dtype=ref_dtype, enabled=on):
                return ref_model(x_ref)

        ours_fn = lambda: fast(x)  # noqa: E731
        with torch.inference_mode():
            flops = _flops(lambda: ref_model(x))
        desc = _describe(fast, sum(isinstance(m, nn.BatchNorm2d) for m in ours_model.modules()))
    mode_ctx = torch.inference_mode if mode == "infer" else torch.enable_grad
    with mode_ctx():
        ours_t, ref_t = time_alternating([ours_fn, ref_fn], runs, dev, min_run_s)
    ours_s, ref_s = statistics.median(ours_t), statistics.median(ref_t)
    return BenchResult(
        model=name,
        mode=mode,
        batch=batch,
        input=list(size),
        ours=desc,
        ref=ref_desc,
        ours_img_s=batch / ours_s,
        ref_img_s=batch / ref_s,
        ratio=ref_s / ours_s,
        flops_per_img=flops / batch,
        achieved_gflops=flops / ours_s / 1e9,
        peak_gflops=matmul_peak_gflops(dev),
        device=_device_name(dev),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        runs=runs,
        ours_run_s=ours_t,
        ref_run_s=ref_t,
    )


def _dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The fast path's dtype (:data:`DTYPES`), by the rule of every command
    (:func:`moderncnn.precision.resolve_amp`)."""
    if dtype not in DTYPES:
        raise ModernCNNError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return AMP_DTYPES[resolve_amp(DTYPES[dtype], device, "--dtype")]


def _dtype_name(dtype: torch.dtype, autocast: bool = True) -> str:
    name = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    return name if dtype == torch.float32 else f"{name} {'autocast' if autocast else 'weights'}"


def _describe(fast: InferenceModel, bn_before: int) -> str:
    bn_after = sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    parts = [f"{bn_before - bn_after}/{bn_before} BN folded"] if bn_before else []
    if fast.channels_last:
        parts.append("channels_last")
    parts.append(_dtype_name(fast.dtype, autocast=False))
    if fast.compiled:
        parts.append("compiled (Inductor, freezing)")
    return ", ".join(parts)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"cpu ({cpu}, {torch.backends.cpu.get_cpu_capability()})"


__all__ = ["BenchResult", "bench", "matmul_peak_gflops", "time_alternating"]
