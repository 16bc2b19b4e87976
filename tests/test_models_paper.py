"""The paper variants against the papers: parameter counts, shapes, layer counts, options."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from conftest import n_params
from moderncnn import create_model, list_models, model_info
from moderncnn.errors import ModernCNNError
from moderncnn.inspect import feature_field
from moderncnn.models.googlenet import INCEPTION_TABLE
from moderncnn.models.layers import paper_lrn
from moderncnn.models.registry import get_builder
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
    "googlenet_paper": 6_998_552,  # Table 1's network; its aux heads are counted apart
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
    "densenet_bc40_k12": 176_122,  # not in Table 2: the smallest DenseNet-BC registered
    "densenet_bc250_k24": 15_324_406,
    "densenet_bc190_k40": 25_624_430,
}


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_count(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name)
    assert model.num_params() == model_info(name).params == PARAMS[name]


def test_googlenet_counts_the_inference_network() -> None:
    """Sec. 5: the auxiliary classifiers are "discarded at inference time"; Table 1's network
    has 6,998,552 parameters, the two heads 6,379,728 more."""
    info = model_info("googlenet_paper")
    assert (info.params, info.aux_params) == (6_998_552, 6_379_728)
    with_aux = create_model("googlenet_paper")
    assert n_params(with_aux) == 6_998_552 + 6_379_728
    assert n_params(create_model("googlenet_paper", aux_logits=False)) == 6_998_552
    tv = create_model("googlenet", aux_logits=True)
    assert (tv.num_params(), tv.num_params(aux=True)) == (6_624_904, 6_379_984)
    assert (model_info("googlenet").params, model_info("googlenet").aux_params) == (6_624_904, 0)


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
     "plain110", "preact_resnet164", "densenet121", "densenet264", "densenet40_k12",
     "densenet_bc100_k12", "densenet_bc40_k12"],
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
    assert model.classifier.fc8 is model.get_classifier()
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


def test_plain_networks_without_batch_norm() -> None:
    """Sec. 3.4 adopts BN "right after each convolution and before activation" (Ioffe &
    Szegedy 2015); batch_norm=False leaves it out of the plain nets, stem and blocks, and the
    convs get (zero) biases: a BN's weight and bias (2 a channel) become one conv bias, so
    plain20 loses 16 + 3 x 2 x (16 + 32 + 64) = 688 parameters."""
    model = create_model("plain20", batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert isinstance(model.bn1, nn.Identity) and isinstance(model.layer3[2].bn2, nn.Identity)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19 and all(c.bias is not None and not c.bias.any() for c in convs)
    assert model.num_params() == PARAMS["resnet20"] - (16 + 3 * 2 * (16 + 32 + 64)) == 269_034
    conv = model.layer2[1].conv1  # He init, fan_out: 32 x 9
    assert abs(conv.weight.std().item() - math.sqrt(2 / (32 * 9))) < 0.01
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # The default keeps its modules and state_dict: resnet20's (option A adds no tensors).
    assert (
        create_model("plain20").state_dict().keys() == create_model("resnet20").state_dict().keys()
    )
    assert model_info("plain20").options == {"batch_norm": True, "init": "torchvision"}


def _cifar_bottleneck_params(n: int, shortcut: str) -> int:
    """Closed form of a 9n+2-layer CIFAR ResNet of bottleneck blocks (16, 32, 64 planes, x4
    outputs): a block over i channels of p planes has convs i*p + 9p^2 + p*4p and BNs 2p + 2p
    + 8p; a projection from i to 4p channels has i*4p + 8p (its BN)."""
    total = 3 * 16 * 9 + 2 * 16  # stem conv, BN
    inplanes = 16
    for p in (16, 32, 64):
        for i in range(n):
            total += inplanes * p + 13 * p * p + 12 * p
            if shortcut == "C" or (shortcut == "B" and i == 0):  # the shape changes at i == 0
                total += inplanes * 4 * p + 8 * p
            inplanes = 4 * p
    return total + 256 * 10 + 10  # FC


@pytest.mark.parametrize(("name", "n"), [("resnet20", 2), ("resnet56", 6), ("resnet110", 12)])
def test_cifar_resnets_of_bottleneck_blocks(name: str, n: int) -> None:
    """Sec. 4.1 "Deeper Bottleneck Architectures" (Figure 5 right) on CIFAR: the same depth,
    9n+2 layers of three-layer blocks; the first block's 16 -> 64 channels take a shortcut of
    each option of Sec. 3.3 / Table 3: A adds no parameters, B projections where the shape
    changes (the first block of each stage), C a projection on every block."""
    with torch.device("meta"):
        models = {s: create_model(name, bottleneck=True, shortcut=s) for s in "ABC"}
    a, b, c = (models[s] for s in "ABC")
    assert [len(s) for s in a.stages()] == [n] * 3
    assert _weight_layers(a) == model_info(name).depth
    assert [s[0].conv3.out_channels for s in a.stages()] == [64, 128, 256]
    counts = [m.num_params() for m in (a, b, c)]
    assert counts == [_cifar_bottleneck_params(n, s) for s in "ABC"]
    assert counts[0] < counts[1] < counts[2]
    assert all(isinstance(s[0].downsample, ZeroPadShortcut) for s in a.stages())
    assert all(blk.downsample is None for s in a.stages() for blk in s[1:])
    assert [blk.downsample is not None for s in b.stages() for blk in s] == [
        True,
        *[False] * (n - 1),
    ] * 3
    assert all(isinstance(blk.downsample, nn.Sequential) for s in c.stages() for blk in s)


def test_cifar_bottleneck_counts_and_depths() -> None:
    assert [_cifar_bottleneck_params(2, s) for s in "ABC"] == [177_498, 220_378, 307_290]
    for shortcut in "ABC":
        model = create_model("resnet20", bottleneck=True, shortcut=shortcut)
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ModernCNNError, match=r"resnet32: bottleneck=True needs depth 9n\+2.*"
                       r"resnet20, resnet56, resnet110"):  # fmt: skip
        create_model("resnet32", bottleneck=True)
    assert model_info("resnet20").options["bottleneck"] is False


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


def test_densenet_bc40_k12() -> None:
    """DenseNet-BC with L=40, k=12: (40-4)/6 = 6 bottleneck layers a block, a 2k = 24-channel
    stem, theta = 0.5. Not in Table 2, so no reported error. Its 176,122 parameters in closed
    form: a BC layer over c channels has BN 2c, 1x1 conv c*4k, BN 2*4k, 3x3 conv 4k*k*9."""
    k, n = 12, 6
    model = create_model("densenet_bc40_k12")
    blocks = [m for name, m in model.features.named_children() if name.startswith("denseblock")]
    assert [len(b) for b in blocks] == [n] * 3

    def block(c: int) -> tuple[int, int]:  # parameters, output channels
        layers = sum(2 * c_ + c_ * 4 * k + 2 * 4 * k + 4 * k * k * 9
                     for c_ in range(c, c + n * k, k))  # fmt: skip
        return layers, c + n * k

    total, c = 3 * 2 * k * 9, 2 * k  # stem conv
    for i in range(3):
        params, c = block(c)
        total += params
        if i < 2:  # transition: BN, 1x1 conv to half the channels
            total += 2 * c + c * (c // 2)
            c //= 2
    total += 2 * c + c * 10 + 10  # final BN, classifier
    assert total == model.num_params() == PARAMS["densenet_bc40_k12"]
    info = model_info("densenet_bc40_k12")
    assert info.reported_error is None and "not in the paper's Table 2" in info.notes


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
    for name in ("alexnet_cifar", "vgg11_cifar", "vgg13_cifar", "vgg16_cifar", "vgg19_cifar",
                 "googlenet_cifar"):  # fmt: skip
        model = create_model(name).eval()
        assert model_info(name).input_size == (3, 32, 32)
        with torch.no_grad():
            assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
        assert "Changed" in type(model).__doc__ or "Changed" in _builder_doc(name)
    assert create_model("googlenet_cifar").forward_features(torch.randn(1, 3, 32, 32)).shape == (
        1, 1024, 8, 8)  # fmt: skip


def _builder_doc(name: str) -> str:
    builder, _ = get_builder(name)
    return getattr(builder, "func", builder).__doc__ or ""


def test_every_family_is_present() -> None:
    expected = """alexnet alexnet_paper alexnet_cifar alexnet_fig1 vgg11 vgg11_lrn vgg13 vgg16_c
        vgg16 vgg19 vgg11_bn vgg13_bn vgg16_bn vgg19_bn vgg11_cifar vgg13_cifar vgg16_cifar
        vgg19_cifar googlenet
        googlenet_paper googlenet_cifar resnet18 resnet34 resnet50 resnet101 resnet152 resnet20
        resnet32 resnet44 resnet56 resnet110 resnet1202 plain20 plain32 plain44 plain56 plain110
        densenet121 densenet161 densenet169 densenet201 densenet264 densenet40_k12
        densenet100_k12 densenet100_k24 densenet_bc40_k12 densenet_bc100_k12 densenet_bc250_k24
        densenet_bc190_k40 preact_resnet164 preact_resnet1001"""
    zoo = [n for n in list_models() if model_info(n).family != "test"]  # tests register one
    assert sorted(expected.split()) == sorted(zoo)


# -- ablation options for the lecture's experiments --------------------------------------------


def _pool_sizes(features: nn.Sequential, size: int) -> list[int]:
    """Map sizes after each pooling layer of ``features`` at ``size`` x ``size``."""
    sizes = []
    x = torch.randn(1, 3, size, size)
    for layer in features:
        x = layer(x)
        if isinstance(layer, nn.MaxPool2d | nn.AvgPool2d):
            sizes.append(x.shape[-1])
    return sizes


def test_alexnet_lrn_and_overlap_ablations() -> None:
    """Sec. 3.3 (LRN) and Sec. 3.4 (overlapping 3x3/2 pooling against s = z = 2): neither
    changes the parameters or the state_dict's keys."""
    default = create_model("alexnet_cifar")
    no_lrn = create_model("alexnet_cifar", lrn=False)
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in no_lrn.modules())
    assert "norm1" not in dict(no_lrn.features.named_children())
    assert list(no_lrn.state_dict()) == list(default.state_dict())
    no_overlap = create_model("alexnet_cifar", overlap=False)
    pools = [m for m in no_overlap.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(2, 2)] * 3
    with torch.no_grad():
        assert _pool_sizes(default.features, 32) == [15, 7, 3]
        assert _pool_sizes(no_overlap.features, 32) == [16, 8, 4]
        assert no_overlap(torch.randn(2, 3, 32, 32)).shape == (2, 10)
        # Sec. 3.4: s = z = 2 "produces output of equivalent dimensions" at 227.
        paper = create_model("alexnet_paper", overlap=False).features
        assert _pool_sizes(paper, 227) == [27, 13, 6]
    for model in (no_lrn, no_overlap):
        assert n_params(model) == n_params(default) == 5_871_434
    assert model_info("alexnet_cifar").options == {
        "activation": "relu", "drop_rate": 0.5, "lrn": True, "overlap": True, "width": 1.0,
        "init": "pytorch",
    }  # fmt: skip
    # width halves the convolutions (32-96-192-128-128 channels), not the 1024-wide FC layers
    convs = [(3, 32, 25), (32, 96, 25), (96, 192, 9), (192, 128, 9), (128, 128, 9)]
    fcs = [(128 * 9, 1024), (1024, 1024), (1024, 10)]
    expected = sum(i * o * k + o for i, o, k in convs) + sum(i * o + o for i, o in fcs)
    assert n_params(create_model("alexnet_cifar", width=0.5)) == expected == 2_854_826


