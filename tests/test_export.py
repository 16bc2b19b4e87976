"""``moderncnn export``: ONNX and torch.export files that reproduce the eager model, read back
and run on their own (onnxruntime, torch.export.load), and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest
import torch
from torch import nn

import tiny_model  # noqa: F401  (registers tiny_test_net: the command's behaviour, quickly)
from conftest import input_dependent, n_params
from moderncnn import ConvNet, create_model
from moderncnn.cli import main
from moderncnn.errors import ExportError
from moderncnn.export import FORMATS, export, export_model
from moderncnn.models.weights import save_weights

MISSING = [m for m in ("onnx", "onnxscript", "onnxruntime") if find_spec(m) is None]
needs_onnx = pytest.mark.skipif(
    bool(MISSING),
    reason=f"{', '.join(MISSING)} not installed: pip install -e '.[dev]' (or '.[onnx]')",
)
CLASSES = 7  #: the weights files' classes, which the export reads from their metadata


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, ConvNet]]:
    """A .safetensors file per model, with weights whose logits depend on the input, and the
    eager model (eval mode) holding them."""
    folder = tmp_path_factory.mktemp("weights")
    cache: dict[str, tuple[Path, ConvNet]] = {}

    def get(name: str) -> tuple[Path, ConvNet]:
        if name not in cache:
            torch.manual_seed(0)
            model = input_dependent(create_model(name, num_classes=CLASSES))
            save_weights(model, folder / f"{name}.safetensors")
            cache[name] = folder / f"{name}.safetensors", model
        return cache[name]

    return get


def _load(path: Path, fmt: str) -> tuple[Callable[[torch.Tensor], torch.Tensor], int]:
    """The written file on its own: a function running it, and its BatchNorm operations."""
    if fmt == "exported-program":
        program = torch.export.load(path)
        ops = [str(n.target) for n in program.graph.nodes if n.op == "call_function"]
        return program.module(), sum("batch_norm" in op for op in ops)
    import onnx
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    bns = sum(n.op_type == "BatchNormalization" for n in onnx.load(path).graph.node)
    return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0]), bns


# Each family in both formats, --dynamic-batch and --fast spread over them; the last number is
# the BatchNorm layers --fast folds (every BN that directly follows a conv; 0 without --fast).
CASES = [
    ("alexnet_cifar", 32, "onnx", False, False, 0),
    ("alexnet_cifar", 32, "exported-program", True, False, 0),
    ("vgg11_cifar", 32, "onnx", True, True, 8),
    ("vgg11_cifar", 32, "exported-program", False, True, 8),
    ("googlenet_cifar", 32, "onnx", False, True, 55),
    ("googlenet_cifar", 32, "exported-program", False, False, 0),
    ("resnet20", 32, "onnx", True, False, 0),
    ("resnet20", 32, "exported-program", False, True, 19),
    ("densenet40_k12", 32, "onnx", False, False, 0),
    ("densenet40_k12", 32, "exported-program", False, True, 0),  # BN-ReLU-conv: none to fold
    ("resnet18", 64, "onnx", False, True, 20),  # torchvision's ImageNet network, at 64x64
    ("resnet18", 64, "exported-program", True, True, 20),
]


@pytest.mark.parametrize(
    ("name", "size", "fmt", "dynamic", "fast", "folded"),
    [pytest.param(*c, marks=needs_onnx) if c[2] == "onnx" else c for c in CASES],
)
def test_export_reproduces_eager(
    name: str, size: int, fmt: str, dynamic: bool, fast: bool, folded: int, weights, tmp_path
) -> None:
    path = tmp_path / f"{name}{FORMATS[fmt]}"
    file, eager = weights(name)
    r = export_model(
        name, path, fmt, weights=file, input_size=(3, size, size),
        dynamic_batch=dynamic, fast=fast,
    )  # fmt: skip
    assert r.checked_with.split()[0] == ("onnxruntime" if fmt == "onnx" else "torch.export.load")
    assert [p.batch for p in r.parity] == ([1, 4] if dynamic else [1])
    for p in r.parity:  # logit ranges of 3 to 300 with these weights
        assert p.logit_range > 1 and p.relative < 1e-4 and r.ok
        assert p.max_abs_diff == pytest.approx(p.relative * p.logit_range)

    # The file on its own: fp32 weights, the weights file's classes, the batch as asked.
    tensors = sum(t.numel() for t in eager.state_dict().values() if t.is_floating_point())
    assert r.size_bytes == path.stat().st_size
    assert 0.97 * 4 * n_params(eager) < r.size_bytes < 1.2 * 4 * tensors + 200_000
    run, batch_norms = _load(path, fmt)
    x = torch.randn(3 if dynamic else 1, 3, size, size)
    with torch.no_grad():
        ref, out = eager(x), run(x)
    assert out.shape == (x.shape[0], CLASSES)
    assert (out - ref).abs().max() < 1e-4 * (ref.max() - ref.min())
    if not dynamic:
        with pytest.raises(Exception):  # noqa: B017 - each runtime raises its own error
            run(torch.randn(2, 3, size, size))
    bns = sum(isinstance(m, nn.BatchNorm2d) for m in eager.modules())
    assert r.bn_total == bns and r.bn_folded == (folded if fast else None)
    if fast or fmt == "exported-program":  # (ONNX's optimizer folds conv-BN pairs itself)
        assert batch_norms == bns - folded
    beside = [path.with_suffix(".json").name] if fmt == "exported-program" else []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, *beside])


def test_export_cli_json(tmp_path, capsys) -> None:
    out = tmp_path / "net.pt2"
    argv = ["export", "resnet20", "--format", "exported-program", "--fast", "--json", "-o"]
    assert main([*argv, str(out)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["model"] == "resnet20" and r["format"] == "exported-program"
    assert r["path"] == str(out) and r["size_bytes"] == out.stat().st_size
    assert r["input"] == [3, 32, 32] and r["batch"] == 1 and r["dynamic_batch"] is False
    assert r["fast"] is True and (r["bn_folded"], r["bn_total"]) == (19, 19)
    assert r["opset"] is None and r["not_checked"] == "" and r["parity_ok"] is True
    assert r["tolerance"] == 1e-4
    [p] = r["parity"]
    assert p["batch"] == 1 and p["logit_range"] > 0 and p["relative"] < 1e-4


@needs_onnx
def test_export_cli_text_onnx_dynamic(tmp_path, capsys) -> None:
    out = tmp_path / "net.onnx"
    argv = ["export", "tiny_test_net", "--format", "onnx", "--dynamic-batch", "--opset", "18"]
    assert main([*argv, "-o", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"tiny_test_net -> {out} (ONNX opset 18, {out.stat().st_size / 1e6:.2f} MB)"
    assert text[1] == "  input: batch (dynamic) x 3x32x32"
    assert text[2].startswith("  preprocessing and classes in its metadata_props: resize 32, ")
    assert text[3].startswith("  parity against eager PyTorch (onnxruntime ")
    assert [line.split(":")[0] for line in text[4:6]] == ["    batch 1", "    batch 4"]
    assert text[6] == "  parity OK: tolerance 1e-04 of the logit range"


@needs_onnx
def test_onnx_without_onnxruntime_says_parity_was_not_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    out = tmp_path / "net.onnx"
    assert main(["export", "alexnet_cifar", "--format", "onnx", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "parity not checked: onnxruntime is not installed (pip install 'moderncnn[onnx]')" in text
    )
    assert out.stat().st_size > 4 * 5_000_000  # written all the same


def test_parity_beyond_tolerance_exits_1(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("moderncnn.export.TOLERANCE", -1.0)  # no difference passes
    out = tmp_path / "net.pt2"
    assert main(["export", "tiny_test_net", "--format", "exported-program", "-o", str(out)]) == 1
    assert "parity FAILED: tolerance -1e+00 of the logit range" in capsys.readouterr().out
    assert out.is_file()  # kept, to inspect


class _DataDependent(ConvNet):
    """Control flow on a value: torch.export cannot capture it."""

    def __init__(self) -> None:
        super().__init__(num_classes=2, in_chans=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.mean((2, 3))[:, :2]
        return x if x.sum() > 0 else -x


class _FixedBatch(ConvNet):
    """Makes a constant of the batch size: exports with a fixed batch only."""

    def __init__(self) -> None:
        super().__init__(num_classes=2, in_chans=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))[:, :2] * torch.tensor([float(x.shape[0])])


class _BatchBranch(ConvNet):
    """Branches on the batch size: torch.export keeps the branch of the batch it traced."""

    def __init__(self) -> None:
        super().__init__(num_classes=2, in_chans=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.mean((2, 3))[:, :2]
        return x if x.shape[0] > 1 else 2 * x


@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx), "exported-program"])
def test_unexportable_model_fails_in_one_line_and_writes_nothing(fmt: str, tmp_path) -> None:
    out = tmp_path / f"m{FORMATS[fmt]}"
    with pytest.raises(ExportError) as e:
        export(_DataDependent(), out, fmt, (3, 8, 8))
    message = str(e.value)
    assert message.startswith(
        f"_DataDependent cannot be exported to {fmt}: GuardOnDataDependentSymNode: Could not "
        "guard on data-dependent expression"
    )
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(ExportError, match="_FixedBatch cannot be exported to .* with a dynamic "
                       r"batch: UserError: Constraints violated \(batch\)!.*; it exports with "
                       r"a fixed batch of 1 \(without --dynamic-batch\)$"):  # fmt: skip
        export(_FixedBatch(), out, fmt, (3, 8, 8), dynamic_batch=True)
    assert list(tmp_path.iterdir()) == []
    assert export(_FixedBatch(), out, fmt, (3, 8, 8)).ok


@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx), "exported-program"])
def test_dynamic_batch_checked_at_batch_1_catches_a_traced_branch(fmt: str, tmp_path) -> None:
    r = export(_BatchBranch(), tmp_path / f"m{FORMATS[fmt]}", fmt, (3, 8, 8), dynamic_batch=True)
    one, four = r.parity  # eager doubles a batch of 1; the export, traced at 2, does not
    assert (one.batch, four.batch) == (1, 4) and four.relative < 1e-6
    assert one.relative > 0.01 and r.ok is False


def test_bad_requests_fail_before_building_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "dir.pt2").mkdir()
    cases = [
        (["--format", "tflite", "-o", "m.tflite"],
         "unknown export format 'tflite'; formats: onnx, exported-program"),
        (["--format", "exported-program", "-o", "m.onnx"],
         "--format exported-program writes a .pt2 file; got -o 'm.onnx'"),
        (["--format", "onnx", "--opset", "13", "-o", "m.onnx"],
         "ONNX opset must be 18 to 23, got 13"),
        (["--format", "exported-program", "--opset", "20", "-o", "m.pt2"],
         "--opset applies to --format onnx only, not exported-program"),
        (["--format", "exported-program", "-o", str(tmp_path / "file" / "m.pt2")],
         f"cannot write '{tmp_path}/file/m.pt2': '{tmp_path}/file' is a file, not a folder"),
        (["--format", "exported-program", "-o", str(tmp_path / "dir.pt2")],
         f"'{tmp_path}/dir.pt2' is a folder; give a file name ending in .pt2"),
        (["--format", "exported-program", "--input", "3x8x8", "-o", str(tmp_path / "m.pt2")],
         "alexnet_cifar needs inputs of at least 15x15 pixels, got 8x8"),
        (["--format", "exported-program", "--weights", "no.pt", "-o", str(tmp_path / "m.pt2")],
         "argument --weights: weights file 'no.pt' does not exist"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(["export", "alexnet_cifar", *argv]) == 2
        err = capsys.readouterr().err
        assert err == f"moderncnn export: error: {message}\n"
    monkeypatch.setattr("moderncnn.export.find_spec", lambda name: None)
    assert main(["export", "alexnet_cifar", "--format", "onnx", "-o", "m.onnx"]) == 2
    assert capsys.readouterr().err == (
        "moderncnn export: error: ONNX export needs the onnx and onnxscript packages: "
        "pip install 'moderncnn[onnx]'\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.pt2", "file"]
