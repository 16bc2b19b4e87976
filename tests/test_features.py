"""Multi-scale feature maps (timm's ``features_only``, ``feature_info`` and
``forward_intermediates``) and the torch.hub entry points."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from conftest import REPO
from moderncnn import create_model, list_models
from moderncnn.errors import FeatureIndexError, ModernCNNError
from moderncnn.models.features import FeatureListNet
from moderncnn.models.weights import save_weights
from tiny_model import TinyNet

#: name -> (input size, channels, reductions, map sizes) of every declared stage.
STAGES = {
    "resnet50": (224, [64, 256, 512, 1024, 2048], [2, 4, 8, 16, 32], [112, 56, 28, 14, 7]),
    "resnet20": (32, [16, 16, 32, 64], [1, 1, 2, 4], [32, 32, 16, 8]),
    "preact_resnet164": (32, [16, 64, 128, 256], [1, 1, 2, 4], [32, 32, 16, 8]),
    "densenet121": (224, [64, 256, 512, 1024, 1024], [2, 4, 8, 16, 32], [112, 56, 28, 14, 7]),
    "densenet40_k12": (32, [16, 160, 304, 448], [1, 1, 2, 4], [32, 32, 16, 8]),
    "vgg11": (224, [64, 128, 256, 512, 512, 512], [1, 2, 4, 8, 16, 32],
              [224, 112, 56, 28, 14, 7]),
    "googlenet": (224, [64, 192, 480, 832, 1024], [2, 4, 8, 16, 32], [112, 56, 28, 14, 7]),
    "googlenet_cifar": (32, [192, 480, 832, 1024], [1, 1, 2, 4], [32, 32, 16, 8]),
    # AlexNet's unpadded pools round down: 224 / 4 = 56 but conv1 gives 55.
    "alexnet": (224, [64, 192, 256, 256], [4, 8, 16, 32], [55, 27, 13, 6]),
}  # fmt: skip
#: Compared with hooks and torch.fx: every family, the paper variants' own stages (LRN),
#: not googlenet_cifar (the costliest at 32x32, the same modules as googlenet).
COMPARED = [n for n in STAGES if n != "googlenet_cifar"] + ["googlenet_paper", "alexnet_paper"]
#: Small inputs for the comparisons (every stage at least 1 pixel).
SMALL = {"resnet50": 64, "densenet121": 64, "vgg11": 32, "googlenet": 64, "alexnet": 63}


def _small(name: str) -> torch.Tensor:
    size = SMALL.get(name, 32)
    return torch.randn(1, 3, size, size)


@pytest.mark.parametrize("name", STAGES)
def test_feature_info_matches_the_maps(name: str) -> None:
    size, channels, reductions, sizes = STAGES[name]
    net = create_model(name, features_only=True).eval()
    info = net.feature_info
    assert (info.channels(), info.reduction()) == (channels, reductions)
    with torch.no_grad():
        maps = net(torch.randn(1, 3, size, size))
    assert [m.shape[1] for m in maps] == channels
    assert [m.shape[2:] for m in maps] == [(s, s) for s in sizes]
    if name != "alexnet":
        assert sizes == [size // r for r in reductions]


def test_stage_choices() -> None:
    """Where each family's maps are (module_name), as documented in docs/models.md."""
    names = {n: create_model(n, features_only=True).feature_info.module_name() for n in STAGES}
    assert names["resnet50"] == ["relu", "layer1", "layer2", "layer3", "layer4"]
    assert names["preact_resnet164"][-1] == "final_act"  # after the final BN-ReLU
    blocks = [f"features.denseblock{i}" for i in (1, 2, 3)]
    assert names["densenet121"] == ["features.relu0", *blocks, "final_act"]
    assert names["vgg11"] == [f"features.{i}" for i in (1, 4, 9, 14, 19, 20)]  # before each pool
    assert names["googlenet"] == ["conv1", "conv3", "inception3b", "inception4e", "inception5b"]
    assert names["alexnet"] == ["features.1", "features.4", "features.11", "features.12"]
    paper = create_model("googlenet_paper", features_only=True).feature_info.module_name()
    assert paper[1] == "norm2"  # the stem's LRN comes before its last max pool


