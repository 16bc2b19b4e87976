"""Published weights through torchvision's enums, offline: a saved state_dict is put where
torch.hub's cache would hold the download, in a temporary TORCH_HOME. Also the data config,
image reading and ``moderncnn predict``."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision.models import GoogLeNet_Weights, ResNet18_Weights, ResNet50_Weights

from conftest import SHARED_DATA, write_image_folder
from moderncnn import create_model
from moderncnn.cli import main
from moderncnn.data import eval_transform, resolve_data_config
from moderncnn.data.images import image_files, read_image
from moderncnn.errors import CheckpointError
from moderncnn.models.pretrained import cached_path
from moderncnn.models.weights import save_weights
from moderncnn.predict import predict


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _cache(weights, torch_home: Path, **kwargs) -> torch.nn.Module:
    """Save a seeded torchvision model's state_dict under the file name of ``weights``."""
    ref = torchvision.models.get_model(weights.__class__.__name__.split("_")[0].lower(),
                                       weights=None, **kwargs)  # fmt: skip
    path = cached_path(weights)
    assert str(path).startswith(str(torch_home / "hub" / "checkpoints"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ref.state_dict(), path)
    return ref


def test_published_weights_load_as_torchvision_loads_them(torch_home: Path) -> None:
    _cache(ResNet18_Weights.IMAGENET1K_V1, torch_home)
    ours = create_model("resnet18", weights="IMAGENET1K_V1").eval()
    ref = torchvision.models.resnet18(weights=ResNet18_Weights.IMAGENET1K_V1).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)
    cfg = ours.pretrained_cfg
    assert cfg.weights == "ResNet18_Weights.IMAGENET1K_V1" and cfg.url.endswith(".pth")
    assert len(cfg.classes) == 1000 and cfg.classes[0] == "tench"
    assert cfg.metrics["acc@1"] == 69.758
    # The same file by every name torchvision's API accepts.
    for name in ("DEFAULT", "ResNet18_Weights.IMAGENET1K_V1", ResNet18_Weights.IMAGENET1K_V1):
        same = create_model("resnet18", weights=name).eval()
        torch.testing.assert_close(same.fc.weight, ours.fc.weight, rtol=0, atol=0)
    assert create_model("resnet18", pretrained=True).pretrained_cfg.weights.endswith("V1")


def test_googlenet_published_weights_set_transform_input(torch_home: Path) -> None:
    """torchvision's GoogLeNet files expect (x - 0.5) / 0.5 inputs and hold aux heads."""
    _cache(GoogLeNet_Weights.IMAGENET1K_V1, torch_home, aux_logits=True, init_weights=True)
    ours = create_model("googlenet", pretrained=True).eval()
    assert ours.transform_input and ours.aux1 is None
    ref = torchvision.models.googlenet(weights=GoogLeNet_Weights.IMAGENET1K_V1).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


def test_default_and_fine_tuning_with_published_weights(torch_home: Path) -> None:
    _cache(ResNet50_Weights.IMAGENET1K_V2, torch_home)
    model = create_model("resnet50", weights="DEFAULT", num_classes=5)  # a new 5-class head
    assert model.fc.out_features == 5
    assert resolve_data_config(model).resize == 232  # V2's own preprocessing


def test_weights_errors(torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CheckpointError, match="alexnet_paper has no published weights.*resnet50"):
        create_model("alexnet_paper", pretrained=True)
    listed = r"no weights 'IMAGENET1K_V3'.*IMAGENET1K_V1, IMAGENET1K_V2 \(DEFAULT is IMAGENET1K_V2"
    with pytest.raises(CheckpointError, match=listed):
        create_model("resnet50", weights="IMAGENET1K_V3")
    with pytest.raises(CheckpointError, match="not weights of resnet18"):
        create_model("resnet18", weights="ResNet50_Weights.IMAGENET1K_V1")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    expected = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(CheckpointError) as err:
        create_model("resnet18", pretrained=True)
    msg = str(err.value)
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
    assert "name resolution" in msg and f"put it at {expected}" in msg


def test_models_pretrained_lists_published_accuracy(capsys, torch_home: Path) -> None:
    assert main(["models", "resnet50", "--pretrained", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["weights"], r["default"], r["acc1"]) for r in rows] == [
        ("IMAGENET1K_V1", False, 76.13), ("IMAGENET1K_V2", True, 80.858)]  # fmt: skip
    assert main(["models", "--pretrained"]) == 0
    out = capsys.readouterr().out
    assert "densenet121" in out and "alexnet_paper" not in out and "23 published weights" in out


def test_data_config() -> None:
    v2 = resolve_data_config("ResNet50_Weights.IMAGENET1K_V2")
    assert (v2.resize, v2.crop, v2.interpolation) == (232, 224, "bilinear")
    assert resolve_data_config("alexnet_paper").crop == 227
    small = resolve_data_config("resnet20")
    assert (small.resize, small.crop) == (32, 32)
    img = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8)
    assert eval_transform("resnet50")(img).shape == (3, 224, 224)
    assert eval_transform(create_model("resnet20"), ten_crop=True)(img).shape == (10, 3, 32, 32)


