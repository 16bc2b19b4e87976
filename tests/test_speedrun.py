"""What the fastest trainers add, as engine options: linear warm-up and the linear scaling
rule, alternating flips, a moving average of the weights, test-time augmentation, the
speedrun recipe, and the CUDA-graph step's eligibility (the graphs themselves need a GPU)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

import tiny_model  # noqa: F401  (registers tiny_test_net)
from moderncnn.cli import main
from moderncnn.data import load_splits
from moderncnn.data.augment import alternating_flips, random_crop_flip_params
from moderncnn.errors import ConfigError
from moderncnn.models import create_model
from moderncnn.train import engine, resolve_config
from moderncnn.train.distributed import DistEnv
from moderncnn.train.graphs import graph_blocker
from moderncnn.train.schedule import LRSchedule
from moderncnn.train.tta import TestTimeAugmentation
from moderncnn.train.whiten import whiten_first_conv, whitening_filters

FAST = ["--no-progress", "--no-tensorboard", "--batch-size", "50", "--val-size", "100"]


def test_linear_warmup_and_scaling_rule() -> None:
    """Goyal et al. 2017: lr x batch/256 (Sec. 2.1), reached by a linear ramp (Sec. 2.2)."""
    cfg = resolve_config("resnet20", "resnet_cifar", data_dir="x", batch_size=1024)
    assert cfg.peak_lr == 0.1
    scaled = dataclasses.replace(cfg, lr_base_size=256, warmup=4, warmup_mode="linear")
    assert scaled.peak_lr == pytest.approx(0.4)
    s = LRSchedule.from_config(scaled, steps_per_epoch=50, total_steps=64000)
    assert [s.lr(i) for i in range(5)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4])
    assert s.lr(32000) == pytest.approx(0.04)  # the milestones are unchanged
    constant = LRSchedule(0.4, "step", 100, warmup=4)
    assert [constant.lr(i) for i in (0, 3, 4)] == pytest.approx([0.04, 0.04, 0.4])
    with pytest.raises(ConfigError, match="warmup_mode"):
        resolve_config("resnet110", data_dir="x", warmup_mode="linear")  # warm-up by error
    with pytest.raises(ConfigError, match="lr_base_size"):
        resolve_config("resnet20", data_dir="x", lr_base_size=-1)


def test_alternating_flips() -> None:
    """Each image is flipped in every other epoch, a random half of them in the first."""
    n = 10_000
    e1, e2, e3 = (alternating_flips(n, seed=3, epoch=e) for e in (1, 2, 3))
    assert torch.equal(e1, ~e2) and torch.equal(e1, e3)
    assert 4800 < int(e1.sum()) < 5200
    assert not torch.equal(e1, alternating_flips(n, seed=4, epoch=1))
    # the crops are drawn as cifar's, only the flips are replaced
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = random_crop_flip_params(8, "cifar", g1)
    b = random_crop_flip_params(8, "cifar_altflip", g2, e1[:8])
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and torch.equal(b[2], e1[:8])
    # airbench's: the same alternating flips, translations of at most 2 pixels
    dx, dy, flip, pad = random_crop_flip_params(4000, "airbench", g1, e1[:4000])
    assert pad == 2 and set(dx.tolist()) == set(dy.tolist()) == {0, 1, 2, 3, 4}
    assert torch.equal(flip, e1[:4000])


def test_whitening_filters_decorrelate_patches() -> None:
    """airbench's first layer: the filters map the images' 3x3 patches to uncorrelated
    outputs of unit variance (eps 0), the directions of largest variance first."""
    g = torch.Generator().manual_seed(0)
    x = F.avg_pool2d(torch.randn(64, 3, 18, 18, generator=g), 3, 1)  # correlated neighbours
    x = x + 0.3 * x.mean(1, keepdim=True)  # and channels
    values, filters = whitening_filters(x, (3, 3), eps=0.0)
    assert filters.shape == (27, 3, 3, 3) and bool((values[:-1] >= values[1:]).all())
    assert values[0] > 10 * values[-1]  # far from white before
    out = F.conv2d(x.double(), filters.double()).transpose(0, 1).reshape(27, -1)
    cov = out @ out.T / out.shape[1]
    assert torch.allclose(cov, torch.eye(27, dtype=torch.float64), atol=1e-4)


def test_whiten_freezes_the_first_conv(fake_cifar: Path, tmp_path: Path) -> None:
    """--whiten: the first conv's filters are the top patch directions and their negatives,
    and training leaves them as they were (but trains the bias)."""
    out = tmp_path / "run"
    argv = ["train", "vgg11_cifar", "--recipe", "speedrun", "--data-dir", str(fake_cifar)]
    argv += ["--epochs", "1", "--batch-size", "100", "--model-kwargs", "width=0.125"]
    assert main([*argv, "--whiten", "--no-progress", "--output", str(out)]) == 0
    trained = load_file(out / "best.safetensors")
    w = trained["features.0.weight"]  # 8 filters at width 1/8: 4 directions, both signs
    assert torch.equal(w[:4], -w[4:])
    fresh = create_model("vgg11_cifar", num_classes=10, width=0.125)
    splits = load_splits(fake_cifar, val_size=0, progress=False)
    assert torch.equal(w, whiten_first_conv(fresh, splits).weight)
    assert trained["features.0.bias"].abs().sum() > 0  # the bias trains (from 0)
    with pytest.raises(ConfigError, match="--whiten"):
        resolve_config("vgg11_cifar", "speedrun", data_dir="x", whiten=True, weights="w.pth")


class _Shift(nn.Module):
    """Logits that tell views apart: the mean of a few pixels' values."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0, 0, 0], x[:, 0, 0, -1], x[:, 0, -1, 0], x.mean((1, 2, 3))], 1)