def test_out_indices_subsets() -> None:
    net = create_model("resnet50", features_only=True, out_indices=(1, 3)).eval()
    info = net.feature_info
    assert (info.channels(), info.reduction(), info.module_name()) == (
        [256, 1024], [4, 16], ["layer1", "layer3"]
    )  # fmt: skip
    assert len(info) == 5 and info.channels(0) == 64 and info.reduction([0, 4]) == [2, 32]
    assert info[4] == {"num_chs": 2048, "reduction": 32, "module": "layer4"}
    ran = []
    net.model.layer4.register_forward_hook(lambda *_: ran.append(True))
    with torch.no_grad():
        maps = net(torch.randn(1, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(1, 256, 16, 16), (1, 1024, 4, 4)]
    assert not ran  # the pass ends at the last stage asked for
    assert create_model("resnet50", features_only=True, out_indices=2).out_indices == (3, 4)
    assert create_model("resnet50", features_only=True, out_indices=(-1,)).out_indices == (4,)


def test_bad_indices_say_which_work() -> None:
    stages = "0 relu, 1 layer1, 2 layer2, 3 layer3"
    with pytest.raises(FeatureIndexError, match=f"resnet20 has no feature stage 4; its feature "
                       f"stages are {stages} \\(negative"):  # fmt: skip
        create_model("resnet20", features_only=True, out_indices=(1, 4))
    with pytest.raises(FeatureIndexError, match="has no feature stage 'layer1'"):
        create_model("resnet20", features_only=True, out_indices=("layer1",))
    with pytest.raises(FeatureIndexError, match="was asked for no stage"):
        create_model("resnet20", features_only=True, out_indices=())
    with pytest.raises(FeatureIndexError, match="last n of its 4 feature stages, so it must be "
                       "1..4, got 5"):  # fmt: skip
        create_model("resnet20").forward_intermediates(torch.randn(1, 3, 32, 32), indices=5)
    with pytest.raises(ModernCNNError, match="resnet20: out_indices needs features_only=True"):
        create_model("resnet20", out_indices=(1,))
    with pytest.raises(FeatureIndexError, match="TinyNet declares no feature stages"):
        FeatureListNet(TinyNet(10, 3))


@pytest.mark.filterwarnings("ignore:NOTE. The nodes obtained by tracing:UserWarning")
@pytest.mark.parametrize("name", COMPARED)
def test_maps_equal_hooks_on_the_full_model(name: str) -> None:
    """The maps are those the full network computes: copied by forward hooks while it
    classifies (no in-place op after a stage changes them), and those of torchvision's
    create_feature_extractor (torch.fx) on the declared module names."""
    model = create_model(name).eval()
    net = FeatureListNet(copy.deepcopy(model))
    modules = net.feature_info.module_name()
    fx = create_feature_extractor(model, return_nodes=modules)
    seen: dict[str, torch.Tensor] = {}

    def copier(path: str):
        def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
            seen.setdefault(path, out.clone())

        return hook

    for path in modules:
        model.get_submodule(path).register_forward_hook(copier(path))
    x = torch.randn(1, 3, 227, 227) if name == "alexnet_paper" else _small(name)
    with torch.no_grad():
        model(x)
        maps = net(x)
        traced = fx(x)
    for path, m in zip(modules, maps, strict=True):
        torch.testing.assert_close(m, seen[path], rtol=0, atol=0)
        torch.testing.assert_close(m, traced[path], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["resnet50", "densenet40_k12", "googlenet", "vgg11"])
def test_forward_intermediates_agrees_with_features_only(name: str) -> None:
    model = create_model(name).eval()
    net = FeatureListNet(copy.deepcopy(model))
    x = _small(name)
    n = len(model.feature_info)
    with torch.no_grad():
        features, maps = model.forward_intermediates(x)
        torch.testing.assert_close(features, model.forward_features(x), rtol=0, atol=0)
        assert maps[-1] is features  # the last stage is forward_features' output
        for a, b in zip(maps, net(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        # a subset, the last n, and stopping early: features is then the last map taken
        assert [m.shape for m in model.forward_intermediates(x, [1, -2], intermediates_only=True)] \
            == [maps[1].shape, maps[n - 2].shape]  # fmt: skip
        early, some = model.forward_intermediates(x, 2, stop_early=True)
        assert early is some[-1] and [m.shape for m in some] == [m.shape for m in maps[-2:]]
        early, some = model.forward_intermediates(x, (0, 1), stop_early=True)
        assert early is some[1] and early.shape == maps[1].shape


def test_features_only_drops_the_classifiers_and_loads_full_checkpoints(tmp_path) -> None:
    model = create_model("resnet20").eval()
    save_weights(model, tmp_path / "r20.safetensors")
    net = create_model("resnet20", features_only=True, weights=tmp_path / "r20.safetensors")
    trunk = {f"model.{k}" for k in model.state_dict() if not k.startswith("fc.")}
    assert set(net.state_dict()) == trunk
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(model.forward_intermediates(x)[1], net.eval()(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # VGG's whole FC stack and GoogLeNet's auxiliary heads go with the classifier:
    # 132,863,336 - fc6, fc7, fc8; 6,998,552 (+ aux 6,379,728) - fc (1024 x 1000 + 1000).
    assert sum(p.numel() for p in create_model("vgg11", features_only=True).parameters()) == (
        9_220_480
    )
    paper = create_model("googlenet_paper", features_only=True)
    assert sum(p.numel() for p in paper.parameters()) == 5_973_552


@pytest.mark.parametrize(
    ("name", "options"), [("googlenet_paper", {}), ("densenet40_k12", {"memory_efficient": True})]
)
def test_every_parameter_of_a_feature_network_trains(name: str, options: dict) -> None:
    """Nothing unused is left (DDP needs that), also with GoogLeNet's aux heads in training
    mode and DenseNet's recomputation in backward."""
    net = create_model(name, features_only=True, **options).train()
    sum(m.square().mean() for m in net(torch.randn(2, 3, 64, 64))).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_torch_hub_load_builds_the_registered_model() -> None:
    model = torch.hub.load(str(REPO), "resnet20", source="local")
    ref = create_model("resnet20")
    assert type(model) is type(ref) and model.model_name == "resnet20"
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    assert model.num_params() == 269_722
    net = torch.hub.load(str(REPO), "densenet121", source="local", features_only=True,
                         out_indices=(1, 2))  # fmt: skip
    assert isinstance(net, FeatureListNet) and net.feature_info.channels() == [256, 512]
    with pytest.raises(ModernCNNError, match="resnet20 has no option width"):
        torch.hub.load(str(REPO), "resnet20", source="local", width=2)


def test_torch_hub_list_has_every_registered_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.hub.list takes GitHub repositories only (no source="local" in torch 2.14): its
    download is replaced by this checkout, the listing is torch's own."""
    monkeypatch.setattr(torch.hub, "_get_cache_or_reload", lambda *args, **kwargs: str(REPO))
    names = torch.hub.list("owner/moderncnn")
    assert {"resnet50", "densenet121", "googlenet_paper", "alexnet"} <= set(names)
    assert set(names) == set(list_models())
    assert "Deep Residual Learning" in torch.hub.help("owner/moderncnn", "resnet50")
    assert isinstance(torch.hub.load(str(REPO), "vgg11_cifar", source="local"), nn.Module)
