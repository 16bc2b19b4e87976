"""The paper variants against the papers: parameter counts, shapes, layer counts, options."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from conftest import n_params
from moderncnn import create_model, list_models, model_info
from moderncnn.models.layers import paper_lrn
from moderncnn.models.resnet import ZeroPadShortcut

#: Parameter counts at the default classes (1000 ImageNet, 10 CIFAR), from the issue/papers.
PARAMS = {
    "alexnet": 61_100_840,
    "alexnet_paper": 60_965_224,
    "vgg11": 132_863_336,
    "vgg11_lrn": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16_c": 133_638_952,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "googlenet": 6_624_904,
    "googlenet_paper": 13_378_280,  # with its two auxiliary heads (the default)
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
    "densenet40_k12": 1_019_722,
    "densenet100_k12": 6_979_642,
    "densenet100_k24": 27_249_082,
    "densenet_bc100_k12": 769_162,
    "densenet_bc250_k24": 15_324_406,
    "densenet_bc190_k40": 25_624_430,
}


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_count(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name)
    assert n_params(model) == PARAMS[name]


def test_googlenet_without_aux_heads() -> None:
    assert n_params(create_model("googlenet_paper", aux_logits=False)) == 6_998_552
    assert n_params(create_model("googlenet", aux_logits=True)) == 13_004_888


def test_plain_networks_have_the_resnets_parameters() -> None:
    """Option A shortcuts add no parameters (Sec. 4.2: 'the same number of parameters')."""
    for depth in (20, 32, 44, 56, 110):
        assert n_params(create_model(f"plain{depth}")) == PARAMS[f"resnet{depth}"]


def _weight_layers(model: nn.Module) -> int:
    """Convs and linear layers, excluding projection shortcuts (not counted by the papers)."""
    return sum(
        isinstance(m, (nn.Conv2d, nn.Linear)) and ".downsample" not in name
        for name, m in model.named_modules()
    )


@pytest.mark.parametrize(
    "name",
    ["alexnet_paper", "vgg11", "vgg16_c", "vgg19", "resnet18", "resnet56", "resnet152",
     "plain110", "densenet121", "densenet264", "densenet40_k12", "densenet_bc100_k12"],
)  # fmt: skip
def test_weight_layers_equal_the_depth_in_the_name(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name)
    # Table 1's DenseNet-264 (6, 12, 64, 48 layers) counts 265: the paper's off-by-one.
    assert _weight_layers(model) == model_info(name).depth + (name == "densenet264")
    number = re.search(r"\d+", name)  # vgg16_c -> 16, densenet_bc100_k12 -> 100
    assert model_info(name).depth == (int(number.group()) if number else 8)


def test_googlenet_is_22_layers_deep() -> None:
    """Sec. 5: 22 layers with parameters on the longest path: 3 stem convs, 2 per inception
    block (1x1 reduce then 3x3/5x5), 9 blocks, and the classifier."""
    model = create_model("googlenet_paper", aux_logits=False)
    blocks = [m for m in model.modules() if type(m).__name__ == "Inception"]
    stem = [model.conv1, model.conv2, model.conv3]
    assert len(stem) + 2 * len(blocks) + 1 == model_info("googlenet_paper").depth == 22


def test_alexnet_paper_geometry_and_init() -> None:
    model = create_model("alexnet_paper").eval()
    f = model.features
    assert [f.conv2.groups, f.conv3.groups, f.conv4.groups, f.conv5.groups] == [2, 1, 2, 2]
    x = torch.randn(1, 3, 227, 227)
    assert f[:2](x).shape == (1, 96, 55, 55)  # Figure 2: 55x55x96 after conv1
    assert f(x).shape == (1, 256, 6, 6)
    assert model(x).shape == (1, 1000)
    # Sec. 5: N(0, 0.01) weights; biases 1 in conv2, conv4, conv5 and fc6, fc7; 0 elsewhere.
    assert abs(f.conv3.weight.std().item() - 0.01) < 1e-3
    biases = [f.conv1, f.conv2, f.conv3, f.conv4, f.conv5]
    assert [m.bias.unique().tolist() for m in biases] == [[0.0], [1.0], [0.0], [1.0], [1.0]]
    fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert [m.bias.unique().tolist() for m in fcs] == [[1.0], [1.0], [0.0]]
    assert [m.p for m in model.classifier if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    assert isinstance(f.norm1, nn.LocalResponseNorm) and isinstance(f.norm2, nn.LocalResponseNorm)


def test_lrn_follows_the_papers_formula() -> None:
    """AlexNet Sec. 3.3: b = a / (k + alpha * sum over n neighbouring channels of a^2)^beta."""
    a = torch.randn(2, 9, 3, 3)
    n, alpha, beta, k = 5, 1e-2, 0.75, 2.0  # a large alpha makes the sum matter
    sq = torch.nn.functional.pad(a.pow(2), (0, 0, 0, 0, n // 2, n // 2))
    sums = torch.stack([sq[:, i : i + n].sum(1) for i in range(a.shape[1])], 1)
    expected = a / (k + alpha * sums).pow(beta)
    torch.testing.assert_close(paper_lrn(n, alpha, beta, k)(a), expected)


@pytest.mark.parametrize("name", ["alexnet", "alexnet_paper", "alexnet_cifar"])
def test_alexnet_tanh_option(name: str) -> None:
    model = create_model(name, activation="tanh")
    kinds = {type(m) for m in model.modules()}
    assert nn.Tanh in kinds and nn.ReLU not in kinds


def test_vgg_configuration_c_has_1x1_convs_in_stages_3_to_5() -> None:
    convs = [m for m in create_model("vgg16_c").features if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [3] * 6 + [1] + [3, 3, 1] + [3, 3, 1]
    assert any(isinstance(m, nn.LocalResponseNorm) for m in create_model("vgg11_lrn").features)


def test_vgg_fully_convolutional_equals_original_at_224() -> None:
    model = create_model("vgg11").eval()
    dense = model.to_fully_convolutional().eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(dense(x), model(x), rtol=1e-4, atol=1e-5)
        score_map = dense.score_map(torch.randn(1, 3, 288, 320))
    assert score_map.shape == (1, 1000, 3, 4)  # (288/32 - 6) x (320/32 - 6)


@pytest.mark.parametrize("name", ["googlenet_paper", "googlenet"])
def test_googlenet_aux_outputs_in_training_mode_only(name: str) -> None:
    model = create_model(name, aux_logits=True, num_classes=5)
    x = torch.randn(2, 3, 224, 224)
    out = model.train()(x)
    assert isinstance(out, tuple) and len(out) == 3
    assert all(o.shape == (2, 5) for o in out)
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 5)


def test_googlenet_paper_branches() -> None:
    model = create_model("googlenet_paper", aux_logits=False)
    assert model.inception3a.branch3[1].conv.kernel_size == (5, 5)  # true 5x5
    assert create_model("googlenet").inception3a.branch3[1].conv.kernel_size == (3, 3)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in model.modules()) == 2
    assert model.dropout.p == 0.4 and model.maxpool4.kernel_size == 3
    assert model.forward_features(torch.randn(1, 3, 224, 224)).shape == (1, 1024, 7, 7)
    aux = create_model("googlenet_paper").aux1
    assert aux.dropout.p == 0.7 and aux.pool.kernel_size == 5 and aux.pool.stride == 3


def test_inception_block_takes_table_1_channels() -> None:
    from moderncnn.models.googlenet import Inception

    block = Inception(192, 64, 96, 128, 16, 32, 32)  # 3a
    assert block(torch.randn(1, 192, 28, 28)).shape == (1, 256, 28, 28)
    assert block.out_channels == 256


def test_resnet_options() -> None:
    v15 = create_model("resnet50")
    v1 = create_model("resnet50", stride_in_1x1=True)
    assert n_params(v1) == n_params(v15)
    assert v15.layer2[0].conv2.stride == (2, 2) and v15.layer2[0].conv1.stride == (1, 1)
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    # Sec. 3.3 / Table 3: A (no extra parameters) < B (projection where shapes change) < C.
    a, b, c = (n_params(create_model("resnet34", shortcut=s)) for s in "ABC")
    assert b == 21_797_672 and a < b < c
    assert isinstance(create_model("resnet34", shortcut="A").layer2[0].downsample, ZeroPadShortcut)
    assert create_model("resnet34", shortcut="C").layer1[0].downsample is not None
    x = torch.randn(2, 3, 64, 64)
    for model in (
        v1,
        create_model("resnet18", preact=True),
        create_model("resnet50", shortcut="A"),
    ):
        assert model(x).shape == (2, 1000)


def test_zero_pad_shortcut() -> None:
    x = torch.randn(1, 16, 8, 8)
    y = ZeroPadShortcut(32, 2)(x)
    assert y.shape == (1, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert y[:, 16:].abs().sum() == 0


def test_cifar_resnet_shapes() -> None:
    model = create_model("resnet20")
    assert model.forward_features(torch.randn(2, 3, 32, 32)).shape == (2, 64, 8, 8)
    assert [len(s) for s in model.stages()] == [3, 3, 3]
    plain = create_model("plain20")
    assert all(not b.residual and b.downsample is None for s in plain.stages() for b in s)


def test_densenet_cifar_structure() -> None:
    model = create_model("densenet_bc100_k12")
    blocks = [m for n, m in model.features.named_children() if n.startswith("denseblock")]
    assert [len(b) for b in blocks] == [16, 16, 16]  # (100 - 4) / 6 bottleneck layers
    assert model.features.conv0.out_channels == 24  # 2k
    assert model.features.transition1.conv.out_channels == (24 + 16 * 12) // 2
    basic = create_model("densenet40_k12")
    assert [len(b) for n, b in basic.features.named_children() if "block" in n] == [12, 12, 12]
    assert basic.features.transition1.conv.out_channels == 16 + 12 * 12  # no compression
    assert create_model("densenet40_k12", drop_rate=0.2).features.denseblock1.denselayer1.drop_rate


@pytest.mark.parametrize("name", ["densenet_bc100_k12", "densenet40_k12"])
def test_memory_efficient_densenet_equals_plain(name: str) -> None:
    plain = create_model(name).train()
    efficient = create_model(name, memory_efficient=True).train()
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 32, 32)
    out_p, out_e = plain(x), efficient(x)
    torch.testing.assert_close(out_e, out_p, rtol=0, atol=0)
    out_p.square().sum().backward()
    out_e.square().sum().backward()
    for (name_p, p), (_, e) in zip(
        plain.named_parameters(), efficient.named_parameters(), strict=True
    ):
        torch.testing.assert_close(e.grad, p.grad, rtol=1e-5, atol=1e-6, msg=name_p)
    # Recomputation in backward must not update BN running statistics a second time.
    for (k, a), (_, b) in zip(
        plain.state_dict().items(), efficient.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=k)


def test_cifar_members_of_the_first_three_families() -> None:
    for name in ("alexnet_cifar", "vgg11_cifar", "vgg16_cifar", "vgg19_cifar", "googlenet_cifar"):
        model = create_model(name).eval()
        assert model_info(name).input_size == (3, 32, 32)
        with torch.no_grad():
            assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
        assert "Changed" in type(model).__doc__ or "Changed" in _builder_doc(name)
    assert create_model("googlenet_cifar").forward_features(torch.randn(1, 3, 32, 32)).shape == (
        1, 1024, 8, 8)  # fmt: skip


def _builder_doc(name: str) -> str:
    from moderncnn.models.registry import _lookup

    return _lookup(name)[0].__doc__ or ""


def test_every_family_is_present() -> None:
    expected = """alexnet alexnet_paper alexnet_cifar vgg11 vgg11_lrn vgg13 vgg16_c vgg16 vgg19
        vgg11_bn vgg13_bn vgg16_bn vgg19_bn vgg11_cifar vgg16_cifar vgg19_cifar googlenet
        googlenet_paper googlenet_cifar resnet18 resnet34 resnet50 resnet101 resnet152 resnet20
        resnet32 resnet44 resnet56 resnet110 resnet1202 plain20 plain32 plain44 plain56 plain110
        densenet121 densenet161 densenet169 densenet201 densenet264 densenet40_k12
        densenet100_k12 densenet100_k24 densenet_bc100_k12 densenet_bc250_k24
        densenet_bc190_k40"""
    zoo = [n for n in list_models() if model_info(n).family != "test"]  # tests register one
    assert sorted(expected.split()) == zoo