def test_run_weights_carry_their_classes_and_normalisation(tmp_path: Path) -> None:
    model = create_model("resnet20", num_classes=3)
    path = tmp_path / "best.safetensors"
    save_weights(model, path, classes=["cat", "dog", "eel"], mean=[0.5] * 3, std=[0.25] * 3)
    loaded = create_model("resnet20", weights=path)  # 3 classes, from the file
    assert loaded.num_classes == 3 and loaded.pretrained_cfg.classes == ["cat", "dog", "eel"]
    assert resolve_data_config(path).mean == (0.5, 0.5, 0.5)
    pth = tmp_path / "r20.pth"
    torch.save(model.state_dict(), pth)
    assert create_model("resnet20", weights=pth).num_classes == 3  # from the classifier's shape


def _hostile_images(folder: Path) -> dict[str, Path]:
    """Images as users have them, and one file that is not an image."""
    folder.mkdir()
    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    files = {
        "grey": Image.fromarray(rgb[..., 0], "L"),
        "cmyk": Image.fromarray(rgb, "RGB").convert("CMYK"),
        "rgba": Image.fromarray(np.dstack([rgb, rgb[..., :1]]), "RGBA"),
        "palette": Image.fromarray(rgb, "RGB").convert("P"),
        "grey16": Image.fromarray(
            np.linspace(0, 65535, 40 * 60).reshape(40, 60).astype(np.uint16)
        ),  # fmt: skip
        "tiny": Image.new("RGB", (1, 1), (200, 10, 10)),
        "large": Image.new("RGB", (3000, 2000), (10, 200, 10)),
    }
    suffix = {"cmyk": ".jpg", "large": ".jpg", "palette": ".gif"}
    paths = {}
    for name, img in files.items():
        paths[name] = folder / f"{name}{suffix.get(name, '.png')}"
        img.save(paths[name])
    rotated = Image.new("RGB", (40, 20))
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    paths["exif"] = folder / "exif.jpg"
    rotated.save(paths["exif"], exif=exif)
    paths["broken"] = folder / "broken.jpg"
    paths["broken"].write_bytes(b"not an image at all")
    return paths


def test_read_image_handles_what_users_have(tmp_path: Path) -> None:
    paths = _hostile_images(tmp_path / "imgs")
    for name in ("grey", "cmyk", "rgba", "palette", "grey16", "tiny", "large", "exif"):
        img = read_image(paths[name])
        assert img.dtype == torch.uint8 and img.shape[0] == 3, name
    grey16 = read_image(paths["grey16"]).float().mean().item()
    assert abs(grey16 - 127.5) < 1  # scaled by its 16-bit range, not clipped to white
    assert read_image(paths["exif"]).shape[1:] == (40, 20)  # upright
    assert read_image(paths["large"], shorter_side=256).shape[1:] == (500, 750)  # 1/4 scale
    assert read_image(paths["rgba"]).shape[1:] == (40, 60)


def test_predict_reports_unreadable_files_and_classifies_the_rest(tmp_path: Path, capsys) -> None:
    paths = _hostile_images(tmp_path / "imgs")
    weights = tmp_path / "r20.safetensors"
    save_weights(create_model("resnet20", num_classes=3), weights, classes=["a", "b", "c"])
    argv = ["predict", "resnet20", "--weights", str(weights), str(tmp_path / "imgs"), "--json"]
    assert main([*argv, "--topk", "2", "--batch", "4"]) == 1  # one file failed
    rows = {Path(r["path"]).stem: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(paths)
    assert "cannot identify image file" in rows["broken"]["error"]
    for name, r in rows.items():
        if name != "broken":
            assert r["error"] is None and len(r["classes"]) == 2
            assert set(r["classes"]) <= {"a", "b", "c"} and r["probabilities"][0] <= 1
    assert main([*argv[:4], str(paths["tiny"])]) == 0
    assert "1 of 1 images classified by resnet20" in capsys.readouterr().out


def test_predict_on_the_imagenet_sample(tmp_path: Path) -> None:
    """End to end on the 100 shared photos, with seeded stand-in weights (the predictions only
    mean something with real weights)."""
    sample = SHARED_DATA / "imagenet-sample"
    if not sample.is_dir():
        pytest.skip(f"the ImageNet sample is not available: {sample} is absent")
    weights = tmp_path / "r18.safetensors"
    save_weights(create_model("resnet18"), weights)
    files = image_files([sample])
    assert len(files) == 100
    results = list(predict(create_model("resnet18", weights=weights), files, topk=3))
    assert [r.error for r in results] == [None] * 100
    assert all(len(r.classes) == 3 and r.classes[0].startswith("class ") for r in results)


def test_eval_with_published_weights(torch_home: Path, tmp_path: Path, capsys) -> None:
    """eval resolves published weight names too, and refuses their 1000-class head on a
    folder of 2 classes unless asked (then it says the head is new)."""
    _cache(ResNet18_Weights.IMAGENET1K_V1, torch_home)
    data = write_image_folder(tmp_path / "imgs", 64, per_class=2, splits=("val",))
    argv = ["eval", "resnet18", "--weights", "IMAGENET1K_V1", "--data-dir", str(data)]
    assert main([*argv, "--no-progress"]) == 2
    assert "1000 classes" in capsys.readouterr().err
    assert main([*argv, "--no-progress", "--allow-new-head", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 4 and out["new_head"]
