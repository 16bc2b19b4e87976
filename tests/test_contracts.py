"""The contracts timm and torchvision keep for their models, kept here for every registered
model, and the rough edges a new user hit (issue 20). Each test names the peer's test it
mirrors: timm's ``tests/test_models.py``, torchvision's ``test/test_models.py``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn
from torch.optim.swa_utils import update_bn
from torchvision.models import AlexNet_Weights, ResNet18_Weights, ResNet50_Weights

from conftest import SHARED_DATA, write_image_folder
from moderncnn import create_model, list_models, model_info
from moderncnn.cli import main
from moderncnn.data import eval_transform, resolve_data_config
from moderncnn.data.imagenet import WNIDS, imagenet_categories
from moderncnn.errors import CheckpointError, ModernCNNError
from moderncnn.models.pretrained import CIFAR10_MEAN, IMAGENET_MEAN, DataConfig, cached_path
from moderncnn.models.weights import adapt_input_conv, load_weights

ZOO = [n for n in list_models() if model_info(n).family != "test"]
#: Fresh from initialisation, their eval-mode logits overflow (see
#: test_deepest_resnets_overflow_at_init_and_how_not_to): the papers' init, BN statistics
#: not estimated.
OVERFLOW_AT_INIT = {"resnet1202", "preact_resnet1001"}


def _size(name: str) -> int:
    info = model_info(name)
    return max(info.min_input_size, 32 if info.dataset == "cifar10" else 64)


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _cache(weights, **kwargs) -> nn.Module:
    """A seeded torchvision model's state_dict where torch.hub keeps the file of ``weights``
    (no download: tests/test_pretrained.py does the same)."""
    arch = type(weights).__name__.split("_")[0].lower()
    ref = torchvision.models.get_model(arch, weights=None, **kwargs)
    path = cached_path(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ref.state_dict(), path)
    return ref


@pytest.mark.parametrize("name", ZOO)
def test_default_cfg_features_head_and_finite_eval(name: str) -> None:
    """timm's test_model_default_cfgs, test_model_default_cfgs_non_std,
    test_model_forward_intermediates and test_model_forward, on every model built without
    weights: a ``pretrained_cfg`` whose classifier and first conv are in the state_dict;
    ``num_features`` is the channels of ``forward_features``, ``head_hidden_size`` the width
    of ``forward_head(pre_logits=True)`` and of the output once the classifier is removed
    (``reset_classifier(0)`` or ``create_model(num_classes=0)``); ``forward_intermediates``
    takes timm's ``output_fmt`` and ``norm``; eval-mode logits are finite, but for the two
    deepest ResNets (test_deepest_resnets_overflow_at_init_and_how_not_to)."""
    model = create_model(name).eval()
    info = model_info(name)
    cfg = model.pretrained_cfg
    state = model.state_dict()
    assert cfg.weights == "" and cfg.num_classes == info.num_classes == model.num_classes
    assert f"{cfg.classifier}.weight" in state and f"{cfg['first_conv']}.weight" in state
    assert cfg["input_size"] == info.input_size
    stats = CIFAR10_MEAN if info.dataset == "cifar10" else IMAGENET_MEAN
    assert cfg["mean"] == stats and 0 < cfg["crop_pct"] <= 1
    assert model.get_submodule(cfg.first_conv).in_channels == model.in_chans

    x = torch.randn(1, 3, _size(name), _size(name))
    with torch.no_grad():
        final, maps = model.forward_intermediates(x, output_fmt="NCHW", norm=True)
        features = model.forward_features(x)
        logits = model.forward_head(features)
        pre = model.forward_head(features, pre_logits=True)
        assert torch.isfinite(logits).all().item() == (name not in OVERFLOW_AT_INIT)
        torch.testing.assert_close(final, features, rtol=0, atol=0, equal_nan=True)
        assert features.shape[1] == model.num_features
        assert pre.shape == (1, model.head_hidden_size)
        assert [m.shape[1] for m in maps] == [s["num_chs"] for s in model.feature_info]
        nhwc = model.forward_intermediates(
            x, [0, 1], stop_early=True, output_fmt="NHWC", intermediates_only=True
        )
        assert [m.shape for m in nhwc] == [m.permute(0, 2, 3, 1).shape for m in maps[:2]]
        model.reset_classifier(0)
        assert model.num_classes == 0
        torch.testing.assert_close(model.forward_head(features), pre, equal_nan=True)
    with torch.device("meta"):
        headless = create_model(name, num_classes=0).eval()
        out = headless(torch.empty(1, 3, _size(name), _size(name)))
    assert headless.num_classes == 0 and isinstance(headless.get_classifier(), nn.Identity)
    assert out.shape == (1, model.head_hidden_size)
    with pytest.raises(ModernCNNError, match="output_fmt must be 'NCHW' or 'NHWC'"):
        model.forward_intermediates(x, output_fmt="NLC")


def test_num_features_is_the_feature_maps_width() -> None:
    """timm's meaning (test_model_default_cfgs): a linear layer built on pooled
    forward_features with num_features inputs fits, also for VGG and AlexNet, whose
    classifier reads fc7's 4096 features (head_hidden_size)."""
    expected = {"vgg16": (512, 4096), "alexnet": (256, 4096), "alexnet_cifar": (256, 1024),
                "alexnet_fig1": (64, 1024), "resnet50": (2048, 2048)}  # fmt: skip
    for name, widths in expected.items():
        model = create_model(name).eval()
        assert (model.num_features, model.head_hidden_size) == widths
        x = torch.randn(2, 3, _size(name), _size(name))
        pooled = model.forward_features(x).mean((2, 3))
        assert nn.Linear(model.num_features, 3)(pooled).shape == (2, 3)


