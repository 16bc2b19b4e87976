"""``moderncnn eval``: weights whose classifier does not fit the data are refused (or, with
--allow-new-head, scored and flagged), class names are checked, and a folder holding only
val/ or test/ is evaluated."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import torch

import moderncnn
import tiny_model  # noqa: F401  (registers tiny_test_net)
from conftest import write_image_folder
from moderncnn.cli import main
from moderncnn.errors import CheckpointError
from moderncnn.models.weights import load_weights, save_weights

CLASSES = ("cat", "dog", "emu")
BIAS = 5.0


def _always(num_classes: int, predicted: int) -> torch.nn.Module:
    """tiny_test_net whose logits are ``BIAS`` for class ``predicted`` and 0 for the rest,
    whatever the image (zero classifier weights)."""
    model = moderncnn.create_model("tiny_test_net", num_classes=num_classes)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.zero_()
        model.fc.bias[predicted] = BIAS
    return model


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 10-class .pth file and a 3-class one that always says 'dog' (class 1)."""
    root = tmp_path_factory.mktemp("weights")
    paths = {"ten": root / "ten.pth", "dog": root / "dog.pth"}
    torch.save(_always(10, 1).state_dict(), paths["ten"])
    torch.save(_always(3, 1).state_dict(), paths["dog"])
    return paths


def _eval(weights: Path, data: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["eval", "tiny_test_net", "--weights", str(weights), "--data-dir", str(data),
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", *extra]  # fmt: skip


def test_load_weights_keeps_or_refuses_a_new_head(weights: dict[str, Path], caplog) -> None:
    model = moderncnn.create_model("tiny_test_net", num_classes=3)
    with pytest.raises(
        CheckpointError,
        match=r"classifier for 10 classes \(fc.weight, fc.bias\) and tiny_test_net was built "
        r"for 3, so its classifier would stay random.*new_head=True; moderncnn eval "
        r"--allow-new-head",
    ):
        load_weights(model, weights["ten"], new_head=False)
    with pytest.raises(CheckpointError, match="classifier for 10 classes"):
        moderncnn.create_model(
            "tiny_test_net", num_classes=3, weights=weights["ten"], new_head=False
        )
    with caplog.at_level(logging.WARNING, logger="moderncnn"):  # fine-tuning: the default
        assert load_weights(model, weights["ten"]) == ["fc.weight", "fc.bias"]
    assert "checkpoint has 10 classes, model has 3" in caplog.text
    assert float(model.fc.bias.detach().abs().max()) < 1  # the model's own (new) classifier
    assert load_weights(model, weights["dog"], new_head=False) == []
    assert model.fc.bias.tolist() == [0.0, BIAS, 0.0]


@pytest.mark.parametrize("split_dir", ["val", "test"])
def test_eval_a_folder_with_only_an_evaluation_split(
    split_dir: str, weights: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """ImageNet's layout (val/ alone) or test/ alone: the test split; 'dog' always predicted."""
    data = write_image_folder(tmp_path / "data", 32, per_class=4, splits=(split_dir,),
                              classes=CLASSES)  # fmt: skip
    assert main([*_eval(weights["dog"], data, tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 12 and report["split"] == "test"
    assert report["folder"] == str(data / split_dir) and report["new_head"] == []
    assert report["top1_err"] == pytest.approx(200 / 3) and report["top5_err"] == 0
    assert report["per_class_accuracy"] == {"cat": 0, "dog": 100, "emu": 0}
    # -log softmax: 4 'dog' images, 8 others
    z = math.log(math.exp(BIAS) + 2)
    assert report["loss"] == pytest.approx((4 * (z - BIAS) + 8 * z) / 12)
    assert main(_eval(weights["dog"], data, tmp_path)) == 0
    assert f"tiny_test_net on test from {data / split_dir} (12 images" in capsys.readouterr().out

    assert main(_eval(weights["dog"], data, tmp_path, "--split", "val")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"has no train/ folder; its test split is {data / split_dir}" in err
    assert "evaluate that with --split test" in err
    train = ["train", "tiny_test_net", "--data-dir", str(data), "--output", str(tmp_path / "r")]
    assert main([*train, "--no-progress", "--cache-dir", str(tmp_path / "cache")]) == 2
    assert f"has no train/ folder (it has: {split_dir}/)" in capsys.readouterr().err


def test_eval_refuses_a_classifier_for_other_classes(
    weights: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """A 1000-vs-100 case in small: 10-class weights on 3-class data score a random head."""
    data = write_image_folder(tmp_path / "data", 32, per_class=4, splits=("val",), classes=CLASSES)
    assert main(_eval(weights["ten"], data, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "classifier for 10 classes (fc.weight, fc.bias) and tiny_test_net was built for 3" in err
    assert "--allow-new-head" in err

    assert main(_eval(weights["ten"], data, tmp_path, "--allow-new-head")) == 0
    out = capsys.readouterr().out
    assert "NEW, UNTRAINED CLASSIFIER (fc.weight, fc.bias)" in out and "(12 images" in out
    assert main(_eval(weights["ten"], data, tmp_path, "--allow-new-head", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["new_head"] == ["fc.weight", "fc.bias"]


@pytest.mark.parametrize(
    ("trained", "message"),
    [
        (["cat", "cow", "dog"], "only in the weights: cow; only in the data: emu"),
        (
            ["dog", "cat", "emu"],
            "another order: class 0 is 'dog' in the weights, 'cat' in the data",
        ),
        ([f"c{i}" for i in range(10)], "classifier for 10 classes"),  # counts first
    ],
)
def test_eval_checks_the_class_names_of_moderncnn_weights(
    trained: list[str], message: str, tmp_path: Path, capsys
) -> None:
    data = write_image_folder(tmp_path / "data", 32, per_class=2, splits=("test",), classes=CLASSES)
    path = tmp_path / "w.safetensors"
    save_weights(_always(len(trained), 1), path, classes=trained)
    assert main(_eval(path, data, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    save_weights(_always(3, 1), path, classes=list(CLASSES))
    assert main([*_eval(path, data, tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["top1_err"] == pytest.approx(200 / 3)