def test_alexnet_fig1_is_a_four_layer_cnn() -> None:
    """Figure 1's four-layer CNN, as cuda-convnet's CIFAR-10 example: three 5x5 convs (32,
    32, 64 filters), 3x3/2 max, average, average pools (32 -> 16 -> 8 -> 4), one FC layer."""
    model = create_model("alexnet_fig1").eval()
    convs = (3 * 32 * 25 + 32) + (32 * 32 * 25 + 32) + (32 * 64 * 25 + 64)
    assert n_params(model) == model_info("alexnet_fig1").params == convs + 64 * 16 * 10 + 10
    assert model_info("alexnet_fig1").params == 89_578
    assert _weight_layers(model) == model_info("alexnet_fig1").depth == 4
    pools = [type(m) for m in model.features if isinstance(m, nn.MaxPool2d | nn.AvgPool2d)]
    assert pools == [nn.MaxPool2d, nn.AvgPool2d, nn.AvgPool2d]
    with torch.no_grad():
        assert _pool_sizes(model.features, 32) == [16, 8, 4]
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    tanh = create_model("alexnet_fig1", activation="tanh")
    kinds = {type(m) for m in tanh.modules()}
    assert nn.Tanh in kinds and nn.ReLU not in kinds
    assert model.get_classifier() is model.classifier.fc4