def test_headless_models_with_weights(torch_home: Path, tmp_path: Path) -> None:
    """timm's test_model_load_pretrained: ``num_classes=0`` with weights loads every tensor
    but the classifier's and returns pre-logits features, as the full model computes them."""
    _cache(ResNet18_Weights.IMAGENET1K_V1)
    full = create_model("resnet18", pretrained=True).eval()
    headless = create_model("resnet18", pretrained=True, num_classes=0).eval()
    assert headless.pretrained_cfg.num_classes == 1000 and len(headless.pretrained_cfg.classes)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(headless(x), full.forward_head(full.forward_features(x), True))
    alexnet = create_model("alexnet", num_classes=0).eval()  # fc8 goes, fc6/fc7 stay
    path = tmp_path / "alexnet.pth"
    torch.save(alexnet.state_dict(), path)
    with pytest.raises(ModernCNNError, match="num_classes must be 0 .* or more"):
        create_model("resnet18", num_classes=-1)


def test_weights_for_other_input_channels_are_adapted(torch_home: Path, caplog) -> None:
    """timm's test_model_load_pretrained (``in_chans=1`` with ``pretrained=True``) and its
    adapt_input_conv: 3-channel weights load into a 1-channel network with the first conv
    summed over RGB, so a grey image gives exactly what (g, g, g) gave; into a 6-channel one
    repeated and scaled by 3/6, so a constant image gives what it gave."""
    _cache(ResNet18_Weights.IMAGENET1K_V1)
    rgb = create_model("resnet18", pretrained=True).eval()
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        grey = create_model("resnet18", pretrained=True, in_chans=1, num_classes=5).eval()
    assert "conv1.weight adapted from 3 to 1 input channels" in caplog.text
    six = create_model("resnet18", pretrained=True, in_chans=6, num_classes=0).eval()
    four = create_model("resnet18", pretrained=True, in_chans=4, num_classes=0).eval()
    assert four(torch.randn(1, 4, 64, 64)).shape == (1, 512)
    g = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            grey.forward_features(g), rgb.forward_features(g.expand(-1, 3, -1, -1))
        )
        c = torch.full((1, 1, 64, 64), 0.7)
        torch.testing.assert_close(
            six.forward_features(c.expand(-1, 6, -1, -1)),
            rgb.forward_features(c.expand(-1, 3, -1, -1)),
        )
    assert grey.pretrained_cfg.data.input_size == (1, 224, 224)
    assert grey.pretrained_cfg.data.mean == (pytest.approx(sum(IMAGENET_MEAN) / 3),)
    # Every route that loads weights: load_weights too, and GoogLeNet's RGB rescaling is left
    # out for one channel (its conv is adapted instead).
    path = cached_path(ResNet18_Weights.IMAGENET1K_V1)
    assert load_weights(create_model("resnet18", in_chans=1), path) == []
    with pytest.raises(CheckpointError, match="over 2 input channels to 4"):
        adapt_input_conv(4, torch.zeros(8, 2, 3, 3))
    torch.testing.assert_close(
        adapt_input_conv(1, torch.ones(8, 3, 3, 3)), torch.full((8, 1, 3, 3), 3.0)
    )


