"""Training: recipes, schedules, the loop, checkpoints and exact resume, divergence, and the
train / eval / plot commands on a tiny fake CIFAR-10."""

from __future__ import annotations

import collections
import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import moderncnn
import tiny_model  # noqa: F401  (registers tiny_test_net)
from moderncnn import progress
from moderncnn.cli import build_parser, main
from moderncnn.errors import ConfigError, DivergedError
from moderncnn.models.weights import save_weights
from moderncnn.train import build, compute_loss, distributed, engine, resolve_config, train
from moderncnn.train.config import config_from, default_recipe, list_recipes, load_run_config
from moderncnn.train.metrics import read_metrics
from moderncnn.train.schedule import LRSchedule

FAST = ["--no-progress", "--no-tensorboard", "--batch-size", "50", "--val-size", "100"]


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--data-dir", str(data), "--output", str(out), *FAST, *extra]


def test_every_recipe_resolves() -> None:
    assert {
        "resnet_cifar",
        "densenet_cifar",
        "alexnet",
        "vgg",
        "googlenet",
        "resnet_imagenet",
        "densenet_imagenet",
        "resnet_cifar_warmup",
    } <= set(list_recipes())
    for model in (
        "resnet20",
        "densenet40_k12",
        "vgg16_cifar",
        "alexnet",
        "vgg16",
        "googlenet_paper",
        "resnet50",
        "densenet121",
        "resnet110",
    ):
        cfg = resolve_config(model, data_dir="x")
        assert cfg.recipe == default_recipe(model) and cfg.lr > 0
    r = resolve_config("resnet20", data_dir="x")
    assert (r.iterations, r.milestones, r.batch_size, r.weight_decay) == (
        64000,
        [32000, 48000],
        128,
        1e-4,
    )
    d = resolve_config("densenet40_k12", data_dir="x")
    assert (d.epochs, d.batch_size, d.nesterov, d.milestones) == (300, 64, True, [0.5, 0.75])
    assert resolve_config("googlenet_paper", data_dir="x").aux_weight == 0.3
    fast = resolve_config("resnet20", "fast", data_dir="x", epochs=2, lr=0.05)
    assert (fast.recipe, fast.epochs, fast.lr, fast.iterations) == ("resnet_cifar_fast", 2, 0.05, 0)
    assert resolve_config("resnet20", data_dir="x", epochs=3).iterations == 0  # --epochs wins


def test_densenet_imagenet_recipe() -> None:
    """Huang et al. 2017, Sec. 4.2: 90 epochs, batch 256, lr 0.1 /10 at epochs 30 and 60, wd
    1e-4, Nesterov momentum 0.9; Sec. 4.1: fb.resnet.torch's augmentation."""
    for model in ("densenet121", "densenet161", "densenet169", "densenet201", "densenet264"):
        assert default_recipe(model) == "densenet_imagenet"
    d = resolve_config("densenet121", data_dir="x")
    assert (d.epochs, d.iterations, d.batch_size, d.lr, d.weight_decay) == (90, 0, 256, 0.1, 1e-4)
    assert (d.momentum, d.nesterov, d.augment) == (0.9, True, "fb_resnet")
    assert (d.schedule, d.milestones, d.milestone_unit, d.gamma) == ("step", [30, 60], "epoch", 0.1)
    s = LRSchedule.from_config(d, steps_per_epoch=5000, total_steps=450000)
    assert [s.lr(i) for i in (149999, 150000, 299999, 300000)] == pytest.approx(
        [0.1, 0.01, 0.01, 0.001]
    )
    assert default_recipe("resnet50") == "resnet_imagenet"
    assert default_recipe("densenet40_k12") == "densenet_cifar"


def test_bad_configs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no recipe 'nope'"):
        resolve_config("resnet20", "nope", data_dir="x")
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = 0.1\nlearning_rate = 3\n")
    with pytest.raises(ConfigError, match="unknown keys learning_rate"):
        resolve_config("resnet20", str(bad), data_dir="x")
    bad.write_text('lr = "fast"\n')
    with pytest.raises(ConfigError, match="lr must be float"):
        resolve_config("resnet20", str(bad), data_dir="x")
    with pytest.raises(ConfigError, match="amp must be one of"):
        resolve_config("resnet20", data_dir="x", amp="fp8")
    with pytest.raises(ConfigError, match="not a multiple of accum_steps"):
        resolve_config("resnet20", data_dir="x", accum_steps=3)
    with pytest.raises(ConfigError, match="fast recipes are for CIFAR"):
        resolve_config("resnet50", "fast", data_dir="x")


