"""CUDA-only paths, run on a GPU machine (skipped elsewhere, saying so): the whole-step CUDA
graph trains as the eager loop does, and the options the speedrun recipe adds run inside it.

    PYTHONPATH=src python3 -m pytest tests/test_cuda.py -q
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from moderncnn.cli import main
from moderncnn.train.metrics import read_metrics

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

ARGS = ["--no-progress", "--no-tensorboard", "--batch-size", "50", "--val-size", "100"]
ARGS += ["--device", "cuda", "--epochs", "3"]


def _train(data: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    argv = ["train", "resnet20", "--recipe", "fast", "--data-dir", str(data), *ARGS, *extra]
    assert main([*argv, "--output", str(out)]) == 0
    return read_metrics(out / "metrics.csv")


def test_graphed_step_trains_like_the_eager_loop(fake_cifar: Path, tmp_path: Path, caplog) -> None:
    """Same seed, same batches: the graph replays the eager step's kernels, so losses and
    weights agree to float rounding (cuDNN may pick other algorithms after capture)."""
    eager = _train(fake_cifar, tmp_path / "eager")
    with caplog.at_level(logging.INFO, logger="moderncnn"):
        graphed = _train(fake_cifar, tmp_path / "graphed", "--cuda-graphs")
    assert "one CUDA graph" in caplog.text
    for a, b in zip(eager, graphed, strict=True):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-3)
        assert float(a["lr"]) == pytest.approx(float(b["lr"]))
    wa = load_file(tmp_path / "eager" / "best.safetensors")
    wb = load_file(tmp_path / "graphed" / "best.safetensors")
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-3) for k in wa)


def test_graphed_speedrun_options(fake_cifar: Path, tmp_path: Path) -> None:
    """bf16 autocast, label smoothing, EMA, TTA, linear warm-up, alternating flips and the
    one-cycle rate (changing every step without re-capture) with the graph."""
    extra = ["--recipe", "speedrun", "--cuda-graphs", "--warmup", "5", "--warmup-mode", "linear"]
    extra += ["--ema-decay", "0.99"]
    argv = ["train", "resnet20", "--data-dir", str(fake_cifar), *ARGS, *extra]
    out = tmp_path / "run"
    assert main([*argv, "--output", str(out)]) == 0
    rows = read_metrics(out / "metrics.csv")
    assert len({r["lr"] for r in rows}) == 3
    assert json.loads((out / "results.json").read_text())["test"]["n"] == 100


def test_graph_fallback_is_said(fake_cifar: Path, tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        _train(fake_cifar, tmp_path / "accum", "--cuda-graphs", "--accum-steps", "2")
    assert "gradient accumulation" in caplog.text
