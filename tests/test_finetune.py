"""Transfer learning from the command line: --weights with a new classifier, freezing, the
backbone's learning rate, and the finetune recipe's preprocessing."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import write_fake_cifar
from moderncnn.cli import main
from moderncnn.errors import ConfigError
from moderncnn.models import create_model
from moderncnn.models.weights import read_metadata
from moderncnn.train import resolve_config
from moderncnn.train.finetune import freeze, param_groups

FAST = ["--no-progress", "--no-tensorboard", "--batch-size", "50"]


@pytest.fixture(scope="module")
def pretrained(fake_cifar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """resnet20 trained for an epoch on the fake CIFAR-10: its best.safetensors."""
    out = tmp_path_factory.mktemp("pretrain") / "run"
    argv = ["train", "resnet20", "--recipe", "fast", "--epochs", "1", "--val-size", "100"]
    assert main([*argv, "--data-dir", str(fake_cifar), "--output", str(out), *FAST]) == 0
    return out / "best.safetensors"


@pytest.fixture(scope="module")
def cifar100(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_cifar(tmp_path_factory.mktemp("c100"), 300, 100, kind="cifar100")


def test_weights_choose_the_finetune_recipe_and_preprocessing(pretrained: Path) -> None:
    cfg = resolve_config("resnet20", data_dir="x", weights=str(pretrained))
    assert (cfg.recipe, cfg.preprocess, cfg.backbone_lr_scale) == ("finetune", "weights", 0.1)
    assert resolve_config("resnet20", data_dir="x").recipe == "resnet_cifar"
    with pytest.raises(ConfigError, match="need --weights"):
        resolve_config("resnet20", data_dir="x", freeze=True)
    with pytest.raises(ConfigError, match="preprocess = 'weights' needs --weights"):
        resolve_config("resnet20", data_dir="x", preprocess="weights")


def test_finetune_freezes_the_backbone(
    pretrained: Path, cifar100: Path, tmp_path: Path, caplog
) -> None:
    """--freeze: a new 100-class head trains on the 10-class run's frozen backbone; the
    frozen BN layers keep their running statistics."""
    out = tmp_path / "ft"
    argv = ["train", "resnet20", "--weights", str(pretrained), "--freeze", "--epochs", "1"]
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        assert main([*argv, "--data-dir", str(cifar100), "--output", str(out), *FAST]) == 0
    assert "checkpoint has 10 classes, model has 100" in caplog.text  # the head is new
    before, after = load_file(pretrained), load_file(out / "best.safetensors")
    assert after["fc.weight"].shape == (100, 64)
    for key, value in before.items():
        if not key.startswith("fc."):
            torch.testing.assert_close(after[key], value, rtol=0, atol=0, msg=key)
    saved = (out / "config.toml").read_text()
    assert 'preprocess = "weights"' in saved and "freeze = true" in saved
    # normalised as the weights were, not with the statistics of the new data
    assert read_metadata(out / "best.safetensors")["mean"] == read_metadata(pretrained)["mean"]


def test_freeze_until_and_backbone_learning_rate(pretrained: Path) -> None:
    model = create_model("resnet20", num_classes=5, weights=pretrained)
    norms = freeze(model, until="layer2")
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"layer3", "fc"}
    assert len(norms) == 1 + 2 * 3 * 2  # the stem's BN and layer1/layer2's
    groups = param_groups(model, 0.1)
    assert [g["lr_scale"] for g in groups] == [1.0, 0.1]
    assert [len(g["params"]) for g in groups] == [2, 3 * 6]  # fc; layer3's 3 blocks x 6
    assert len(param_groups(model)) == 1
    with pytest.raises(ConfigError, match="no module 'layer9'.*conv1, bn1, relu, layer1"):
        freeze(create_model("resnet20"), until="layer9")


def test_finetune_at_a_lower_backbone_rate(pretrained: Path, tmp_path: Path) -> None:
    """Without --freeze the whole network trains (at a tenth of lr below the new head)."""
    out = tmp_path / "ft"
    data = write_fake_cifar(tmp_path / "c10", 200, 50)
    argv = ["train", "resnet20", "--weights", str(pretrained), "--epochs", "1"]
    assert main([*argv, "--data-dir", str(data), "--output", str(out), *FAST]) == 0
    before, after = load_file(pretrained), load_file(out / "best.safetensors")
    assert not torch.equal(after["layer1.0.conv1.weight"], before["layer1.0.conv1.weight"])


def test_weights_for_other_classes_of_the_same_number_get_a_new_head(
    pretrained: Path, tmp_path: Path, caplog
) -> None:
    """A run's weights for 10 other classes: the classifier starts afresh (and says so),
    though its shape would fit."""
    data = write_fake_cifar(tmp_path / "c10", 200, 50)
    names = data / "cifar-10-batches-py" / "batches.meta"
    meta = pickle.loads(names.read_bytes())
    meta[b"label_names"] = [f"other{i}".encode() for i in range(10)]
    names.write_bytes(pickle.dumps(meta))
    out = tmp_path / "ft"
    argv = ["train", "resnet20", "--weights", str(pretrained), "--freeze", "--epochs", "1"]
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        assert main([*argv, "--data-dir", str(data), "--output", str(out), *FAST]) == 0
    assert "new classifier for the data's classes (other0, other1" in caplog.text
