"""``moderncnn bench`` runs and reports; speed itself is measured in docs/benchmarks.md."""

from __future__ import annotations

import json

import pytest

from moderncnn.bench import bench, time_alternating
from moderncnn.cli import main
from moderncnn.errors import ModernCNNError
from moderncnn.precision import bf16_supported


def test_time_alternating_interleaves_runs() -> None:
    import torch

    calls: list[str] = []
    times = time_alternating(
        [lambda: calls.append("a"), lambda: calls.append("b")], 3, torch.device("cpu"), 0.0
    )
    assert [len(t) for t in times] == [3, 3]
    timed = calls[5:]  # after 2 warm-up calls each and one calibration call of the first
    assert timed == ["a", "b"] * 3


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_bench_against_torchvision(mode: str) -> None:
    r = bench("resnet18", mode, batch=2, input_size=(3, 64, 64), runs=1, min_run_s=0.0)
    assert r.ref.startswith("torchvision.models.resnet18")
    assert r.ours_img_s > 0 and r.ref_img_s > 0
    assert r.ratio == pytest.approx(r.ours_img_s / r.ref_img_s)
    # FlopCounterMode: ResNet-18 at 64x64 is 1.814 GMACs * (64/224)^2 per image forward.
    forward = 2 * 1.814e9 * (64 / 224) ** 2
    expected = forward if mode == "infer" else 3 * forward  # backward: two matmuls per one
    assert r.flops_per_img == pytest.approx(expected, rel=0.02)
    assert r.peak_gflops > 0


@pytest.mark.native_bf16
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_bench_against_torchvision_best(mode: str) -> None:
    """The careful user's reference: torchvision's model in the fast path's dtype under
    autocast, channels_last (fused SGD in training); that dtype is 'auto's on this machine."""
    r = bench("resnet18", mode, batch=2, input_size=(3, 64, 64), against="torchvision-best",
              runs=1, dtype="auto", min_run_s=0.0)  # fmt: skip
    dtype = "bf16 autocast" if bf16_supported() else "fp32"
    settings = f"{dtype}, channels_last, eager" + (", fused SGD" if mode == "train" else "")
    assert r.ref == f"torchvision.models.resnet18 {settings}"
    assert r.ours_img_s > 0 and r.ref_img_s > 0


def test_bench_cli_json_and_eager_reference(capsys) -> None:
    argv = ["bench", "resnet20", "--input", "3x32x32", "--batch", "2", "--runs", "1", "--json"]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("model", "mode", "batch", "input", "ours_img_s", "ref_img_s", "ratio", "ref",
                "flops_per_img", "achieved_gflops", "peak_gflops"):  # fmt: skip
        assert key in r
    assert r["ref"] == "moderncnn resnet20 fp32, contiguous, eager"  # no torchvision resnet20
    assert r["input"] == [3, 32, 32] and r["batch"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "resnet5"], "unknown model 'resnet5'"),
        (["bench", "resnet20", "--input", "3x32"], "argument --input: must be CxHxW"),
        (["bench", "vgg16", "--input", "3x16x16", "--batch", "1"], "at least 32x32"),
        (["bench", "resnet20", "--batch", "0"], "argument --batch: must be 1 or more, got 0"),
        (["bench", "resnet20", "--dtype", "int8"], "argument --dtype: invalid choice: 'int8'"),
    ],
)
def test_bench_bad_input(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bench_refuses_before_allocating() -> None:
    with pytest.raises(ModernCNNError, match="--dtype must be one of auto, fp32, bf16, fp16"):
        bench("resnet20", dtype="fp64")
    with pytest.raises(ModernCNNError, match="--dtype fp16 needs a GPU \\(CUDA\\), not cpu"):
        bench("resnet20", dtype="fp16", device="cpu")
    with pytest.raises(ModernCNNError, match="--runs must be 1 or more, got 0"):
        bench("resnet20", runs=0)
    # 2**31 bytes of fp32 input at most: 174,762 images of 3x32x32 fit, one more does not.
    with pytest.raises(ModernCNNError, match="a batch of 174763 inputs of 3x32x32 is 2.0 GiB"):
        bench("resnet20", batch=174_763)