def _schedule(model: str, steps_per_epoch: int, total: int, **overrides) -> LRSchedule:
    cfg = resolve_config(model, data_dir="x", **overrides)
    return LRSchedule.from_config(cfg, steps_per_epoch, total)


def test_schedules() -> None:
    s = _schedule("resnet20", steps_per_epoch=351, total=64000)
    assert s.milestones == [32000, 48000]
    assert [s.lr(i) for i in (0, 31999, 32000, 48000)] == pytest.approx([0.1, 0.1, 0.01, 0.001])
    d = _schedule("densenet40_k12", 100, 30000)
    assert d.milestones == [15000, 22500]  # 50% and 75% (Huang et al. Sec. 4.2)
    assert d.lr(14999) == pytest.approx(0.1) and d.lr(15000) == pytest.approx(0.01)
    g = _schedule("googlenet_paper", 10, 1200)
    assert g.step_every == 80  # 8 epochs of 10 steps (Szegedy et al. Sec. 6)
    assert g.lr(79) == pytest.approx(0.01) and g.lr(160) == pytest.approx(0.01 * 0.96**2)
    one = LRSchedule(0.2, "onecycle", 100)
    assert (
        one.lr(0) == pytest.approx(0.2 / 25)
        and one.lr(25) == pytest.approx(0.2)
        and one.lr(100) == 0
    )
    p = _schedule("alexnet", 10, 900, patience=1)
    for err in (50, 40, 41, 42):
        p.epoch_end(err)
    assert p.lr(0) == pytest.approx(0.001)
    q = LRSchedule(0.01, "plateau", 900, patience=1)
    q.load_state_dict(p.state_dict())
    assert q.lr(5) == p.lr(5)
    fixed = LRSchedule(0.1, "step", 64000, warmup=400)  # --warmup 400 alone: 400 steps
    assert (fixed.lr(399), fixed.lr(400)) == pytest.approx((0.01, 0.1))
    assert not fixed.needs_error(0)
    with pytest.raises(ConfigError, match="schedule must be one of"):  # where it enters
        resolve_config("resnet20", data_dir="x", schedule="linear")


def test_warmup_ends_when_training_error_is_below_80() -> None:
    """He et al. Sec. 4.2: lr 0.01 "until the training error is below 80%", then 0.1; the
    mean error of the last WARMUP_WINDOW (20) mini-batches decides, after each step."""
    s = LRSchedule(0.1, "step", 64000, milestones=[32000, 48000], warmup=2000, warmup_error=80)
    errors = [90.0] * 30 + [75.0] * 20  # the mean of 20 is below 80 with 14 of 75: step 44
    for done, err in enumerate(errors, start=1):
        assert s.needs_error(done - 1)
        s.observe_error(done, err)
        if not s.warming_up(done):
            break
    assert s.warmup_end == 44 and s.recent_errors == [90.0] * 6 + [75.0] * 14
    assert (s.lr(43), s.lr(44), s.lr(32000)) == pytest.approx((0.01, 0.1, 0.01))
    assert not s.needs_error(44)

    early = LRSchedule(0.1, "step", 64000, warmup=2000, warmup_error=80)
    for done in range(1, 21):  # below 80 from the first batch: the window must fill first
        assert early.warming_up(done - 1)
        early.observe_error(done, 79.0)
    assert early.warmup_end == 20

    bound = LRSchedule(0.1, "step", 64000, warmup=50, warmup_error=80)
    for done in range(1, 51):  # never below 80: warm-up lasts its upper bound
        bound.observe_error(done, 85.0)
    assert bound.warmup_end is None and not bound.needs_error(50)
    assert (bound.lr(49), bound.lr(50)) == pytest.approx((0.01, 0.1))


