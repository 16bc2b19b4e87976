"""``moderncnn filters`` and moderncnn.inspect.filters: AlexNet's Figure 3, the first conv
layer's kernels as images, from a run directory, a weights file, or a model in memory."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from matplotlib.image import imread

from moderncnn import create_model
from moderncnn.cli import main
from moderncnn.errors import CheckpointError, ModernCNNError
from moderncnn.inspect.filters import (
    MIN_PIXELS,
    PADDING,
    filter_grid,
    image_conv,
    load_for_filters,
)
from moderncnn.models.weights import save_weights
from moderncnn.train.config import TrainConfig


def _grid_side(n: int, kernel: int) -> int:
    """Pixels a side of a near-square grid of ``n`` kernels scaled up to MIN_PIXELS."""
    pixels = kernel * math.ceil(MIN_PIXELS / kernel)
    return math.ceil(math.sqrt(n)) * (pixels + PADDING) + PADDING


def test_alexnet_cifar_grid_holds_its_64_kernels_of_5x5x3() -> None:
    model = create_model("alexnet_cifar")
    name, conv = image_conv(model)
    assert (name, conv.weight.shape) == ("features.conv1", (64, 3, 5, 5))
    grid = filter_grid(model)
    side = _grid_side(64, 5)  # 8 x 8 kernels of 35 pixels (5 x 7)
    assert grid.shape == (3, side, side) == (3, 298, 298)
    assert grid.min() >= 0 and grid.max() <= 1


def test_each_kernel_is_min_max_normalised_on_its_own() -> None:
    model = create_model("alexnet_cifar")
    with torch.no_grad():
        model.features.conv1.weight[0] *= 100  # one large kernel must not dim the others
    grid = filter_grid(model)
    pixels = 5 * math.ceil(MIN_PIXELS / 5)
    for row, col in ((0, 0), (0, 1), (7, 7)):
        top, left = PADDING + row * (pixels + PADDING), PADDING + col * (pixels + PADDING)
        tile = grid[:, top : top + pixels, left : left + pixels]
        assert (tile.min().item(), tile.max().item()) == (0.0, 1.0)
    # The first kernel's pixel (0, 0), scaled up by 7 with nearest neighbour.
    first = model.features.conv1.weight[0]
    expected = (first - first.min()) / (first.max() - first.min())
    torch.testing.assert_close(
        grid[:, PADDING : PADDING + 7, PADDING], expected[:, :1, 0].expand(3, 7)
    )


def test_grey_kernels_and_other_layers() -> None:
    grey = create_model("resnet20", in_chans=1)
    assert filter_grid(grey).shape == (3, _grid_side(16, 3), _grid_side(16, 3))
    with pytest.raises(ModernCNNError, match=r"layer1.0.conv1 reads 16 channels.*1 \(grey\)"):
        filter_grid(grey, "layer1.0.conv1")
    with pytest.raises(
        ModernCNNError, match="not a conv: 'layer1'; convs over 1 or 3 channels: conv1$"
    ):
        filter_grid(grey, "layer1")
    with pytest.raises(ModernCNNError, match="no layer 'conv9'"):
        filter_grid(grey, "conv9")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run-like folder: config.toml and best.safetensors, as training leaves them."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(
        TrainConfig(model="alexnet_cifar", data_dir="data", epochs=1).to_toml()
    )
    save_weights(create_model("alexnet_cifar", num_classes=3), run / "best.safetensors")
    return run


def test_cli_writes_a_png_from_a_run_directory(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figs" / "filters.png"
    assert main(["filters", str(run_dir), "-o", str(out)]) == 0
    assert "alexnet_cifar features.conv1: 64 kernels of 5x5x3" in capsys.readouterr().out
    image = imread(out)
    assert image.shape[:2] == (298, 298)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_writes_a_png_from_a_weights_file(tmp_path: Path) -> None:
    """A plain state_dict (.pth) names no model: --model does."""
    model = create_model("resnet20")
    path = tmp_path / "resnet20.pth"
    torch.save(model.state_dict(), path)
    out = tmp_path / "f.png"
    assert main(["filters", str(path), "--model", "resnet20", "-o", str(out)]) == 0
    image = torch.from_numpy(imread(out))
    expected = filter_grid(model).permute(1, 2, 0)
    torch.testing.assert_close(image[..., :3], expected, rtol=0, atol=1 / 255)
    assert main(["filters", str(path), "-o", str(out)]) == 2  # which model?


def test_errors(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "f.png")
    assert main(["filters", str(tmp_path / "missing"), "-o", out]) == 2
    err = capsys.readouterr().err
    assert "is not a run directory, a weights file (.safetensors, .pth) or published" in err
    (run_dir / "best.safetensors").unlink()
    assert main(["filters", str(run_dir), "-o", out]) == 2
    assert "has no best.safetensors yet" in capsys.readouterr().err
    (run_dir / "config.toml").unlink()
    assert main(["filters", str(run_dir), "-o", out]) == 2
    assert "is not a run directory: it has no config.toml" in capsys.readouterr().err
    assert main(["filters", "DEFAULT", "-o", out]) == 2
    assert "published weights (with --model)" in capsys.readouterr().err
    path = tmp_path / "w.safetensors"
    save_weights(create_model("alexnet_cifar"), path)
    assert main(["filters", str(path), "--layer", "features.conv2", "-o", out]) == 2
    assert "features.conv2 reads 64 channels" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="does not fit resnet20"):
        load_for_filters(path, "resnet20")