def _vgg_cifar_params(convs: list[tuple[int, int]], classes: int = 10) -> int:
    """(kernel, channels) per conv: k*k*in*out weights, a bias and BN's weight and bias per
    output channel, then the linear head over the last conv's channels."""
    total, channels = 0, 3
    for k, out in convs:
        total += k * k * channels * out + 3 * out
        channels = out
    return total + channels * classes + classes


def test_vgg_cifar_width_and_large_kernels() -> None:
    """Configuration B (two 3x3 convs per stage) at full and quarter width, and with each
    pair replaced by one 5x5 conv (Sec. 2.3 and 4.1)."""
    b = [64, 64, 128, 128, 256, 256, 512, 512, 512, 512]
    expected = {
        (): _vgg_cifar_params([(3, c) for c in b]),
        (("width", 0.25),): _vgg_cifar_params([(3, c // 4) for c in b]),
        (("large_kernels", True),): _vgg_cifar_params([(5, c) for c in b[1::2]]),
    }
    assert expected[()] == model_info("vgg13_cifar").params == 9_416_010
    assert list(expected.values())[1:] == [591_450, 10_868_746]
    for options, params in expected.items():
        with torch.device("meta"):
            model = create_model("vgg13_cifar", **dict(options))
        assert model.num_params() == params
    model = create_model("vgg16_cifar", width=0.25, large_kernels=True)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size[0], c.out_channels) for c in convs] == [
        (5, 16), (5, 32), (7, 64), (7, 128), (7, 128)]  # fmt: skip
    assert model.num_features == 128
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name", ["vgg11_cifar", "vgg13_cifar", "vgg16_cifar"])
def test_vgg_large_kernels_keep_the_receptive_field(name: str) -> None:
    """Sec. 2.3: a stack of n 3x3 convs sees (2n+1)x(2n+1), as the single conv replacing it."""
    fields = []
    for large in (False, True):
        with torch.device("meta"):
            model = create_model(name, large_kernels=large).eval()
        fields.append(feature_field(model, (3, 32, 32)))
    assert fields[0] == fields[1]
    assert fields[0].h.jump == 32


def _googlenet_cifar_params(width: float, reductions: bool) -> int:
    """Table 1's columns scaled by ``width``; BN convs (no bias, two BN parameters per
    channel), true 5x5 branches, a 3x3 stem conv, and the linear classifier."""

    def conv(k: int, cin: int, cout: int) -> int:
        return k * k * cin * cout + 2 * cout

    channels = round(192 * width)
    total = conv(3, 3, channels)
    for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
        c1, r3, c3, r5, c5, pool = (round(c * width) for c in INCEPTION_TABLE[name])
        total += conv(1, channels, c1) + conv(1, channels, pool)
        if reductions:
            total += conv(1, channels, r3) + conv(3, r3, c3) + conv(1, channels, r5)
            total += conv(5, r5, c5)
        else:
            total += conv(3, channels, c3) + conv(5, channels, c5)
        channels = c1 + c3 + c5 + pool
    return total + channels * 10 + 10


def test_googlenet_cifar_width_and_reductions() -> None:
    """Sec. 4: the 1x1 reductions keep the 3x3 and 5x5 convolutions cheap; without them
    (Figure 2(a), pool projection kept) the network has several times the parameters."""
    assert _googlenet_cifar_params(1.0, True) == model_info("googlenet_cifar").params
    counts = []
    for reductions in (True, False):
        with torch.device("meta"):
            model = create_model("googlenet_cifar", width=0.25, reductions=reductions)
        assert model.num_params() == _googlenet_cifar_params(0.25, reductions)
        counts.append(model.num_params())
    assert counts == [372_578, 1_516_146] and counts[1] > counts[0]
    naive = create_model("googlenet_cifar", width=0.25, reductions=False).eval()
    block = naive.inception3a
    assert [len(block.branch2), len(block.branch3)] == [1, 1]
    assert block.branch3[0].conv.in_channels == 48 and block.branch3[0].conv.kernel_size == (5, 5)
    assert block.out_channels == 16 + 32 + 8 + 8  # Table 1's 3a at a quarter width
    with torch.no_grad():
        assert naive(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert naive.num_features == 256


# -- details checked against each paper and its authors' code (issue 8) -----------------------


@pytest.mark.parametrize("name", ["alexnet_paper", "alexnet_cifar"])
def test_alexnet_drops_the_outputs_of_fc6_and_fc7(name: str) -> None:
    """AlexNet Sec. 4.2 ("dropout in the first two fully-connected layers"; bvlc_alexnet's
    drop6/drop7 follow relu6/relu7): dropout acts on fc6's and fc7's outputs, never on pool5's
    features, which reach fc6 whole."""
    model = create_model(name).train()
    names = [n for n, _ in model.classifier.named_children()]
    assert names == ["fc6", "act6", "drop6", "fc7", "act7", "drop7", "fc8"]
    seen = {}
    model.classifier.fc6.register_forward_pre_hook(lambda m, a: seen.update(fc6=a[0]))
    model.classifier.fc7.register_forward_pre_hook(lambda m, a: seen.update(fc7=a[0]))
    size = model_info(name).input_size[1]
    x = torch.rand(4, 3, size, size)
    model(x)
    pool5 = torch.flatten(model.avgpool(model.features(x)), 1)
    torch.testing.assert_close(seen["fc6"], pool5, rtol=0, atol=0)  # not dropped
    assert 0.4 < (seen["fc7"] == 0).float().mean() < 0.8  # ReLU zeros plus half the rest
    # torchvision's alexnet keeps its own order (dropout before fc6 and fc7) for its weights.
    assert [type(m).__name__ for m in create_model("alexnet").classifier][:2] == [
        "Dropout", "Linear"]  # fmt: skip


def test_vgg_initialisations() -> None:
    """VGG Sec. 3.1: random init "from a normal distribution with the zero mean and 10^-2
    variance", zero biases (init="paper"); the default is torchvision's He init."""
    paper = create_model("vgg11", init="paper")
    conv, fc = paper.features[3], paper.classifier[0]
    for layer in (conv, fc):
        assert abs(layer.weight.std().item() - 0.1) < 0.002
        assert layer.bias.abs().sum() == 0
    tv = create_model("vgg11").features[3]  # 128 x 64 x 3 x 3: fan_out 128 * 9
    assert abs(tv.weight.std().item() - math.sqrt(2 / (128 * 9))) < 0.002
    with pytest.raises(ModernCNNError, match="init must be one of torchvision, paper"):
        create_model("vgg11", init="xavier")


def test_googlenet_paper_uses_bvlc_fillers() -> None:
    """The paper names no initialisation; googlenet_paper uses BVLC's bvlc_googlenet
    reproduction: Caffe's "xavier" filler, U(-a, a) with a = sqrt(3 / fan_in), biases 0.2 in
    convs and the aux heads' fc1, 0 in the three classifiers."""
    model = create_model("googlenet_paper")
    conv = model.inception4e.branch2[1].conv  # 320 x 160 x 3 x 3
    bound = math.sqrt(3 / (160 * 9))
    assert conv.weight.abs().max() <= bound
    assert abs(conv.weight.std().item() - bound / math.sqrt(3)) < 0.001
    for bias in (conv.bias, model.aux1.fc1.bias):
        torch.testing.assert_close(bias, torch.full_like(bias, 0.2), rtol=0, atol=0)
    for fc in (model.fc, model.aux1.fc2, model.aux2.fc2):
        assert fc.bias.abs().sum() == 0


def test_googlenet_lrn_sits_after_pool1_and_the_stem_3x3() -> None:
    """Figure 3 (and bvlc_googlenet): conv 7x7/2, max pool, LRN, conv 1x1, conv 3x3, LRN,
    max pool."""
    model = create_model("googlenet_paper").eval()
    order = []
    for name in ("conv1", "maxpool1", "norm1", "conv2", "conv3", "norm2", "maxpool2"):
        model.get_submodule(name).register_forward_hook(lambda m, a, o, n=name: order.append(n))
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    assert order == ["conv1", "maxpool1", "norm1", "conv2", "conv3", "norm2", "maxpool2"]
    assert create_model("googlenet").norm1 is None  # torchvision's has no LRN


def test_densenet_initialisations() -> None:
    """DenseNet Sec. 4.2 cites He et al.'s init; the authors' code (densenet.lua, from
    fb.resnet.torch) draws conv weights from N(0, 2 / (k*k*out)), fan_out. torchvision's
    variants keep torchvision's fan_in."""
    conv = create_model("densenet121", init="paper").features.conv0  # 64 x 3 x 7 x 7
    assert abs(conv.weight.std().item() - math.sqrt(2 / (64 * 49))) < 0.001
    conv = create_model("densenet121").features.conv0
    assert abs(conv.weight.std().item() - math.sqrt(2 / (3 * 49))) < 0.005
    assert model_info("densenet_bc100_k12").options["init"] == "paper"
    assert create_model("densenet40_k12").classifier.bias.abs().sum() == 0


@pytest.mark.parametrize(
    ("name", "options"),
    [("resnet20", {}), ("resnet20", {"preact": True}), ("resnet50", {}),
     ("resnet50", {"preact": True}), ("preact_resnet164", {})],
)  # fmt: skip
def test_zero_init_residual_starts_every_block_as_its_shortcut(name: str, options: dict) -> None:
    """Goyal et al. 2017: with the residual branch at zero, a block without a projection is
    the identity (after the ReLU that follows the addition in post-activation blocks)."""
    model = create_model(name, zero_init_residual=True, **options).eval()
    blocks = [b for stage in model.stages() for b in stage if b.downsample is None]
    assert len(blocks) > 3
    for block in blocks:
        x = torch.randn(2, block.conv1.in_channels, 8, 8)
        expected = x if options.get("preact") or name.startswith("preact") else x.relu()
        with torch.no_grad():
            torch.testing.assert_close(block(x), expected, rtol=0, atol=0)


def test_reported_errors_name_their_variant() -> None:
    """ResNet Table 2 reports ResNet-18 with option A shortcuts; Table 3 reports ResNet-34
    with option B (the default) and ResNet-50/101/152 with the v1 bottleneck (stride in the
    first 1x1 conv), while the default is torchvision's v1.5."""
    r18 = model_info("resnet18").reported_error
    assert (r18.top1, r18.top5) == (27.88, None) and "shortcut='A'" in r18.variant
    r34 = model_info("resnet34").reported_error
    assert (r34.top1, r34.top5, r34.variant) == (24.52, 7.46, "")
    for depth in (50, 101, 152):
        assert "stride_in_1x1=True" in model_info(f"resnet{depth}").reported_error.variant
    assert "alexnet_paper" in model_info("alexnet").reported_error.variant
    assert "googlenet_paper" in model_info("googlenet").reported_error.variant


def test_preact_cifar_networks() -> None:
    """ "Identity Mappings" (He et al. 2016), appendix and Table 4: 9n+2 layers of bottleneck
    pre-activation units (16-32-64 planes, x4 outputs), projections on the pre-activated
    input where the shape changes, a final BN-ReLU; 1.7M and 10.2M parameters. Built unit for
    unit as the authors' resnet-pre-act.lua, ResNet-1001 has 10,327,706 parameters, or
    10,178,490 without BN: the paper's 10.2M counts weights only."""
    model = create_model("preact_resnet164")
    assert [len(s) for s in model.stages()] == [18, 18, 18]
    firsts = [s[0] for s in model.stages()]
    assert all(isinstance(b.downsample, nn.Conv2d) for b in firsts)  # a bare 1x1 conv
    assert [b.downsample.out_channels for b in firsts] == [64, 128, 256]
    assert isinstance(model.final_norm, nn.BatchNorm2d) and model.fc.in_features == 256
    assert model.forward_features(torch.randn(2, 3, 32, 32)).shape == (2, 256, 8, 8)
    with torch.device("meta"):
        deep = create_model("preact_resnet1001")
    weights = sum(
        p.numel() for m in deep.modules() if isinstance(m, nn.Conv2d | nn.Linear)
        for p in m.parameters()
    )  # fmt: skip
    assert (deep.num_params(), weights) == (10_327_706, 10_178_490)
    errors = [model_info(f"preact_resnet{d}").reported_error.top1 for d in (164, 1001)]
    assert errors == [5.46, 4.92]