def test_googlenet_weights_for_one_channel(torch_home: Path) -> None:
    """torchvision's GoogLeNet files expect RGB rescaled by transform_input; with in_chans=1
    that rescaling is not set (it needs three channels) and the first conv is adapted."""
    _cache(torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1, aux_logits=True,
           init_weights=True)  # fmt: skip
    model = create_model("googlenet", pretrained=True, in_chans=1).eval()
    assert not model.transform_input and model.conv1.conv.in_channels == 1
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 1000)


@pytest.mark.parametrize("name", sorted(OVERFLOW_AT_INIT))
def test_deepest_resnets_overflow_at_init_and_how_not_to(name: str) -> None:
    """timm's test_model_forward (a fresh model in eval mode gives no NaN) holds for every model
    but these two. Fresh, BN's running statistics are mean 0 and variance 1, so in eval mode
    BN is the identity and each residual block about doubles the signal's second moment
    (branch and shortcut add): 600 and 333 blocks overflow float32. The papers' code and
    torchvision start every BN at weight 1, as moderncnn does; timm zero-initialises each
    block's last norm. Both remedies work: zero_init_residual=True (timm's), and BN statistics
    estimated from a batch (torch.optim.swa_utils.update_bn, as any training run's first steps
    estimate them)."""
    x = torch.randn(1, 3, 16, 16)
    zero_init = create_model(name, zero_init_residual=True).eval()
    model = create_model(name).eval()
    with torch.no_grad():
        assert not torch.isfinite(model(x)).all()
        assert zero_init(x).abs().max() < 10
        update_bn([torch.randn(4, 3, 16, 16)], model)  # the running statistics of one batch
        assert torch.isfinite(model.eval()(x)).all()


def test_torchvision_resnets_keep_torchvision_init() -> None:
    """torchvision's test_classification_model compares a fresh model's outputs with stored
    ones: resnet18..152 keep torchvision's init (zero_init_residual=False, BN weight 1), so a
    seeded build is torchvision's, parameter for parameter."""
    for name in ("resnet18", "resnet50"):
        torch.manual_seed(1)
        ours = create_model(name)
        torch.manual_seed(1)
        ref = torchvision.models.get_model(name)
        for (k, a), (k2, b) in zip(ours.state_dict().items(), ref.state_dict().items(),
                                   strict=True):  # fmt: skip
            assert k == k2
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_eval_transform_takes_pil_images_as_torchvision() -> None:
    """torchvision's weights.transforms() (ImageClassification) takes PIL images and uint8
    tensors; eval_transform gives exactly its tensor for both."""
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    tensor = torch.from_numpy(np.array(img)).permute(2, 0, 1)
    for weights in (ResNet50_Weights.IMAGENET1K_V2, AlexNet_Weights.IMAGENET1K_V1):
        ours, theirs = eval_transform(weights), weights.transforms()
        for x in (img, tensor):
            out = ours(x)
            assert type(out) is torch.Tensor and out.shape == (3, 224, 224)
            torch.testing.assert_close(out, theirs(x), rtol=0, atol=0)
    assert eval_transform(create_model("resnet20"), ten_crop=True)(img).shape == (10, 3, 32, 32)
    grey = eval_transform(create_model("resnet18", in_chans=1))(img)
    assert grey.shape == (1, 224, 224)
    assert resolve_data_config(create_model("resnet20")).mean == CIFAR10_MEAN


