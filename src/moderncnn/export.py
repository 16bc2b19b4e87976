"""Export a network to ONNX or to a ``torch.export`` program (``.pt2``), checked against eager.

Both formats start from one capture, :func:`torch.export.export` (non-strict) of the model in
eval mode: the ``.pt2`` file is that program, the ONNX file its translation by
``torch.onnx.export`` (the dynamo exporter, which needs ``onnx`` and ``onnxscript``). Capturing
here rather than inside ``torch.onnx.export`` keeps a dynamic batch honest: torch.onnx retries a
failed dynamic capture with the dimension made static and would write a fixed-batch file
without saying so.

Both carry what a deployer needs to prepare an image and name the output (:func:`deploy_info`:
input size, resize, crop, interpolation, mean, std, class names, from the model's
``pretrained_cfg``): in the ONNX model's ``metadata_props`` (JSON values; onnxruntime's
``session.get_modelmeta().custom_metadata_map``), and for a ``.pt2`` in a JSON file beside it
(``model.pt2`` -> ``model.json``).

The written file is read back and run (onnxruntime, or ``torch.export.load``) on a random
batch, at two batch sizes when the batch is dynamic, and compared with the eager model: the
largest absolute difference of the logits, and that difference relative to the logit range,
which must stay within :data:`TOLERANCE` (the bound :mod:`moderncnn.fast` is held to).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moderncnn.data.transforms import resolve_data_config
from moderncnn.errors import ExportError
from moderncnn.fast import fold_conv_bn
from moderncnn.io import atomic_write, to_json
from moderncnn.models import ConvNet, create_model, model_info
from moderncnn.models.probe import InputSize
from moderncnn.models.weights import read_metadata
from moderncnn.predict import class_names
from moderncnn.validate import output_file

#: Export format -> the file name's suffix.
FORMATS = {"onnx": ".onnx", "exported-program": ".pt2"}
#: ONNX opsets torch 2.14 writes natively (its ONNX functions are written for opset 18; it
#: converts up to 23); lower ones go through a version converter that may silently stay at 18.
OPSETS = range(18, 24)
#: Largest difference from eager accepted, relative to the range of the eager logits.
TOLERANCE = 1e-4
#: Batch sizes a dynamic-batch export is checked at; it is captured at batch 2, since
#: torch.export makes a dimension of size 1 static.
DYNAMIC_BATCHES = (1, 4)
ONNX_INSTALL = "pip install 'moderncnn[onnx]'"


@dataclass(frozen=True)
class Parity:
    """The exported model against eager at one batch size."""

    batch: int
    max_abs_diff: float
    logit_range: float  #: max - min of the eager logits
    relative: float  #: max_abs_diff / logit_range


@dataclass
class ExportResult:
    """What was written, how, and how closely it reproduces the eager model."""

    model: str
    format: str
    path: str
    size_bytes: int
    input: list[int]  #: (C, H, W)
    dynamic_batch: bool
    batch: int | None  #: the fixed batch size; None when dynamic
    opset: int | None  #: ONNX only
    fast: bool  #: conv-BN folded before export (parity is still against the unfolded model)
    bn_folded: int | None  #: BatchNorm layers folded (--fast), of ``bn_total``
    bn_total: int
    #: What the file carries to prepare its input and name its outputs (:func:`deploy_info`),
    #: and where: "metadata_props" (ONNX) or the JSON file beside the ``.pt2``.
    deploy: dict
    deploy_in: str
    checked_with: str  #: the runtime that ran the file, e.g. "onnxruntime 1.32.0"
    not_checked: str  #: why parity was not checked; "" when it was
    parity: list[Parity]
    tolerance: float  #: see :data:`TOLERANCE`

    @property
    def ok(self) -> bool | None:
        """Every check within :attr:`tolerance`; None when parity was not checked."""
        if not self.parity:
            return None
        return all(p.relative <= self.tolerance for p in self.parity)

    def to_dict(self) -> dict:
        return asdict(self) | {"parity_ok": self.ok}


def export_model(
    name: str,
    output: str | Path,
    format: str = "onnx",
    *,
    weights: str | Path | None = None,
    input_size: InputSize | None = None,
    dynamic_batch: bool = False,
    fast: bool = False,
    opset: int | None = None,
) -> ExportResult:
    """Build ``name`` (with ``weights``; ``num_classes`` and ``in_chans`` from a moderncnn
    ``.safetensors`` file's metadata) and :func:`export` it at ``input_size`` (default: the
    model's)."""
    output = Path(output)
    _check_request(format, output, opset)  # before anything is built
    meta = read_metadata(weights) if weights is not None else {}
    default = model_info(name).input_size
    in_chans = meta.get("in_chans")
    if input_size is None:
        input_size = (in_chans if isinstance(in_chans, int) else default[0], *default[1:])
    num_classes = meta.get("num_classes")
    model = create_model(
        name,
        num_classes=num_classes if isinstance(num_classes, int) else None,
        in_chans=input_size[0],
        weights=weights,
    )
    return export(
        model, output, format, input_size, dynamic_batch=dynamic_batch, fast=fast, opset=opset
    )


def export(
    model: nn.Module,
    output: str | Path,
    format: str,
    input_size: InputSize,
    *,
    dynamic_batch: bool = False,
    fast: bool = False,
    opset: int | None = None,
) -> ExportResult:
    """Export ``model`` (on the CPU; switched to eval mode) for (N, C, H, W) = (1 or dynamic,
    ``input_size``) inputs, write ``output`` atomically and check it against eager.

    Args:
        format: ``"onnx"`` or ``"exported-program"`` (:data:`FORMATS`).
        dynamic_batch: a dynamic batch dimension (named ``batch``), checked at
            :data:`DYNAMIC_BATCHES`; without it the batch is fixed at 1.
        fast: export the conv-BN-folded fp32 network (:func:`moderncnn.fast.fold_conv_bn`).
        opset: ONNX opset (:data:`OPSETS`; default: torch's, 20).
    """
    output = Path(output)
    _check_request(format, output, opset)
    name = getattr(model, "model_name", "") or type(model).__name__
    model.eval()
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(2 if dynamic_batch else 1, *input_size, generator=gen)
    checks = [
        torch.randn(b, *input_size, generator=gen)
        for b in (DYNAMIC_BATCHES if dynamic_batch else (1,))
    ]
    with torch.no_grad():
        expected = [model(x) for x in checks]  # a wrong input size fails here, clearly
    bn_total = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    bn_folded = None
    if fast:
        model = copy.deepcopy(model)
        bn_folded = fold_conv_bn(model, example)
    program = _capture(model, example, dynamic_batch, name, format)
    opset_written = None
    deploy = deploy_info(model, input_size)
    if format == "onnx":
        opset_written = _write_onnx(program, output, dynamic_batch, opset, name, deploy)
        run, checked_with = _onnxruntime(output)
        deploy_in = "metadata_props"
    else:
        atomic_write(output, lambda tmp: torch.export.save(program, tmp), suffix=".pt2")
        sidecar = output.with_suffix(".json")
        atomic_write(sidecar, lambda tmp: Path(tmp).write_text(to_json(deploy, indent=2)))
        run = torch.export.load(output).module()
        checked_with = f"torch.export.load (torch {torch.__version__})"
        deploy_in = str(sidecar)
    parity = _check(run, checks, expected, output) if run is not None else []
    return ExportResult(
        model=name,
        format=format,
        path=str(output),
        size_bytes=output.stat().st_size,
        input=list(input_size),
        dynamic_batch=dynamic_batch,
        batch=None if dynamic_batch else 1,
        opset=opset_written,
        fast=fast,
        bn_folded=bn_folded,
        bn_total=bn_total,
        deploy=deploy,
        deploy_in=deploy_in,
        checked_with=checked_with,
        not_checked="" if run is not None else f"onnxruntime is not installed ({ONNX_INSTALL})",
        parity=parity,
        tolerance=TOLERANCE,
    )


def deploy_info(model: nn.Module, input_size: InputSize) -> dict[str, Any]:
    """What an exported file needs beside its graph: the model and weights' names, the input
    size it takes, how to prepare an image for it (resize the shorter side, centre crop,
    interpolation, mean and std: the model's ``pretrained_cfg``, the crop being the input's
    size and the resize scaled with it) and its class names (``"class 0"``... when the weights
    carry none; none for a model without classifier)."""
    cfg = resolve_data_config(model)
    crop = input_size[-1]
    names = class_names(model) if isinstance(model, ConvNet) and model.num_classes else []
    weights = model.pretrained_cfg.weights if getattr(model, "pretrained_cfg", None) else ""
    return {
        "model": getattr(model, "model_name", "") or type(model).__name__,
        "weights": Path(weights).name if weights and Path(weights).exists() else weights,
        "input_size": list(input_size),
        "resize": round(crop * cfg.resize / cfg.crop),
        "crop": crop,
        "interpolation": cfg.interpolation,
        "mean": list(cfg.mean),
        "std": list(cfg.std),
        "classes": names,
    }


def _check_request(format: str, output: Path, opset: int | None) -> None:
    """Raise :class:`ExportError` for an unknown format, a file name or opset that does not
    fit it or missing ONNX packages; :class:`ConfigError` for an output path that cannot be
    written."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; formats: {', '.join(FORMATS)}")
    suffix = FORMATS[format]
    if output.suffix != suffix:
        raise ExportError(f"--format {format} writes a {suffix} file; got -o {str(output)!r}")
    if opset is not None and format != "onnx":
        raise ExportError(f"--opset applies to --format onnx only, not {format}")
    if opset is not None and opset not in OPSETS:
        raise ExportError(f"ONNX opset must be {OPSETS[0]} to {OPSETS[-1]}, got {opset}")
    if format == "onnx" and (find_spec("onnx") is None or find_spec("onnxscript") is None):
        raise ExportError(f"ONNX export needs the onnx and onnxscript packages: {ONNX_INSTALL}")
    output_file(output, suffix)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the exporters' progress logs, warnings and failure dumps (torch.export prints the
    partial graph to stderr) off the terminal: the result or a one-line error says it all."""
    loggers = [logging.getLogger(n) for n in ("torch", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _capture(
    model: nn.Module, example: torch.Tensor, dynamic_batch: bool, name: str, format: str
) -> torch.export.ExportedProgram:
    shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    with _quiet():
        try:
            return torch.export.export(model, (example,), dynamic_shapes=shapes, strict=False)
        except Exception as e:
            hint = ""
            if dynamic_batch:
                with contextlib.suppress(Exception):
                    torch.export.export(model, (example[:1],), strict=False)
                    hint = "; it exports with a fixed batch of 1 (without --dynamic-batch)"
            raise _failure(name, format, dynamic_batch, e, hint) from e


def _write_onnx(
    program: torch.export.ExportedProgram,
    output: Path,
    dynamic_batch: bool,
    opset: int | None,
    name: str,
    deploy: dict[str, Any],
) -> int:
    """Translate ``program`` to ONNX, with ``deploy`` in its metadata_props (JSON values),
    write it as one file and return its opset."""
    with _quiet():
        try:
            onnx_program = torch.onnx.export(
                program,
                verbose=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"],
                dynamic_shapes=({0: "batch"},) if dynamic_batch else None,  # names the axis
            )
        except Exception as e:
            raise _failure(name, "onnx", dynamic_batch, e) from e
    onnx_program.model.metadata_props.update({k: to_json(v) for k, v in deploy.items()})
    atomic_write(output, lambda tmp: onnx_program.save(tmp, external_data=False))
    return onnx_program.model.opset_imports[""]


def _onnxruntime(path: Path) -> tuple[Callable[[torch.Tensor], torch.Tensor] | None, str]:
    """A function running ``path`` in onnxruntime on the CPU, and the runtime's name; (None,
    "") when onnxruntime is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None, ""
    runtime = f"onnxruntime {onnxruntime.__version__}"
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ExportError(
            f"{str(path)!r} was written, but {runtime} cannot load it: {_first_line(e)}; "
            "try a lower --opset or a newer onnxruntime"
        ) from e
    input_name = session.get_inputs()[0].name
    return lambda x: torch.from_numpy(session.run(None, {input_name: x.numpy()})[0]), runtime


def _check(
    run: Callable[[torch.Tensor], torch.Tensor],
    inputs: list[torch.Tensor],
    expected: list[torch.Tensor],
    output: Path,
) -> list[Parity]:
    """Run the written file on ``inputs`` and compare with the eager logits."""
    parity = []
    for x, ref in zip(inputs, expected, strict=True):
        try:
            with torch.no_grad():
                out = run(x)
        except Exception as e:
            raise ExportError(
                f"{str(output)!r} was written, but fails on a batch of {x.shape[0]}: "
                f"{_first_line(e)}"
            ) from e
        parity.append(_parity(out, ref))
    return parity


def _parity(out: torch.Tensor, ref: torch.Tensor) -> Parity:
    diff = (out.float() - ref).abs().max().item()
    span = (ref.max() - ref.min()).item()
    relative = diff / span if span > 0 else (0.0 if diff == 0 else math.inf)
    return Parity(ref.shape[0], diff, span, relative)


def _failure(
    name: str, format: str, dynamic_batch: bool, e: BaseException, hint: str = ""
) -> ExportError:
    """The exporter's error in one line: which model and format, and the root cause."""
    while e.__cause__ is not None:
        e = e.__cause__
    how = " with a dynamic batch" if dynamic_batch else ""
    return ExportError(f"{name} cannot be exported to {format}{how}: {_first_line(e)}{hint}")


def _first_line(e: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # torch.onnx colours its messages
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(e).__name__}: {first}" if first else type(e).__name__
