"""Precision 'auto': bf16 autocast where the device has native bf16, fp32 elsewhere, by one
rule for train, evaluate, bench and the inference fast path; a run records its choice."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import pytest
import torch

import tiny_model  # noqa: F401  (registers tiny_test_net)
from moderncnn import precision
from moderncnn.bench import bench
from moderncnn.cli import main
from moderncnn.errors import ConfigError
from moderncnn.fast import prepare_for_inference
from moderncnn.models import create_model
from moderncnn.precision import bf16_supported, resolve_amp
from moderncnn.train import TrainConfig, resolve_config
from moderncnn.train.config import list_recipes, read_recipe


@pytest.fixture
def native(monkeypatch: pytest.MonkeyPatch):
    """Set whether this CPU has native bf16 (the hardware query is patched), unset
    ``$MODERNCNN_NO_BF16`` and forget earlier warnings."""
    monkeypatch.delenv(precision.NO_BF16_ENV, raising=False)
    monkeypatch.setattr(precision, "_warned", set())

    def set_native(has: bool) -> None:
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: has)

    return set_native


@pytest.mark.parametrize(("has", "chosen"), [(True, "bf16"), (False, "none")])
def test_auto_is_bf16_where_native_else_fp32(native, has: bool, chosen: str) -> None:
    native(has)
    assert bf16_supported("cpu") is has
    assert resolve_amp("auto", "cpu") == chosen
    fast = prepare_for_inference(create_model("resnet20"), example=torch.randn(1, 3, 32, 32))
    assert fast.dtype == precision.AMP_DTYPES[chosen]
    for asked in ("none", "bf16"):  # an explicit choice is kept
        assert resolve_amp(asked, "cpu") == asked


def test_environment_forces_the_fp32_path(native, monkeypatch: pytest.MonkeyPatch) -> None:
    native(True)
    for off in ("1", "yes"):
        monkeypatch.setenv(precision.NO_BF16_ENV, off)
        assert not bf16_supported() and resolve_amp("auto", "cpu") == "none"
    monkeypatch.setenv(precision.NO_BF16_ENV, "0")
    assert bf16_supported() and resolve_amp("auto", "cpu") == "bf16"


def test_explicit_bf16_without_native_bf16_warns_once(native, caplog) -> None:
    native(False)
    with caplog.at_level(logging.WARNING, "moderncnn"):
        assert resolve_amp("bf16", "cpu") == "bf16"
        assert resolve_amp("bf16", "cpu") == "bf16"
    [record] = caplog.records
    assert "emulated" in record.message and "13.5x slower than fp32" in record.message
    assert "--amp auto computes in fp32 here" in record.message
    native(True)
    caplog.clear()
    precision._warned.clear()
    resolve_amp("bf16", "cpu")
    assert not caplog.records  # native: nothing to warn of


def test_fp16_off_cuda_and_unknown_choices_are_refused() -> None:
    with pytest.raises(ConfigError, match="--amp fp16 needs a GPU"):
        resolve_amp("fp16", "cpu")
    with pytest.raises(ValueError, match="--amp must be one of auto, none, bf16, fp16"):
        resolve_amp("fp8", "cpu")


def test_auto_is_the_default_and_no_recipe_forces_a_precision() -> None:
    assert TrainConfig().amp == "auto"
    assert resolve_config("resnet20", "speedrun", data_dir="x").amp == "auto"
    forced = {r: read_recipe(r)["amp"] for r in list_recipes() if read_recipe(r).get("amp")}
    assert forced == {"speedrun": "auto", "speedrun_cpu": "auto"}  # the second by its base


@pytest.mark.parametrize(("has", "chosen"), [(True, "bf16 autocast"), (False, "fp32")])
def test_bench_takes_the_same_rule_in_training(native, has: bool, chosen: str) -> None:
    native(has)
    r = bench("resnet20", "train", batch=2, input_size=(3, 32, 32), against="torchvision-best",
              runs=1, min_run_s=0.0)  # fmt: skip
    assert r.ours.endswith(f"fused SGD, {chosen}")
    assert r.ref == f"moderncnn resnet20 {chosen}, channels_last, eager, fused SGD"


def _train(data: Path, run: Path, *extra: str) -> int:
    argv = ["train", "tiny_test_net", "--recipe", "cifar_fast", "--data-dir", str(data)]
    argv += ["--output", str(run), "--batch-size", "50", "--val-size", "0", "--limit", "100"]
    return main([*argv, "--no-progress", "--no-tensorboard", "--no-test", *extra])


@pytest.mark.parametrize(("has", "chosen"), [(True, "bf16"), (False, "none")])
def test_a_run_records_and_keeps_its_precision(
    native, has: bool, chosen: str, fake_cifar: Path, tmp_path: Path, caplog
) -> None:
    """config.toml (a valid recipe) and results.json hold what 'auto' chose; resumed on a
    machine that would choose otherwise, the run keeps it."""
    native(has)
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO, "moderncnn"):
        assert _train(fake_cifar, run, "--epochs", "1", "--schedule", "constant") == 0
    auto = "has" if has else "has no"
    assert f"precision: {'bf16 autocast' if has else 'fp32'} (auto: cpu {auto} native bf16)" in (
        caplog.text
    )
    assert tomllib.loads((run / "config.toml").read_text())["amp"] == chosen
    assert read_recipe(str(run / "config.toml"))["amp"] == chosen
    assert json.loads((run / "results.json").read_text())["amp"] == chosen
    native(not has)  # another machine
    (run / "results.json").unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO, "moderncnn"):
        assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    assert "(kept from the run's start)" in caplog.text
    assert json.loads((run / "results.json").read_text())["amp"] == chosen