def _imagenet_subset(root: Path, named_by: str = "wnid") -> Path:
    """A ``val/`` folder of 100 ImageNet classes, one photo each: the shared sample photos
    (``<wnid>_<class_name>.JPEG``) laid out as ``val/<wnid>/x.JPEG`` (or by class name), or,
    without the shared data, random images under the same folder names."""
    sample = SHARED_DATA / "imagenet-sample"
    photos = sorted(sample.glob("*.JPEG")) if sample.is_dir() else []
    names = [p.stem for p in photos] or [f"{w}_x" for w in WNIDS[::10]]
    rng = np.random.default_rng(0)
    for i, stem in enumerate(names):
        wnid, _, class_name = stem.partition("_")
        folder = root / "val" / (wnid if named_by == "wnid" else class_name)
        folder.mkdir(parents=True)
        if photos:
            (folder / "x.JPEG").write_bytes(photos[i].read_bytes())
        else:
            Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(
                folder / "x.JPEG"
            )
    return root


def test_imagenet_wnids_are_torchvisions_classes() -> None:
    """The shared sample photos are named ``<wnid>_<class_name>``, every tenth class in WordNet
    id order: each id is at that class's index, whose torchvision category is that name."""
    assert len(WNIDS) == len(set(WNIDS)) == 1000 and list(WNIDS) == sorted(WNIDS)
    sample = SHARED_DATA / "imagenet-sample"
    if not sample.is_dir():
        pytest.skip(f"the ImageNet sample is not available: {sample} is absent")
    categories = imagenet_categories()
    stems = sorted(p.stem for p in sample.glob("*.JPEG"))
    assert len(stems) == 100
    for i, stem in enumerate(stems):
        wnid, _, class_name = stem.partition("_")
        assert WNIDS.index(wnid) == 10 * i
        assert categories[10 * i].replace(" ", "_") == class_name


def _rigged_resnet18(torch_home: Path, favourite: list[int]) -> None:
    """Stand-in published resnet18 weights whose classifier ignores the image: its biases rank
    the classes ``favourite`` first, then the rest."""
    ref = _cache(ResNet18_Weights.IMAGENET1K_V1)
    with torch.no_grad():
        ref.fc.weight.zero_()
        ref.fc.bias.zero_()
        for rank, i in enumerate(favourite):
            ref.fc.bias[i] = 10.0 - rank
    torch.save(ref.state_dict(), cached_path(ResNet18_Weights.IMAGENET1K_V1))