def test_warmup_state_round_trip() -> None:
    """A run killed mid-warm-up takes the same decision after resuming: the window of recent
    errors and the step warm-up ended at are in the schedule's state."""
    errors = [90.0] * 12 + [70.0] * 20
    whole = LRSchedule(0.1, "step", 64000, warmup=2000, warmup_error=80)
    for done, err in enumerate(errors, start=1):
        whole.observe_error(done, err)
        if not whole.warming_up(done):
            break
    first = LRSchedule(0.1, "step", 64000, warmup=2000, warmup_error=80)
    for done, err in enumerate(errors[:15], start=1):
        first.observe_error(done, err)
    resumed = LRSchedule(0.1, "step", 64000, warmup=2000, warmup_error=80)
    resumed.load_state_dict(first.state_dict())
    for done, err in enumerate(errors[15:], start=16):
        resumed.observe_error(done, err)
        if not resumed.warming_up(done):
            break
    assert resumed.warmup_end == whole.warmup_end == 23  # 9 x 90 + 11 x 70 < 20 x 80
    again = LRSchedule(0.1, "step", 64000, warmup=2000, warmup_error=80)
    again.load_state_dict(resumed.state_dict())
    assert again.warmup_end == 23 and again.lr(22) == pytest.approx(0.01)


def test_resnet110_recipe_warms_up() -> None:
    """He et al. Sec. 4.2: ResNet-110 (and the 1202-layer net, "trained as described above")
    warm up at 0.01 until the training error is below 80%; ResNet-56 does not."""
    for model in ("resnet110", "resnet1202"):
        cfg = resolve_config(model, data_dir="x")
        assert (cfg.recipe, cfg.warmup_error, cfg.warmup) == ("resnet_cifar_warmup", 80, 2000)
        base = resolve_config(model, "resnet_cifar", data_dir="x")  # all else: resnet_cifar
        assert dataclasses.replace(cfg, recipe="resnet_cifar", warmup=0, warmup_error=0) == base
        keys = [line.split(" = ")[0] for line in cfg.to_toml().splitlines()]
        assert "base" not in keys and "warmup_error = 80.0\n" in cfg.to_toml()
    r56 = resolve_config("resnet56", data_dir="x")
    assert (r56.recipe, r56.warmup, r56.warmup_error) == ("resnet_cifar", 0, 0)
    assert default_recipe("resnet110", fast=True) == "resnet_cifar_fast"


