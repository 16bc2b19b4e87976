"""Malformed invocations of every command: each is refused with exit status 2 and one line on
stderr, ``moderncnn CMD: error: ...`` (argparse's own errors too: the parsers print no usage
block), without a traceback, without output and without creating a file.

The table runs in-process through :func:`moderncnn.cli.main` (a process per case would import
torch a hundred times); two cases also run as ``python -m moderncnn`` to show the real entry
point behaves the same. Log records count as stderr lines, as the command line prints them
there (but see :data:`READ_FIRST`)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import tiny_model  # noqa: F401  (registers tiny_test_net)
from conftest import REPO, write_fake_cifar
from moderncnn.cli import main
from moderncnn.models import create_model
from moderncnn.models.weights import save_weights

# Bases the cases add one malformed flag to; each base alone is a valid invocation.
TRAIN = ["train", "tiny_test_net", "--data", "{data}", "--epochs", "1", "--val-size", "50",
         "--batch-size", "50", "--no-progress", "--no-tensorboard"]  # fmt: skip
EVAL = ["eval", "tiny_test_net", "--weights", "{weights}", "--data", "{data}", "--no-progress"]
EVAL_RUN = ["eval", "tiny_test_net", "--weights", "{run}/best.safetensors", "--no-progress"]
BENCH = ["bench", "resnet20", "--against", "eager", "--runs", "1", "--batch", "2"]
PREDICT = ["predict", "tiny_test_net", "{image}", "--weights", "{weights}"]
EXPORT = ["export", "tiny_test_net", "--format", "exported-program", "-o", "m.pt2"]
RUN = ["experiment", "run", "relu_vs_tanh", "--budget", "smoke", "--dry-run", "--data", "{data}"]
NO_LATENCY = ["compare", "alexnet", "--no-latency"]
HUGE = "3x100000x100000"

#: (argv, a fragment of the expected error line). Placeholders: see :func:`make_inputs`.
CASES: list[tuple[list[str], str]] = [
    # the command
    ([], "the following arguments are required: COMMAND"),
    (["nope"], "invalid choice: 'nope'"),
    (["--nope", "models"], "unrecognized arguments: --nope"),
    (["models", "a", "b"], "unrecognized arguments: b"),
    (["models", "--pretrained", "--nope"], "unrecognized arguments: --nope"),
    (["models", "--json=yes"], "ignored explicit argument 'yes'"),
    (["explain", "extra"], "unrecognized arguments: extra"),
    (["explain", "--json", "--nope"], "unrecognized arguments: --nope"),
    # summary, compare: model names, input sizes, counts, plot files
    (["summary"], "required: model"),
    (["summary", "nope"], "unknown model 'nope'"),
    (["summary", "resnet20", "--input", HUGE], "4096"),
    (["summary", "resnet20", "--input", "3x32"], "CxHxW"),
    (["summary", "resnet20", "--input", "axbxc"], "CxHxW"),
    (["summary", "resnet20", "--input", "3x32x32x1"], "CxHxW"),
    (["summary", "resnet20", "--input", "0x32x32"], "1 to 64 channels"),
    (["summary", "resnet20", "--input", "1000x32x32"], "1 to 64 channels"),
    (["summary", "resnet20", "--input", "-3x32x32"], "expected one argument"),
    (["summary", "alexnet", "--input", "3x8x8"], "at least"),
    (["summary", "resnet20", "--depth", "-1"], "argument --depth: must be 0 or more, got -1"),
    (["summary", "resnet20", "--depth", "x"], "argument --depth: must be an integer, got 'x'"),
    (["compare", "nope", "--no-latency"], "unknown model 'nope'"),
    (["compare", "resnet20", "--runs", "0"], "argument --runs: must be 1 or more, got 0"),
    (["compare", "resnet20", "--runs", "-1"], "argument --runs: must be 1 or more, got -1"),
    (["compare", "resnet20", "--runs", "1.5"], "argument --runs: must be an integer"),
    (["compare", "resnet20", "--runs", "100000000"], "must be 1 to 1,000, got 100,000,000"),
    ([*NO_LATENCY, "--input", HUGE], "4096"),
    ([*NO_LATENCY, "--input", "3x0x32"], "4096"),
    ([*NO_LATENCY, "--plot", "out.txt"], "argument --plot: must be a .png file, got 'out.txt'"),
    ([*NO_LATENCY, "--plot", "{folder}/d.png"], "is a folder"),
    ([*NO_LATENCY, "--plot", "{file}/c.png"], "is a file, not a folder"),
    # filters
    (["filters"], "required: SOURCE"),
    (["filters", "{missing}"], "is not a run directory"),
    (["filters", "{weights}", "-o", "out.txt"], "argument --output/-o: must be a .png file"),
    (["filters", "{weights}", "-o", "{folder}/d.png"], "is a folder"),
    (["filters", "{weights}", "-o", "{file}/f.png"], "is a file, not a folder"),
    (["filters", "{weights}", "--layer", "nope"], "nope"),
    (["filters", "DEFAULT"], "--model"),
    (["filters", "DEFAULT", "--model", "nope"], "unknown model 'nope'"),
    (["filters", "{weights}", "--model", "resnet20"], "does not fit resnet20"),
    (["filters", "{pth}"], "does not record its model"),
    (["filters", "{file}"], "cannot read weights from"),  # issue 21: not "name it (--model)"
    # train: every kind of value, checked before a run folder is made
    (["train"], "name a model"),
    (["train", "nope", "--data", "{data}"], "unknown model 'nope'"),
    ([*TRAIN, "--device", "bogus"], "device must be cpu, cuda or cuda:N"),
    ([*TRAIN, "--device", "cpu:x"], "device must be cpu, cuda or cuda:N"),
    ([*TRAIN, "--device", "cuda:99"], "cuda:99"),
    ([*TRAIN, "--label-smoothing", "1.5"], "label_smoothing must be in [0, 1), got 1.5"),
    ([*TRAIN, "--ema-decay", "1"], "ema_decay must be in [0, 1), got 1"),
    ([*TRAIN, "--ema-every", "0"], "ema_every must be 1 or more, got 0"),
    ([*TRAIN, "--lr-base-size", "-256"], "lr_base_size must be 0 or more, got -256"),
    ([*TRAIN, "--tta", "mirror"], "argument --tta: invalid choice: 'mirror'"),
    ([*TRAIN, "--warmup-mode", "cosine"], "argument --warmup-mode: invalid choice"),
    ([*TRAIN, "--warmup", "9", "--warmup-error", "80", "--warmup-mode", "linear"], "constant"),
    ([*TRAIN, "--compile-mode", "fast"], "argument --compile-mode: invalid choice"),
    ([*TRAIN, "--label-smoothing", "-0.1"], "label_smoothing must be in [0, 1), got -0.1"),
    ([*TRAIN, "--limit", "-3"], "limit must be 0 or more, got -3"),
    ([*TRAIN, "--workers", "-1"], "workers must be 0 or more, got -1"),
    ([*TRAIN, "--val-size", "-5"], "val_size must be 0 or more, got -5"),
    ([*TRAIN, "--milestones", "5", "2"], "milestones must increase"),
    ([*TRAIN, "--milestones", "-1"], "milestones must increase from above 0"),
    ([*TRAIN, "--milestone-unit", "fraction", "--milestones", "0.5", "1.5"], "fraction"),
    ([*TRAIN, "--gamma", "0"], "gamma must be a number > 0, got 0"),
    ([*TRAIN, "--gamma", "-1"], "gamma must be a number > 0, got -1"),
    ([*TRAIN, "--lr", "0"], "lr must be a number > 0, got 0"),
    ([*TRAIN, "--lr", "nan"], "lr must be a number > 0, got nan"),
    ([*TRAIN, "--lr", "inf"], "lr must be a number > 0, got inf"),
    ([*TRAIN, "--lr", "x"], "argument --lr: invalid float value: 'x'"),
    ([*TRAIN, "--batch-size", "0"], "batch_size must be 1 or more, got 0"),
    ([*TRAIN, "--batch-size", "x"], "argument --batch-size: invalid int value: 'x'"),
    ([*TRAIN, "--batch-size", "100000"], "lower --batch-size"),
    ([*TRAIN, "--accum", "3"], "not a multiple of accum_steps"),
    ([*TRAIN, "--accum", "0"], "accum_steps must be 1 or more, got 0"),
    ([*TRAIN, "--epochs", "-1"], "epochs must be 0 or more, got -1"),
    ([*TRAIN, "--epochs", "0", "--iterations", "-5"], "iterations must be 0 or more, got -5"),
    ([*TRAIN, "--iterations", "5"], "give one of epochs and iterations"),
    ([*TRAIN, "--momentum", "-0.5"], "momentum must be in [0, 1), got -0.5"),
    ([*TRAIN, "--momentum", "1.5"], "momentum must be in [0, 1), got 1.5"),
    ([*TRAIN, "--nesterov", "--momentum", "0"], "nesterov needs momentum > 0"),
    ([*TRAIN, "--weight-decay", "-1"], "weight_decay must be a number >= 0, got -1"),
    ([*TRAIN, "--aux-weight", "-1"], "aux_weight must be a number >= 0, got -1"),
    ([*TRAIN, "--step-every", "-1"], "step_every must be a number >= 0, got -1"),
    ([*TRAIN, "--schedule", "plateau", "--patience", "-1"], "patience must be 0 or more"),
    ([*TRAIN, "--warmup", "-1"], "warmup must be 0 or more"),
    ([*TRAIN, "--warmup-error", "150"], "warmup_error must be in [0, 100)"),
    ([*TRAIN, "--drop-rate", "1.5"], "drop_rate must be below 1"),
    ([*TRAIN, "--backbone-lr-scale", "2"], "backbone_lr_scale must be in [0, 1]"),
    ([*TRAIN, "--amp", "fp32"], "argument --amp: invalid choice: 'fp32'"),
    ([*TRAIN, "--amp", "fp16", "--device", "cpu"], "needs a GPU"),
    ([*TRAIN, "--schedule", "nope"], "argument --schedule: invalid choice: 'nope'"),
    ([*TRAIN, "--augment", "nope"], "argument --augment: invalid choice: 'nope'"),
    ([*TRAIN, "--download", "imagenet"], "argument --download: invalid choice"),
    ([*TRAIN, "--model-kwargs", "width"], "expected KEY=VALUE"),
    ([*TRAIN, "--model-kwargs", "nope=1"], "nope"),
    ([*TRAIN, "--recipe", "nope"], "no recipe 'nope'"),
    ([*TRAIN, "--recipe", "{file}"], "no recipe"),
    ([*TRAIN, "--freeze"], "need --weights"),
    ([*TRAIN, "--weights", "{missing}"], "does not exist"),
    ([*TRAIN, "--output", "{file}"], "is a file"),
    ([*TRAIN, "--output", "{file}/run"], "is a file, not a folder"),
    ([*TRAIN, "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    ([*TRAIN, "--nope"], "unrecognized arguments: --nope"),
    (["train", "--resume", "{missing}"], "not a run directory"),
    # issue 21: a run keeps its identity; options that do nothing; bounds
    (["train", "--resume", "{run}", "--epochs", "4"], "milestones are fractions"),
    (["train", "--resume", "{run}", "--lr", "5"], "--lr (run: 0.05) cannot change"),
    (["train", "--resume", "{run}", "--limit", "300", "--batch-size", "16"], "--limit (run: 100)"),
    (["train", "--resume", "{run}", "--schedule", "cosine"], "--schedule (run: 'step')"),
    (["train", "--resume", "{run}", "--recipe", "cifar_fast"], "--recipe (run: 'cifar')"),
    (["train", "--resume", "{run}", "--seed", "3"], "--seed (run: 0)"),
    (["train", "--resume", "{run}", "--weights", "{weights}"], "--weights (run: '')"),
    (["train", "--resume", "{run}", "--model-kwargs", "a=1"], "--model-kwargs (run: "),
    (["train", "resnet20", "--resume", "{run}"], "is a run of tiny_test_net, not resnet20"),
    (["train", "--resume", "{run}"], "is finished (1 epochs, results in results.json)"),
    (["train", "--resume", "{unfinished}", "--data-dir", "{data100}"], "keeps its data"),
    (["train", "--resume", "{moved}"], "give --data-dir where the run's data is now"),
    ([*TRAIN, "--tta", "flip", "--val-size", "0", "--no-test"], "drop --tta"),
    ([*TRAIN, "--download", "cifar100"], "holds cifar10 already"),
    ([*TRAIN, "--recipe", "{other_model}"], "sets model = 'resnet56'"),
    ([*TRAIN, "--epochs", "99999999999999999999"], "epochs must be at most 30,000"),
    ([*TRAIN, "--epochs", "0", "--iterations", "10" + "0" * 9], "iterations must be at most"),
    ([*TRAIN, "--output", "x" * 300], "File name too long"),
    ([*TRAIN, "--output", "{folder}/" + "y" * 256 + "/run"], "File name too long"),
    (["train", "tiny_test_net", "--data", "{missing}", "--epochs", "1"], "does not exist"),
    (["train", "tiny_test_net", "--data", "{file}", "--epochs", "1"], "{file}"),
    # eval
    (["eval"], "required: model, --weights, --data-dir"),
    ([*EVAL, "--tta", "flip", "--ten-crop"], "drop --tta"),
    ([*EVAL, "--tta", "all"], "argument --tta: invalid choice: 'all'"),
    ([*EVAL, "--batch-size", "0"], "argument --batch-size: must be 1 or more, got 0"),
    ([*EVAL, "--batch-size", "-1"], "argument --batch-size: must be 1 or more, got -1"),
    ([*EVAL, "--batch-size", "x"], "argument --batch-size: must be an integer, got 'x'"),
    ([*EVAL, "--limit", "-1"], "argument --limit: must be 0 or more, got -1"),
    ([*EVAL, "--workers", "-1"], "argument --workers: must be 0 or more, got -1"),
    ([*EVAL, "--amp", "fp16", "--device", "cpu"], "--amp fp16 needs a GPU"),
    ([*EVAL, "--amp", "fp32"], "argument --amp: invalid choice: 'fp32'"),
    ([*EVAL, "--device", "bogus"], "argument --device: must be cpu, cuda or cuda:N"),
    ([*EVAL, "--device", "cuda:99"], "cuda:99"),
    ([*EVAL, "--confusion", "out.txt"], "argument --confusion: must be a .png file"),
    ([*EVAL, "--confusion", "{folder}/d.png"], "is a folder"),
    ([*EVAL, "--split", "nope"], "argument --split: invalid choice: 'nope'"),
    (["eval", "tiny_test_net", "--weights", "{missing}", "--data", "{data}"], "does not exist"),
    (["eval", "tiny_test_net", "--weights", "{junk}", "--data", "{data}"], "cannot read"),
    (["eval", "tiny_test_net", "--weights", "{weights}", "--data", "{missing}"], "not exist"),
    (["eval", "nope", "--weights", "{weights}", "--data", "{data}"], "unknown model 'nope'"),
    (["eval", "resnet20", "--weights", "{weights}", "--data", "{data}"], "does not fit"),
    ([*EVAL_RUN, "--data", "{data100}", "--split", "val"], "not hold the training images of"),
    ([*EVAL_RUN, "--data", "{data100}", "--split", "train"], "not hold the training images of"),
    (
        ["eval", "tiny_test_net", "--weights", "{val500}", "--data", "{data}", "--split", "val"],
        "cannot hold out 500 validation images (the val_size of the run of ",
    ),
    # plot
    (["plot"], "required: RUN_DIR"),
    (["plot", "{missing}"], "no metrics.csv"),
    (["plot", "{folder}"], "no metrics.csv"),
    (["plot", "{run}", "-o", "out.txt"], "argument --output/-o: must be a .png file"),
    (["plot", "{run}", "-o", "{folder}/d.png"], "is a folder"),
    (["plot", "{run}", "-o", "{file}/e.png"], "is a file, not a folder"),
    (["plot", "{run}", "--metric", "nope"], "argument --metric: invalid choice: 'nope'"),
    (["plot", "{corrupt}"], "is not a metrics.csv a run wrote"),
    (["plot", "{textual}"], "column epoch holds a value that is not a number"),
    # bench
    (["bench", "nope"], "unknown model 'nope'"),
    ([*BENCH, "--dtype", "fp64"], "argument --dtype: invalid choice: 'fp64'"),
    ([*BENCH, "--dtype", "x"], "argument --dtype: invalid choice: 'x'"),
    ([*BENCH, "--dtype", "fp16", "--device", "cpu"], "fp16 needs a GPU"),
    ([*BENCH, "--input", HUGE], "4096"),
    ([*BENCH, "--batch", "0"], "argument --batch: must be 1 or more, got 0"),
    ([*BENCH, "--batch", "-1"], "argument --batch: must be 1 or more, got -1"),
    ([*BENCH, "--batch", "100000000"], "lower --batch or --input"),
    ([*BENCH, "--runs", "0"], "argument --runs: must be 1 or more, got 0"),
    ([*BENCH, "--device", "bogus"], "argument --device: must be cpu, cuda or cuda:N"),
    ([*BENCH, "--device", "cuda:99"], "cuda:99"),
    ([*BENCH, "--mode", "nope"], "argument --mode: invalid choice: 'nope'"),
    ([*BENCH, "--against", "nope"], "argument --against: invalid choice: 'nope'"),
    # predict
    (["predict"], "required: model, IMAGE_OR_FOLDER, --weights"),
    (["predict", "tiny_test_net", "{image}"], "required: --weights"),
    ([*PREDICT, "--topk", "0"], "argument --topk: must be 1 or more, got 0"),
    ([*PREDICT, "--topk", "-1"], "argument --topk: must be 1 or more, got -1"),
    ([*PREDICT, "--topk", "x"], "argument --topk: must be an integer, got 'x'"),
    ([*PREDICT, "--batch", "0"], "argument --batch: must be 1 or more, got 0"),
    ([*PREDICT, "--device", "bogus"], "argument --device: must be cpu, cuda or cuda:N"),
    (["predict", "tiny_test_net", "{image}", "--weights", "{missing}"], "does not exist"),
    (["predict", "nope", "{image}", "--weights", "{weights}"], "unknown model 'nope'"),
    (["predict", "tiny_test_net", "{folder}", "--weights", "{weights}"], "no image files"),
    # export
    (["export", "tiny_test_net", "-o", "m.pt2"], "required: --format"),
    (["export", "nope", "--format", "exported-program", "-o", "m.pt2"], "unknown model"),
    (["export", "tiny_test_net", "--format", "nope", "-o", "m.onnx"], "unknown export format"),
    ([*EXPORT, "-o", "m.txt"], "writes a .pt2 file"),
    (["export", "tiny_test_net", "--format", "onnx", "-o", "m.pt2"], "writes a .onnx file"),
    ([*EXPORT, "--opset", "18"], "--opset applies to --format onnx only"),
    ([*EXPORT, "--opset", "x"], "argument --opset: invalid int value: 'x'"),
    ([*EXPORT, "--input", HUGE], "4096"),
    ([*EXPORT, "--weights", "{missing}"], "does not exist"),
    ([*EXPORT, "-o", "{folder}/d.pt2"], "is a folder"),
    # experiment
    (["experiment"], "required: ACTION"),
    (["experiment", "nope"], "invalid choice: 'nope'"),
    (["experiment", "list", "extra"], "unrecognized arguments: extra"),
    (["experiment", "run"], "required: NAME"),
    (["experiment", "run", "nope", "--dry-run"], "no experiment 'nope'"),
    ([*RUN, "--seeds", "0"], "argument --seeds: must be 1 or more, got 0"),
    ([*RUN, "--seeds", "-1"], "argument --seeds: must be 1 or more, got -1"),
    ([*RUN, "--seeds", "x"], "argument --seeds: must be an integer, got 'x'"),
    ([*RUN, "--budget", "nope"], "argument --budget: invalid choice: 'nope'"),
    ([*RUN, "--device", "bogus"], "argument --device: must be cpu, cuda or cuda:N"),
    ([*RUN, "--data", ""], "pass --data-dir"),
    (
        ["experiment", "run", "relu_vs_tanh", "--budget", "smoke", "--data", "{missing}"],
        "not exist",
    ),
    (["experiment", "report", "--results", "{missing}"], "no results"),
    (["experiment", "report", "--results", "{folder}", "-o", "r.md"], "no results"),
    (["experiment", "report", "-o", "out.txt"], "argument --out/-o: must be a .md file"),
    (["experiment", "report", "--budget", "nope"], "argument --budget: invalid choice"),
    # view, cam, erf
    (["view"], "required: model"),
    (["view", "nope"], "unknown model 'nope'"),
    (["view", "resnet20", "-o", "out.txt"], "argument --output/-o: must be a .html file"),
    (["view", "resnet20", "-o", "{file}/v.html"], "is a file, not a folder"),
    (["view", "resnet20", "--weights", "{missing}"], "does not exist"),
    (["view", "resnet20", "--image", "{folder}"], "no image files"),
    (["view", "resnet20", "--erf-samples", "0"], "argument --erf-samples: must be 1 or more"),
    (["view", "resnet20", "--input", HUGE], "4096"),
    (["cam"], "required: model, IMAGE_OR_FOLDER"),
    (["cam", "resnet20", "{image}", "--method", "nope"], "argument --method: invalid choice"),
    (["cam", "resnet20", "{image}", "--class", "-1"], "argument --class: must be 0 or more"),
    (["cam", "resnet20", "{image}", "--class", "10"], "classes must be in 0..9, got [10]"),
    (["cam", "resnet20", "{image}", "--layer", "nope"], "has no layer 'nope'"),
    (["cam", "resnet20", "{image}", "--grid", "g.txt"], "argument --grid: must be a .png file"),
    (["cam", "tiny_test_net", "{image}"], "declares no feature stages"),
    (["cam", "resnet20", "{image}", "--weights", "{weights}"], "does not fit resnet20"),
    (["erf", "resnet20", "--share", "0"], "argument --share: share must be in (0, 1]"),
    (["erf", "resnet20", "--share", "x"], "argument --share: must be a number in (0, 1]"),
    (["erf", "resnet20", "--stage", "9"], "has no feature stage 9"),
    (["erf", "resnet20", "--samples", "0"], "argument --samples: must be 1 or more, got 0"),
    (["erf", "resnet20", "-o", "e.txt"], "argument --output/-o: must be a .png file"),
    (["erf", "resnet20", "--weights", "{run}", "--with-fresh"], "does not fit resnet20"),
    (["erf", "resnet20", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
]


#: Problems that show only once the data or the weights are read: the INFO lines narrating
#: that reading may come before the error (nothing at WARNING or above may).
READ_FIRST = ("lower --batch-size", "does not fit", "is finished")


def make_inputs(root: Path) -> dict[str, str]:
    """The files the cases name: fake CIFAR-10, tiny_test_net weights and a run of it, an
    image, a junk weights file, a plain file, a folder (holding folders named like files) and
    a missing path."""
    data = write_fake_cifar(root / "data", n_train=100, n_test=20)
    weights = root / "tiny.safetensors"
    save_weights(create_model("tiny_test_net"), weights)
    run = root / "run"
    argv = [*TRAIN, "--output", str(run), "--limit", "100", "--no-test"]
    assert main([a.format(data=data) for a in argv]) == 0
    image = root / "cat.png"
    Image.fromarray(torch.zeros(32, 32, 3, dtype=torch.uint8).numpy()).save(image)
    (root / "junk.pth").write_bytes(b"not a checkpoint")
    (root / "file").write_text("a file, not a folder\n")
    for name in ("d.png", "d.pt2"):
        (root / "folder" / name).mkdir(parents=True)
    paths = {"data": data, "weights": weights, "run": run, "image": image}
    paths |= {"junk": root / "junk.pth", "file": root / "file", "folder": root / "folder"}
    return {k: str(v) for k, v in paths.items()} | issue_21_inputs(root, run)


def issue_21_inputs(root: Path, run: Path) -> dict[str, str]:
    """Issue 21's: CIFAR-100 (other data than the run's), the run with its data gone and
    unfinished, a
    state_dict (weights that do not name their model), weights recording a val_size but no
    split, a recipe naming another model, and run folders with a binary metrics.csv and one
    of text."""
    paths = {"data100": write_fake_cifar(root / "data100", 100, 20, kind="cifar100")}
    paths["moved"] = moved = root / "moved"
    shutil.copytree(run, moved)
    config = (moved / "config.toml").read_text()
    (moved / "config.toml").write_text(config.replace(str(root / "data"), str(root / "gone")))
    paths["unfinished"] = unfinished = root / "unfinished"  # killed in its final evaluation
    shutil.copytree(run, unfinished)
    (unfinished / "results.json").unlink()
    paths["pth"] = root / "state.pth"
    torch.save(create_model("tiny_test_net").state_dict(), paths["pth"])
    paths["val500"] = root / "val500.safetensors"
    save_weights(create_model("tiny_test_net"), paths["val500"], val_size=500)
    paths["other_model"] = root / "other_model.toml"
    paths["other_model"].write_text('base = "cifar"\nmodel = "resnet56"\n')
    for name, content in (("corrupt", bytes(range(128, 256))), ("textual", b"epoch\nnope\n")):
        paths[name] = root / name
        paths[name].mkdir()
        (paths[name] / "metrics.csv").write_bytes(content)
    return {k: str(v) for k, v in paths.items()} | {"missing": str(root / "missing")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_inputs(tmp_path_factory.mktemp("fuzz_inputs"))


def _case_id(argv: list[str]) -> str:
    return " ".join(argv) or "(nothing)"


@pytest.mark.parametrize(("argv", "fragment"), CASES, ids=[_case_id(a) for a, _ in CASES])
def test_malformed_invocation_is_refused_in_one_line(
    argv: list[str],
    fragment: str,
    inputs: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    caplog.set_level(logging.INFO)
    code = main([a.format(**inputs) for a in argv])
    out, err = capsys.readouterr()
    narration_ok = fragment in READ_FIRST
    logged = [r for r in caplog.records if r.levelno > logging.INFO or not narration_ok]
    lines = err.splitlines() + [r.getMessage() for r in logged]
    assert code == 2, f"exit status {code}; stderr: {err}"
    assert len(lines) == 1, lines
    assert re.match(r"moderncnn( [a-z]+)*: error: ", lines[0])
    assert fragment.format(**inputs) in lines[0]
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_table_covers_every_command() -> None:
    from moderncnn.cli import COMMANDS

    named = {a[0] for a, _ in CASES if a and not a[0].startswith("-")}
    assert named >= set(COMMANDS) and len(CASES) >= 100


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["nope"], "moderncnn: error: argument COMMAND: invalid choice: 'nope' (choose from "),
        (
            ["summary", "resnet20", "--input", HUGE],
            "moderncnn summary: error: argument --input: must be CxHxW with 1 to 64 channels "
            f"and 1 to 4096 pixels a side, e.g. 3x224x224; got '{HUGE}'\n",
        ),
    ],
)
def test_the_entry_point_prints_the_same_line(argv: list[str], line: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "moderncnn", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert (p.returncode, p.stdout, len(p.stderr.splitlines())) == (2, "", 1)
    assert p.stderr.startswith(line)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        (["--sync-bn"], "--sync-bn has no effect in a single process (nothing to sync)"),
        (
            ["--schedule", "cosine", "--milestones", "0.5"],
            "milestones apply to the step schedule only: ignored (cosine)",
        ),
        (
            ["--schedule", "onecycle", "--step-every", "2"],
            "step_every apply to the step schedule only: ignored (onecycle)",
        ),
    ],
)
def test_options_without_effect_are_warned_about_once(
    extra: list[str],
    warning: str,
    inputs: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Options that do nothing train, with one warning saying so; config.toml does not keep
    them (a resumed run is not warned again)."""
    caplog.set_level(logging.INFO)
    argv = [a.format(**inputs) for a in TRAIN] + ["--limit", "100", "--no-test", *extra]
    assert main([*argv, "--output", str(tmp_path / "run")]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warned == [warning]
    if "--schedule" in extra:
        config = (tmp_path / "run" / "config.toml").read_text()
        assert "milestones = []\n" in config and "step_every = 0.0\n" in config


def test_predict_says_what_is_wrong_with_an_image(
    inputs: dict[str, str], tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty file is said to be empty (not "cannot identify image file"); a 1x1 image is
    classified with the warning train and eval give for images far from the crop."""
    (tmp_path / "zero.jpg").write_bytes(b"")
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    files = [str(tmp_path / "zero.jpg"), str(tmp_path / "one.png")]
    assert main(["predict", "tiny_test_net", *files, "--weights", inputs["weights"]]) == 1
    out = capsys.readouterr().out
    assert f"{files[0]}: cannot read: it is empty (0 bytes)\n" in out
    assert "1 of 2 images classified" in out
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warned == [
        "1 of 2 images in the files given are far smaller than the 32-pixel crop or far from "
        f"square (over 4x): upscaled or mostly cropped away, e.g. {files[1]} (1x1)"
    ]