def test_eval_published_weights_on_a_subset_of_imagenet(
    torch_home: Path, tmp_path: Path, capsys
) -> None:
    """torchvision's published weights on a val/ folder of 100 ImageNet classes (README's
    ``eval resnet50 --weights resnet50-0676ba61.pth --data-dir imagenet``): the folders map
    onto the weights' 1000 categories by WordNet id, or by class name, and are scored over all
    1000 classes or over the 100 the data holds, as asked, and the output says which.

    The stand-in classifier always ranks goldfish (class 1, not in the folder) first and tench
    (class 0, the first folder) second: over all classes every image is wrong, over the subset
    only tench's is right, which a wrong mapping could not give."""
    _rigged_resnet18(torch_home, [1, 0])
    data = _imagenet_subset(tmp_path / "imagenet")
    argv = ["eval", "resnet18", "--data-dir", str(data), "--no-progress", "--json"]
    assert main([*argv, "--weights", "IMAGENET1K_V1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 100 and report["score"] == "all" and report["weights_classes"] == 1000
    assert report["top1_err"] == 100 and report["outside"] == 100
    assert "scored over all 1000 classes" in report["scored"] and "WordNet id" in report["scored"]
    # The file itself, under its published name, as the README has it; the subset's scores.
    pth = tmp_path / "resnet18-f37072fd.pth"
    pth.write_bytes(cached_path(ResNet18_Weights.IMAGENET1K_V1).read_bytes())
    assert main([*argv, "--weights", str(pth), "--score", "subset"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["top1_err"] == 99 and report["outside"] is None
    accuracy = report["per_class_accuracy"]
    assert accuracy.pop(WNIDS[0]) == 100 and set(accuracy.values()) == {0}
    assert "the data's 100 classes only" in report["scored"]
    # Class-name folders; and the text output says how the errors were scored.
    by_name = _imagenet_subset(tmp_path / "by_name", named_by="name")
    args = ["eval", "resnet18", "--weights", "DEFAULT", "--data-dir", str(by_name)]
    assert main([*args, "--no-progress", "--score", "subset"]) == 0
    out = capsys.readouterr().out
    assert "scored over the data's 100 classes only" in out and "class name" in out
    assert "top-1 error 99.00%" in out


def test_eval_refuses_folders_that_match_no_class(torch_home: Path, tmp_path: Path, capsys):
    """A folder of classes the weights do not have is refused, naming them, unless a new head
    is asked for (tests/test_pretrained.py::test_eval_with_published_weights)."""
    _cache(ResNet18_Weights.IMAGENET1K_V1)
    data = write_image_folder(tmp_path / "imgs", 64, per_class=1, splits=("val",),
                              classes=("cat", "tench"))  # fmt: skip
    argv = ["eval", "resnet18", "--weights", "DEFAULT", "--data-dir", str(data), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "1000 classes and the data has 2" in err and "match none of the weights'" in err
    assert "cat" in err and "--allow-new-head" in err


def test_exported_files_carry_preprocessing_and_classes(
    torch_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """torchvision's weights carry their categories and transforms (test_extended_models.py::
    test_schema_meta_validation: ``categories`` is mandatory); an exported file keeps them:
    ONNX metadata_props, a JSON file beside a .pt2. docs/deploy.md's "Using the files" block,
    run as written on a photo, reads them; the stand-in classifier always says tench."""
    _rigged_resnet18(torch_home, [0])
    monkeypatch.chdir(tmp_path)
    for fmt, out in (("onnx", "resnet18.onnx"), ("exported-program", "resnet18.pt2")):
        argv = ["export", "resnet18", "--weights", "DEFAULT", "--input", "3x64x64"]
        assert main([*argv, "--format", fmt, "-o", out]) == 0
    assert "preprocessing and classes in resnet18.json: resize 73, crop 64" in (
        capsys.readouterr().out
    )
    photo = SHARED_DATA / "imagenet-sample" / "n01440764_tench.JPEG"
    image = Path("n01440764_tench.JPEG")
    if photo.is_file():
        image.write_bytes(photo.read_bytes())
    else:
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(image)
    doc = (Path(__file__).parents[1] / "docs" / "deploy.md").read_text()
    block = doc.split("### Using the files")[1].split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(block, "docs/deploy.md", "exec"), namespace)
    assert capsys.readouterr().out == "onnx: tench\npt2: tench\n"
    meta = namespace["meta"]
    assert meta["input_size"] == [3, 64, 64] and len(meta["classes"]) == 1000
    assert meta["mean"] == list(IMAGENET_MEAN) and meta["weights"].endswith("IMAGENET1K_V1")
    # The doc's Pillow preprocessing is eval_transform's, but for resampling rounding.
    reference = eval_transform(DataConfig((3, 64, 64), 73, 64))(Image.open(image).convert("RGB"))
    prepared = torch.from_numpy(namespace["prepare"](image, meta))[0]
    assert (prepared - reference).abs().mean() < 0.1


def test_the_models_options_are_listed_where_train_help_says(capsys) -> None:
    """torchvision's test_extended_models.py::test_get_model_builder: a model's builder, whose
    signature lists its options, is one call away. Here ``train --help`` sends users to
    ``models NAME --json`` and ``summary NAME``, and both list the options with defaults."""
    assert main(["train", "--help"]) == 0
    assert "`moderncnn models NAME --json` or `moderncnn summary NAME`" in " ".join(
        capsys.readouterr().out.split()
    )
    options = model_info("alexnet_cifar").options
    assert main(["models", "alexnet_cifar", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["options"] == options
    assert main(["summary", "alexnet_cifar", "--json", "--depth", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["options"] == options
    assert main(["summary", "alexnet_cifar", "--depth", "0"]) == 0
    out = capsys.readouterr().out
    assert "activation='relu', drop_rate=0.5, lrn=True, overlap=True, width=1.0" in out
