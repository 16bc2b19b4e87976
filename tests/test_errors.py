"""Bad input gets a clear error that says what was wrong and what would work."""

from __future__ import annotations

import pytest
import torch
import torchvision

from moderncnn import create_model
from moderncnn.cli import main
from moderncnn.errors import CheckpointError, InputShapeError, ModernCNNError, UnknownModelError
from moderncnn.models.weights import save_weights


def test_unknown_model_lists_the_closest_names() -> None:
    with pytest.raises(UnknownModelError, match="unknown model 'resnet5'; did you mean:.*resnet50"):
        create_model("resnet5")
    with pytest.raises(UnknownModelError, match="densenet121"):
        create_model("densenet_121")


def test_wrong_channel_count() -> None:
    model = create_model("resnet20")
    with pytest.raises(
        InputShapeError, match=r"resnet20 expects 3 input channels, got 1.*in_chans=1"
    ):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(InputShapeError, match=r"4-D batch"):
        model(torch.randn(3, 32, 32))


def test_input_smaller_than_the_network_accepts() -> None:
    model = create_model("vgg16_cifar")
    with pytest.raises(
        InputShapeError, match="vgg16_cifar needs inputs of at least 32x32 pixels, got 16x16"
    ):
        model(torch.randn(1, 3, 16, 16))
    with pytest.raises(InputShapeError, match="at least 63x63"):
        create_model("alexnet")(torch.randn(1, 3, 62, 62))


def test_bad_options() -> None:
    with pytest.raises(ModernCNNError, match=r"resnet20 has no option width; options: shortcut="):
        create_model("resnet20", width=2)
    with pytest.raises(ModernCNNError, match=r"shortcut must be one of A, B, C, got 'D'"):
        create_model("resnet18", shortcut="D")
    with pytest.raises(
        ModernCNNError, match=r"unknown activation 'gelu'; choose one of relu, tanh"
    ):
        create_model("alexnet", activation="gelu")
    with pytest.raises(ModernCNNError, match=r"num_classes must be 0 \(no classifier\) or more"):
        create_model("alexnet", num_classes=-1)
    with pytest.raises(ModernCNNError, match="in_chans positive"):
        create_model("alexnet", in_chans=0)


def test_checkpoint_for_another_architecture(tmp_path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        create_model("densenet121", weights=path)
    msg = str(err.value)
    assert "does not fit densenet121" in msg
    assert "missing keys [features.conv0.weight" in msg and "unexpected keys [conv1.weight" in msg


def test_checkpoint_with_other_shapes_and_bad_files(tmp_path) -> None:
    path = tmp_path / "r20.safetensors"
    save_weights(create_model("resnet20", in_chans=1), path)
    with pytest.raises(CheckpointError, match=r"saved with other options"):
        create_model("resnet20", weights=path)
    with pytest.raises(CheckpointError, match="does not exist"):
        create_model("resnet20", weights=tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read weights"):
        create_model("resnet20", weights=junk)
    torch.save([1, 2, 3], junk)
    with pytest.raises(CheckpointError, match="holds no state_dict"):
        create_model("resnet20", weights=junk)


def test_moderncnn_checkpoint_round_trip(tmp_path) -> None:
    model = create_model("densenet40_k12", num_classes=100).eval()
    path = tmp_path / "d.safetensors"
    save_weights(model, path, epoch=3)
    assert [p.name for p in tmp_path.iterdir()] == ["d.safetensors"]  # no temporary left
    loaded = create_model("densenet40_k12", num_classes=100, weights=path).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["models", "--nope"], "unrecognized arguments"),
        (["nope"], "invalid choice"),
    ],
)
def test_cli_usage_errors_exit_2(argv, expected, capsys) -> None:
    assert main(argv) == 2
    assert expected in capsys.readouterr().err