def test_tta_views_and_weights() -> None:
    """flip: the mean of the image's and its mirror's logits; flip-translate: airbench's
    infer_mirror_translate, 1-pixel reflected shifts up-left and down-right."""
    model, x = _Shift(), torch.randn(3, 2, 6, 5)
    mirror = lambda v: 0.5 * (model(v) + model(v.flip(-1)))  # noqa: E731
    assert torch.allclose(TestTimeAugmentation(model, "flip")(x), mirror(x))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = 0.5 * (mirror(padded[..., :6, :5]) + mirror(padded[..., 2:, 2:]))
    expected = 0.5 * mirror(x) + 0.5 * shifted
    assert torch.allclose(TestTimeAugmentation(model, "flip-translate")(x), expected)
    with pytest.raises(ValueError, match="flip"):
        TestTimeAugmentation(model, "none")


def test_ema_weights_are_tested_and_resume_exactly(
    fake_cifar: Path, tmp_path: Path, monkeypatch
) -> None:
    """With ema_decay, best.safetensors holds the moving average (not the last weights); a
    run killed after epoch 1 and resumed ends with the same average, bit for bit."""
    extra = ["--epochs", "2", "--deterministic", "--ema-decay", "0.9", "--tta", "flip"]
    argv = ["train", "tiny_test_net", "--recipe", "cifar_fast", "--data-dir", str(fake_cifar)]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main([*argv, *FAST, *extra, "--output", str(whole)]) == 0
    best = load_file(whole / "best.safetensors")
    last = load_file(whole / "checkpoints" / "epoch-0002" / "model.safetensors")
    assert not torch.equal(best["fc.weight"], last["fc.weight"])
    save = engine.save_checkpoint

    def save_then_die(run_dir, epoch, *a, **kw):
        path = save(run_dir, epoch, *a, **kw)
        if epoch == 1:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(engine, "save_checkpoint", save_then_die)
    assert main([*argv, *FAST, *extra, "--output", str(killed)]) == 130  # interrupted
    monkeypatch.setattr(engine, "save_checkpoint", save)
    assert main(["train", "--resume", str(killed), "--no-progress"]) == 0
    resumed = load_file(killed / "best.safetensors")
    assert all(torch.equal(best[k], resumed[k]) for k in best)
    results = json.loads((whole / "results.json").read_text())
    assert results["test"]["n"] == 100