def test_recipe_base(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('base = "resnet_cifar"\nlr = 0.05\n')
    cfg = resolve_config("resnet20", str(tmp_path / "mine.toml"), data_dir="x")
    assert (cfg.lr, cfg.iterations, cfg.milestones) == (0.05, 64000, [32000, 48000])
    (tmp_path / "a.toml").write_text('base = "b.toml"\n')
    (tmp_path / "b.toml").write_text('base = "a.toml"\n')
    with pytest.raises(ConfigError, match="is its own base"):
        resolve_config("resnet20", str(tmp_path / "a.toml"), data_dir="x")
    with pytest.raises(ConfigError, match="warmup_error needs warmup > 0"):
        resolve_config("resnet20", data_dir="x", warmup_error=80.0)


def test_drop_rate_is_the_models_option() -> None:
    """One name, timm's, for every family with dropout: DenseNet's rate after each conv
    (Huang et al. Sec. 4.2: 0.2 without augmentation); ``--dropout`` is an alias."""
    argv = ["train", "densenet40_k12", "--dropout", "0.2"]
    args = build_parser(argv).parse_args(argv)
    assert args.drop_rate == 0.2
    cfg = resolve_config("densenet40_k12", data_dir="x", drop_rate=0.2)
    assert build.model_options(cfg) == {"drop_rate": 0.2}
    assert build.model_options(resolve_config("densenet40_k12", data_dir="x")) == {}
    assert "drop_rate" in resolve_config("vgg16", data_dir="x").to_toml()
    assert (
        resolve_config("vgg16", data_dir="x").drop_rate,
        resolve_config("googlenet_paper", data_dir="x").drop_rate,
    ) == (0.5, 0.4)
    saved = {"model": "resnet20", "data_dir": "x", "epochs": 1, "dropout": -1.0}  # an old run
    assert config_from(saved, source="old config.toml").drop_rate == -1.0
    with pytest.raises(ConfigError, match="give drop_rate only"):
        config_from({**saved, "drop_rate": 0.1}, source="test")
    with pytest.raises(ConfigError, match="drop_rate must be below 1"):
        resolve_config("densenet40_k12", data_dir="x", drop_rate=1.0)


def test_train_help_lists_every_option(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser(["train"]).parse_args(["train", "--help"])
    out = capsys.readouterr().out
    assert (
        exit_.value.code == 0
        and "--warmup-error" in out
        and "--drop-rate DROP_RATE, --dropout" in out
    )


def test_aux_outputs_are_weighted() -> None:
    out = collections.namedtuple("Out", "logits aux2 aux1")(*torch.randn(3, 4, 5))
    y = torch.tensor([0, 1, 2, 3])
    loss, logits = compute_loss(out, y, aux_weight=0.3)
    expected = F.cross_entropy(out.logits, y) + 0.3 * (
        F.cross_entropy(out.aux2, y) + F.cross_entropy(out.aux1, y)
    )
    assert torch.allclose(loss, expected) and logits is out.logits
    assert torch.allclose(compute_loss(out.logits, y, 0.3)[0], F.cross_entropy(out.logits, y))


def test_train_eval_plot_commands(fake_cifar: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert (
        main(["train", "resnet20", "--recipe", "fast", *_args(fake_cifar, run, "--epochs", "2")])
        == 0
    )
    out = capsys.readouterr().out
    assert "test (once)" in out and "weights of epoch" in out
    rows = read_metrics(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[1]["images_per_s"]) > 0
    assert set(rows[0]) >= {"train_top1_err", "val_top5_err", "lr", "epoch_time_s"}
    results = json.loads((run / "results.json").read_text())
    assert results["selected_by"] == "validation" and results["test"]["n"] == 100
    assert load_run_config(run).epochs == 2  # the resolved config is a recipe again
    assert (run / "checkpoints" / "epoch-0002" / "state.pt").is_file()
    assert not (run / "checkpoints" / "epoch-0001").exists()  # older checkpoints are removed
    model = moderncnn.create_model("resnet20", weights=run / "best.safetensors")
    assert model.num_classes == 10

    png = tmp_path / "cm.png"
    weights = str(run / "best.safetensors")
    args = ["eval", "resnet20", "--weights", weights, "--data-dir", str(fake_cifar)]
    assert main([*args, "--ten-crop", "--confusion", str(png), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 100 and report["crops"] == "10 crops" and png.stat().st_size > 0
    assert len(report["per_class_accuracy"]) == 10
    assert main([*args, "--split", "val"]) == 0
    assert "on val (100 images, centre crop)" in capsys.readouterr().out
    assert (
        main(["plot", str(run), str(run), "-o", str(tmp_path / "e.png"), "--metric", "top5"]) == 0
    )
    assert (tmp_path / "e.png").stat().st_size > 0


def test_progress_in_a_log_is_plain_lines(
    fake_cifar: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """stderr captured (not a terminal): plain lines, no carriage-return frames; one line an
    update with the interval at 0 (6 training batches, val twice and test: 2 batches each),
    nothing with --no-progress."""
    monkeypatch.setattr(progress, "INTERVAL_S", 0.0)
    argv = ["train", "tiny_test_net", "--recipe", "cifar_fast", "--epochs", "1"]
    argv += ["--data-dir", str(fake_cifar), "--no-tensorboard", "--batch-size", "50"]
    argv += ["--val-size", "100"]
    assert main([*argv, "--output", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    counts = collections.Counter(line.split(":")[0] for line in err.splitlines())
    assert counts == {"epoch 1/1": 6, "evaluating val": 4, "evaluating test": 2}
    assert "epoch 1/1: 6/6 batch (100%), " in err and "evaluating test: 2/2 batch (100%)" in err
    assert main([*argv, "--output", str(tmp_path / "b"), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_resume_after_kill_is_exact(fake_cifar: Path, tmp_path: Path, monkeypatch) -> None:
    """Killed after epoch 2 and resumed, a deterministic run ends with the weights of an
    uninterrupted one, bit for bit: the warm-up by error (6 steps an epoch) ends by error at
    the same step in both (21 on one CPU, 20 on another: the arithmetic decides, so the runs
    are compared with each other), decided on a window of 20 errors that spans the kill at
    step 12, and the lr steps at epoch 3."""
    extra = ("--epochs", "5", "--deterministic", "--milestones", "3", "--schedule", "step")
    extra += ("--warmup", "30", "--warmup-error", "55")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["train", "resnet20", "--recipe", "fast", *_args(fake_cifar, whole, *extra)]) == 0

    save = engine.save_checkpoint

    def save_then_die(run_dir, epoch, *a, **kw):
        path = save(run_dir, epoch, *a, **kw)
        if epoch == 2:
            raise KeyboardInterrupt  # as if killed right after the checkpoint
        return path

    monkeypatch.setattr(engine, "save_checkpoint", save_then_die)
    argv = ["train", "resnet20", "--recipe", "fast", *_args(fake_cifar, killed, *extra)]
    assert main(argv) == 130  # interrupted: the command line's status for Ctrl-C
    monkeypatch.setattr(engine, "save_checkpoint", save)
    assert main(["train", "--resume", str(killed), "--no-progress"]) == 0
    last = Path("checkpoints") / "epoch-0005"
    a, b = (
        load_file(whole / last / "model.safetensors"),
        load_file(killed / last / "model.safetensors"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    ends = [
        torch.load(run / last / "state.pt", weights_only=True)["schedule"]["warmup_end"]
        for run in (whole, killed)
    ]
    assert ends[0] == ends[1] and ends[0] is not None and ends[0] < 30  # 30: its upper bound
    rows_a, rows_b = read_metrics(whole / "metrics.csv"), read_metrics(killed / "metrics.csv")
    assert [r["train_loss"] for r in rows_a] == [r["train_loss"] for r in rows_b]


def test_divergence_stops_and_keeps_last_checkpoint(
    fake_cifar: Path, tmp_path: Path, capsys
) -> None:
    run = tmp_path / "nan"
    blowup = ("--epochs", "3", "--schedule", "step", "--milestones", "1", "--gamma", "1e30")
    cfg = resolve_config("resnet20", "fast", **config_args(fake_cifar, run), **opts(blowup))
    with pytest.raises(
        DivergedError, match=r"loss is (nan|inf) in epoch 2.*epoch-0001.*Lower --lr"
    ):
        train(cfg)
    assert (run / "checkpoints" / "epoch-0001" / "model.safetensors").is_file()
    assert not (run / "checkpoints" / "epoch-0002").exists()
    assert len(read_metrics(run / "metrics.csv")) == 1


def config_args(data: Path, out: Path) -> dict:
    return dict(
        data_dir=str(data),
        output=str(out),
        progress=False,
        tensorboard=False,
        batch_size=50,
        val_size=100,
    )


def opts(flags: tuple[str, ...]) -> dict:
    """--key value pairs as config values (strings parsed by the config field types)."""
    values = dict(zip(flags[::2], flags[1::2], strict=True))
    types = {"epochs": int, "gamma": float, "schedule": str, "milestones": lambda v: [float(v)]}
    return {k[2:]: types[k[2:]](v) for k, v in values.items()}


def test_accumulation_and_bf16(fake_cifar: Path, tmp_path: Path) -> None:
    """Two micro-batches of 25 make the step of one batch of 50 (a network without BatchNorm)."""
    base = dict(
        epochs=1, deterministic=True, limit=200, val_size=50, test=False, recipe="cifar_fast"
    )
    runs = {}
    for name, extra in {"one": {}, "accum": {"accum_steps": 2}, "bf16": {"amp": "bf16"}}.items():
        cfg = resolve_config(
            "tiny_test_net", **config_args(fake_cifar, tmp_path / name) | base | extra
        )
        train(cfg)
        runs[name] = load_file(tmp_path / name / "best.safetensors")
    for k in runs["one"]:
        torch.testing.assert_close(runs["accum"][k], runs["one"][k], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(runs["bf16"][k], runs["one"][k], rtol=0.1, atol=0.05)


def test_train_leaves_the_callers_config(fake_cifar: Path, tmp_path: Path, monkeypatch) -> None:
    """The run directory chosen for ``output = ""`` is the trainer's; ``cfg`` stays as given."""
    monkeypatch.chdir(tmp_path)
    values = config_args(fake_cifar, tmp_path) | {"output": "", "val_size": 50, "test": False}
    cfg = resolve_config("tiny_test_net", "cifar_fast", **values, epochs=1, limit=100)
    result = train(cfg)
    assert cfg.output == "" and result.run_dir.parent == Path("runs")
    saved = load_run_config(result.run_dir)
    assert saved.output == str(result.run_dir) and saved.epochs == 1


def test_on_epoch_end_sees_each_epoch_off_the_clock(fake_cifar: Path, tmp_path: Path) -> None:
    """The hook runs after each epoch's checkpoint, can test the weights of that epoch, and
    its time is not training time (benchmarks/time_to_accuracy.py relies on both)."""
    cfg = resolve_config(
        "tiny_test_net", "cifar_fast", **config_args(fake_cifar, tmp_path), epochs=3, limit=200
    )
    seen = []

    def hook(trainer: engine.Trainer) -> None:
        checkpoint = trainer.run_dir / "checkpoints" / f"epoch-{trainer.epoch:04d}"
        seen.append((trainer.epoch, checkpoint.is_dir(), trainer.evaluate_split("test").n))
        time.sleep(1.0)  # 3 s in all, which the run's clock must not count

    result = train(cfg, on_epoch_end=hook)
    assert seen == [(1, True, 100), (2, True, 100), (3, True, 100)]
    rows = read_metrics(tmp_path / "metrics.csv")
    assert result.wall_time_s < sum(float(r["epoch_time_s"]) for r in rows) + 1.5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "resnet20", "--data-dir", "{missing}"], "does not exist"),
        (["train", "resnet20", "--recipe", "nope", "--data-dir", "x"], "no recipe 'nope'"),
        (
            ["train", "resnet20", "--data-dir", "{data}", "--amp", "fp16", "--device", "cpu"],
            "needs a GPU",
        ),
        (
            ["train", "resnet20", "--data-dir", "{data}", "--drop-rate", "0.5"],
            "resnet20 takes no drop_rate option",
        ),
        (
            ["train", "tiny_test_net", "--data-dir", "{data}", "--dropout", "0.5"],
            "tiny_test_net takes no drop_rate option",
        ),
        (  # GoogLeNet Sec. 5: the aux heads' 5x5/3 pools need 4a's map to be 5 pixels
            ["train", "googlenet_paper", "--data-dir", "{data}", "--val-size", "100"],
            "auxiliary heads need training images of at least 79x79 pixels, these are 32x32",
        ),
        (["train", "--resume", "{tmp}"], "not a run directory"),
        (["train"], "name a model"),
        (
            ["eval", "resnet20", "--weights", "{tmp}/none.safetensors", "--data-dir", "{data}"],
            "does not exist",
        ),
        (["plot", "{tmp}"], "no metrics.csv"),
    ],
)
def test_cli_errors_exit_2(argv, message, fake_cifar: Path, tmp_path: Path, capsys) -> None:
    values = {"missing": str(tmp_path / "missing"), "data": str(fake_cifar), "tmp": str(tmp_path)}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_resume_needs_a_checkpoint(tmp_path: Path, fake_cifar: Path, capsys) -> None:
    cfg = config_from(
        {"model": "resnet20", "data_dir": str(fake_cifar), "epochs": 1}, source="test"
    )
    (tmp_path / "config.toml").write_text(cfg.to_toml())
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err


def test_real_cifar10_jpeg_folder(cifar10_jpeg: Path, tmp_path: Path, capsys) -> None:
    """The shared CIFAR-10 JPEGs (ImageFolder layout) train with the fast recipe (a subset)."""
    run, cache = tmp_path / "real", tmp_path / "cache"
    argv = ["train", "resnet20", "--recipe", "fast", "--data-dir", str(cifar10_jpeg.parent)]
    argv += ["--output", str(run), "--cache-dir", str(cache), "--limit", "600", "--val-size", "100"]
    argv += ["--epochs", "1", "--batch-size", "100", "--no-progress", "--no-tensorboard"]
    assert main(argv) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["n"] == 600 and results["test"]["top1_err"] < 95
    assert len(list(cache.glob("cifar10-*.pt"))) == 2  # train and test, decoded once
    assert "test (once)" in capsys.readouterr().out


def test_preact_resnet_recipe_warms_up_400_iterations() -> None:
    """Identity Mappings, appendix: "for all CIFAR experiments we warm up the training by using
    a smaller learning rate of 0.01 at the beginning 400 iterations" (a fixed count, no error
    condition), otherwise ResNet's CIFAR recipe."""
    for model in ("preact_resnet164", "preact_resnet1001"):
        cfg = resolve_config(model, data_dir="x")
        assert (cfg.recipe, cfg.warmup, cfg.warmup_error) == ("preact_resnet_cifar", 400, 0)
        base = resolve_config(model, "resnet_cifar", data_dir="x")
        assert dataclasses.replace(cfg, recipe="resnet_cifar", warmup=0) == base


def test_model_kwargs_reach_the_builder(tmp_path: Path) -> None:
    """``model_kwargs`` (recipe table, ``--model-kwargs KEY=VALUE``) sets any of the model's
    options, checked against its options and their types before data is read; the options
    are saved with the weights, so the file rebuilds the same network."""
    argv = ["train", "resnet20", "--model-kwargs", "shortcut=B", "preact=true", "--data", "x"]
    args = build_parser(argv).parse_args(argv)
    assert args.model_kwargs == {"shortcut": "B", "preact": True}
    cfg = resolve_config("resnet20", data_dir="x", model_kwargs=args.model_kwargs)
    assert build.model_options(cfg) == {"shortcut": "B", "preact": True}
    saved = tmp_path / "recipe.toml"
    saved.write_text(cfg.to_toml())
    assert '[model_kwargs]\nshortcut = "B"\npreact = true\n' in saved.read_text()  # tomli_w's
    assert resolve_config("resnet20", str(saved)).model_kwargs == cfg.model_kwargs
    for kwargs, message in [
        ({"lrn": False}, "resnet20 has no option lrn; options: shortcut='A'"),
        ({"preact": 1}, "option preact takes a bool"),
        ({"shortcut": 2}, "option shortcut takes a str"),
    ]:
        with pytest.raises(ConfigError, match=message):
            build.model_options(resolve_config("resnet20", data_dir="x", model_kwargs=kwargs))
    with pytest.raises(ConfigError, match="not model_kwargs"):
        resolve_config("vgg16", data_dir="x", model_kwargs={"drop_rate": 0.1})
    with pytest.raises(SystemExit):
        build_parser(["train"]).parse_args(["train", "resnet20", "--model-kwargs", "shortcut"])

    model = moderncnn.create_model("resnet20", shortcut="B")
    path = tmp_path / "b.safetensors"
    save_weights(model, path)
    again = moderncnn.create_model("resnet20", weights=path)  # strict: A has no projections
    assert again.model_kwargs == {"shortcut": "B"}
    assert torch.equal(again.state_dict()["layer2.0.downsample.0.weight"],
                       model.state_dict()["layer2.0.downsample.0.weight"])  # fmt: skip


def test_batch_splits_over_processes() -> None:
    """The batch must split into accum_steps micro-batches on every process: checked where
    the world size is known, before any data is read (a loader would fail or shrink it)."""
    env = distributed.DistEnv(rank=0, world=2, device=torch.device("cpu"))
    cfg = resolve_config("resnet20", data_dir="x", batch_size=25, accum_steps=5)
    with pytest.raises(ConfigError, match="does not split into 5 micro-batches over 2 proc"):
        build._say_distributed(cfg, env)
    build._say_distributed(dataclasses.replace(cfg, batch_size=50), env)


def test_builders_work_alone(tmp_path: Path) -> None:
    """Each piece of a run is built by one function of train/build.py: the run is checked
    and started without its data (none exists here), the model and optimizer without a loop."""
    env = distributed.DistEnv(rank=0, world=1, device=torch.device("cpu"))
    cfg = resolve_config("resnet20", data_dir=str(tmp_path / "no-data"), output=str(tmp_path / "r"))
    run = build.start_run(cfg, env)
    assert run.run_dir == tmp_path / "r" and run.resume_from is None and run.weights is None
    assert run.cfg.amp in ("none", "bf16") and run.precision.startswith(("fp32", "bf16"))
    with pytest.raises(ConfigError, match="resnet20 has no option lrn"):
        build.start_run(dataclasses.replace(cfg, model_kwargs={"lrn": False}), env)
    model = moderncnn.create_model("resnet20")
    optimizer = build.build_optimizer(cfg, model)
    assert optimizer.defaults["lr"] == cfg.peak_lr and len(optimizer.param_groups) == 1
    assert build.wrap(model, cfg, env) is model and build.build_ema(cfg, model) is None