def test_ema_of_a_tiny_decay_is_the_last_weights(fake_cifar: Path, tmp_path: Path) -> None:
    argv = ["train", "tiny_test_net", "--recipe", "cifar_fast", "--data-dir", str(fake_cifar)]
    out = tmp_path / "run"
    assert main([*argv, *FAST, "--epochs", "1", "--ema-decay", "1e-12", "--output", str(out)]) == 0
    best = load_file(out / "best.safetensors")
    last = load_file(out / "checkpoints" / "epoch-0001" / "model.safetensors")
    assert all(torch.allclose(best[k], last[k], atol=1e-9) for k in best)


def test_speedrun_recipe_trains(fake_cifar: Path, tmp_path: Path) -> None:
    """Every option of the recipe at once, one short epoch on the CPU."""
    cfg = resolve_config("vgg11_cifar", "speedrun", data_dir="x")
    assert (cfg.augment, cfg.val_size, cfg.peak_lr, cfg.tta) == (
        "cifar_altflip",
        0,
        pytest.approx(0.4),
        "flip-translate",
    )
    cpu = resolve_config("vgg11_cifar", "speedrun_cpu", data_dir="x")  # 15 CPU minutes
    assert (cpu.augment, cpu.batch_size, cpu.epochs, cpu.peak_lr, cpu.tta) == (
        "airbench",
        256,
        19,
        pytest.approx(0.2),
        "flip-translate",
    )
    out = tmp_path / "run"
    argv = ["train", "vgg11_cifar", "--recipe", "speedrun", "--data-dir", str(fake_cifar)]
    argv += ["--epochs", "1", "--batch-size", "100", "--model-kwargs", "width=0.125"]
    assert main([*argv, "--no-progress", "--output", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["val"] is None and results["test"]["n"] == 100


def test_cuda_graphs_fall_back_with_a_reason() -> None:
    """The graph step needs a GPU, one process, no accumulation, no fp16 scaler and no
    torch.compile; anything else trains eagerly and says why."""
    base = resolve_config("resnet20", "resnet_cifar", data_dir="x", cuda_graphs=True)
    gpu, cpu = DistEnv(0, 1, torch.device("cuda", 0)), DistEnv(0, 1, torch.device("cpu"))
    assert graph_blocker(base, gpu) is None
    assert "not asked" in graph_blocker(dataclasses.replace(base, cuda_graphs=False), gpu)
    assert "not a GPU" in graph_blocker(base, cpu)
    assert "accumulation" in graph_blocker(dataclasses.replace(base, accum_steps=2), gpu)
    assert "grad scaler" in graph_blocker(dataclasses.replace(base, amp="fp16"), gpu)
    assert "torch.compile" in graph_blocker(dataclasses.replace(base, compile=True), gpu)
    ddp = DistEnv(0, 2, torch.device("cuda", 0))
    assert "several processes" in graph_blocker(base, ddp)


def test_eval_tta(fake_cifar: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["train", "tiny_test_net", "--recipe", "cifar_fast", "--data-dir", str(fake_cifar)]
    assert main([*argv, *FAST, "--epochs", "1", "--output", str(out)]) == 0
    capsys.readouterr()
    ev = ["eval", "tiny_test_net", "--weights", str(out / "best.safetensors")]
    ev += ["--data-dir", str(fake_cifar), "--no-progress", "--json"]
    assert main([*ev, "--tta", "flip-translate"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 100 and "flip-translate" in result["crops"]
    assert main([*ev, "--tta", "flip", "--ten-crop"]) == 2
    assert "drop --tta" in capsys.readouterr().err
