"""moderncnn.inspect and the summary / compare / explain commands, against the lecture's figures.

Receptive fields are cross-checked against autograd: with positive weights, average pooling
for max pooling and no nonlinearity, the input pixels with a non-zero gradient of the centre
output unit are exactly its receptive field.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from moderncnn import create_model, list_models
from moderncnn.cli import main
from moderncnn.errors import InputShapeError, ModernCNNError, UnknownModelError
from moderncnn.inspect import count_params, feature_field, parse_input_size, summarize
from moderncnn.models.base import ConvNet
from moderncnn.models.densenet import DenseNet
from moderncnn.models.googlenet import (
    INCEPTION_TABLE,
    VARIANTS,
    BasicConv2d,
    GoogLeNet,
    Inception,
)
from moderncnn.models.resnet import Bottleneck, ResNet
from moderncnn.models.vgg import CONFIGS, make_layers

# ----------------------------------------------------------------------------- input sizes


def test_parse_input_size() -> None:
    assert parse_input_size("3x224x224") == (3, 224, 224)
    assert parse_input_size("1x32x48") == (1, 32, 48)
    assert parse_input_size(" 64x4096x4096 ") == (64, 4096, 4096)  # the largest


@pytest.mark.parametrize(
    "text", ["3x224", "0x3x3", "3x224x224x1", "3x-2x2", "axbxc", "", "65x3x3", "3x4097x32"]
)
def test_parse_input_size_rejects(text: str) -> None:
    with pytest.raises(ModernCNNError, match="e.g. 3x224x224"):
        parse_input_size(text)


# ----------------------------------------------------------------------------- figures

#: The issue's figures at 3x224x224: parameters and GMACs.
FIGURES = {
    "alexnet": (61_100_840, 0.714),
    "vgg16": (138_357_544, 15.470),
    "vgg19": (143_667_240, 19.632),
    "googlenet": (6_624_904, 1.498),
    "resnet18": (11_689_512, 1.814),
    "resnet50": (25_557_032, 4.089),
    "resnet152": (60_192_808, 11.514),
    "densenet121": (7_978_856, 2.834),
}


@pytest.mark.parametrize("name", FIGURES)
def test_params_and_macs(name: str) -> None:
    params, gmacs = FIGURES[name]
    s = summarize(name, (3, 224, 224), depth=0)
    assert s.params == params
    assert s.macs / 1e9 == pytest.approx(gmacs, rel=0.005)
    assert s.flops == 2 * s.macs


def _fields(name: str, depth: int = 2) -> dict[str, int]:
    s = summarize(name, (3, 224, 224), depth)
    return {layer.name: layer.field.size for layer in s.layers if layer.field} | {
        "final": s.field.size
    }


def test_receptive_fields_alexnet_vgg16() -> None:
    alexnet = _fields("alexnet")
    assert (alexnet["features.10"], alexnet["features.12"]) == (163, 195)  # conv5, pool5
    assert alexnet["final"] == 195
    vgg = _fields("vgg16")
    assert (vgg["features.28"], vgg["features.30"]) == (196, 212)  # conv5_3, pool5
    assert vgg["final"] == 212


def test_receptive_fields_resnet50_googlenet() -> None:
    resnet = _fields("resnet50", depth=1)
    assert resnet["layer4"] == resnet["final"] == 427
    assert resnet["layer1"] == 35
    tv = _fields("googlenet", depth=1)
    assert tv["inception5b"] == tv["final"] == 379
    # The paper's network (true 5x5 branches, Table 1's 3x3/2 max pool before 5a) sees 715
    # pixels at 5b. The 699 is that network with torchvision's 2x2 pool there:
    paper = _fields("googlenet_paper", depth=1)
    assert paper["inception5b"] == 715
    with torch.device("meta"):
        variant = dataclasses.replace(VARIANTS["paper"], pool4_kernel=2)
        pool2 = GoogLeNet(variant, 1000, 3, aux_logits=False, drop_rate=0.4).eval()
    assert feature_field(pool2, (3, 224, 224)).size == 699


# ----------------------------------------------------------------------------- gradient method


def _linearise(model: nn.Module) -> nn.Module:
    """The gradient method's network: positive weights (1/fan-in, so values stay near 1), zero
    biases, BN an identity, average pooling for max pooling, no ReLU or LRN. Functional
    ReLUs left in the forward code are identities too: every activation is positive."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.MaxPool2d):
                pool = nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode)
                setattr(module, name, pool)
            elif isinstance(child, nn.ReLU | nn.LocalResponseNorm):
                setattr(module, name, nn.Identity())
        if isinstance(module, nn.Conv2d):
            nn.init.constant_(module.weight, 1 / module.weight[0].numel())
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()
    return model.double().eval()


def _gradient_spans(model: nn.Module, size: tuple[int, int, int]):
    """Centre output unit (i, j) and the first/last input row and column it depends on."""
    x = torch.ones(1, *size, dtype=torch.float64, requires_grad=True)
    y = model.forward_features(x) if isinstance(model, ConvNet) else model(x)
    i, j = y.shape[-2] // 2, y.shape[-1] // 2
    y[0, :, i, j].sum().backward()
    seen = x.grad[0].abs().sum(0) > 0
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    return (i, j), ((rows.min(), rows.max()), (cols.min(), cols.max()))


def _small_inception() -> nn.Module:
    """GoogLeNet's pieces, narrow: the paper's stem conv, ceil-mode pools, Inception blocks
    with true 5x5 branches and with torchvision's 3x3 ones."""
    return nn.Sequential(
        BasicConv2d(3, 8, batch_norm=False, kernel_size=7, stride=2, padding=3),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        Inception(8, 4, 4, 4, 2, 4, 2, kernel_5x5=5),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        Inception(14, 4, 4, 4, 2, 4, 2, kernel_5x5=3),
        Inception(14, 4, 4, 4, 2, 4, 2, kernel_5x5=5),
    )


def _odd_ops() -> nn.Module:
    """Rules the zoo barely uses: dilation, 'same' padding, an even kernel, spatial padding."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, dilation=2, padding="same"),
        nn.Conv2d(4, 4, 4, stride=2),
        nn.ZeroPad2d((1, 2, 0, 3)),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 4, 3, stride=3, padding=2),
    )


SMALL = {  # builder, input size (large enough that the centre unit's field is not clipped)
    "alexnet_cifar": (lambda: create_model("alexnet_cifar"), (3, 128, 128)),
    "vgg11_narrow": (  # configuration A's layers at width 4
        lambda: make_layers([v if v == "M" else 4 for v in CONFIGS["A"]], batch_norm=True),
        (3, 224, 224),
    ),
    "resnet20": (lambda: create_model("resnet20"), (3, 129, 129)),  # option-A shortcuts
    "bottleneck_resnet": (  # ImageNet stem, projection shortcuts, stride in the 3x3
        lambda: ResNet(
            Bottleneck,
            (1, 1, 1, 1),
            1000,
            3,
            shortcut="B",
            zero_init_residual=False,
            widths=(4, 4, 4, 4),
        ),  # fmt: skip
        (3, 224, 224),
    ),
    "densenet_bc_small": (
        lambda: DenseNet(
            4,
            (2, 2, 2),
            8,
            bn_size=2,
            num_classes=10,
            in_chans=3,
            drop_rate=0.0,
            memory_efficient=False,
            init="torchvision",
        ),  # fmt: skip
        (3, 224, 224),
    ),
    "inception_small": (_small_inception, (3, 160, 160)),
    "odd_ops": (_odd_ops, (3, 96, 96)),
}


@pytest.mark.parametrize("name", SMALL)
def test_receptive_field_matches_gradient_method(name: str) -> None:
    build, size = SMALL[name]
    model = _linearise(build())
    field = feature_field(model, size)
    (i, j), measured = _gradient_spans(model, size)
    expected = (field.h.span(i), field.w.span(j))
    for lo, hi in expected:  # the field lies inside the image, so nothing is clipped
        assert lo >= 0 and hi <= size[1] - 1
    assert measured == expected
    assert field.h.size >= 20  # deep enough to test something


# ----------------------------------------------------------------------------- summary


def test_summary_rows_add_up() -> None:
    s = summarize("resnet18", depth=1)
    names = [layer.name for layer in s.layers]
    assert names == ["conv1", "bn1", "relu", "maxpool"] + [f"layer{i}" for i in range(1, 5)] + [
        "avgpool",
        "fc",
    ]
    assert sum(layer.params for layer in s.layers) == s.params
    assert sum(layer.macs for layer in s.layers) == s.macs
    rows = {layer.name: layer for layer in s.layers}
    assert rows["layer4"].output_shape == (512, 7, 7)
    assert rows["layer4"].field.jump == 32
    assert rows["conv1"].memory == 64 * 112 * 112 * 4
    assert rows["fc"].field is None and rows["fc"].macs == 512 * 1000


def test_summary_auxiliary_heads_and_depth(capsys: pytest.CaptureFixture[str]) -> None:
    s = summarize("googlenet_paper", depth=2)
    rows = {layer.name: layer for layer in s.layers}
    # Table 1's network has 6,998,552 parameters; the aux heads are counted apart (Sec. 5).
    assert (s.params, s.aux_params) == count_params("googlenet_paper") == (6_998_552, 6_379_728)
    assert s.to_dict()["aux_params"] == 6_379_728
    assert main(["summary", "googlenet_paper", "--depth", "0"]) == 0
    assert "6,998,552 parameters (+6,379,728 in training-only auxiliary heads)" in (
        capsys.readouterr().out
    )
    assert s.params + s.aux_params == sum(layer.params for layer in s.layers if layer.depth == 1)
    assert rows["aux1"].output_shape is None and rows["aux1"].params > 0  # not run in eval
    assert "inception3a.branch3" in rows and "inception3a.branch3.1" not in rows
    assert rows["inception3a.branch3"].field.size == 27 + 4 * 8  # 5x5 at jump 8


def test_summary_non_square_input() -> None:
    s = summarize("alexnet", (3, 224, 320), depth=1)
    rows = {layer.name: layer for layer in s.layers}
    assert s.field.size == 195  # square kernels: the same field along both axes
    assert rows["features"].output_shape == (256, 6, 9)
    assert rows["avgpool"].field.jump == (32, 48)  # 9 -> 6 adaptive pooling: mean stride


#: Deeper copies of builders that other entries run (each costs seconds on this machine);
#: checked by hand instead.
DEEP_COPIES = {
    "resnet1202",
    "preact_resnet1001",
    "densenet169",
    "densenet201",
    "densenet100_k24",
    "densenet_bc190_k40",
    "densenet_bc250_k24",
}


@pytest.mark.parametrize("name", [n for n in list_models() if n not in DEEP_COPIES])
def test_every_registered_model_summarises(name: str) -> None:
    s = summarize(name, depth=1)
    assert (s.params, s.aux_params) == count_params(name)
    assert s.macs > 0 and s.field is not None
    assert s.field.size >= max(s.input[1:]) / 8  # the features see a good part of the image


def test_summary_errors() -> None:
    with pytest.raises(InputShapeError, match="at least"):
        summarize("alexnet", (3, 32, 32))
    with pytest.raises(UnknownModelError):
        summarize("resnet5")
    with pytest.raises(ModernCNNError, match="depth"):
        summarize("resnet18", depth=-1)


# ----------------------------------------------------------------------------- CLI


def test_cli_summary_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet18", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs = 2 x MACs" in out
    assert "total: 11,689,512 parameters, 1.814 GMACs" in out
    assert main(["summary", "alexnet", "--input", "3x224x224", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input"] == [3, 224, 224]
    assert (data["params"], data["receptive_field"]) == (61_100_840, 195)
    assert data["flops"] == 2 * data["macs"]
    conv5 = next(layer for layer in data["layers"] if layer["name"] == "features.10")
    assert (conv5["type"], conv5["output_shape"], conv5["receptive_field"]) == (
        "Conv2d",
        [256, 13, 13],
        163,
    )
    assert {"name", "type", "output_shape", "params", "macs", "receptive_field", "jump"} <= set(
        conv5
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "resnet50", "--input", "3x224"], "CxHxW"),
        (["summary", "resnet50", "--input", "0x3x3"], "1 to 64 channels"),
        (["summary", "alexnet", "--input", "3x32x32"], "at least 63x63"),
        (["summary", "resnet5"], "did you mean"),
        (["compare", "alexnet", "resnet5", "--no-latency"], "unknown model"),
        (["compare", "resnet20", "--runs", "0"], "runs"),
        (["compare", "alexnet", "--no-latency", "--plot", "/no/such/dir/x.png"], "cannot write"),
    ],
)
def test_cli_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_cli_compare_default_models(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "compare.png"
    assert main(["compare", "--no-latency", "--json", "--plot", str(plot)]) == 0
    data = json.loads(capsys.readouterr().out)
    measured = {m["model"]: (m["params"], round(m["macs"] / 1e9, 3)) for m in data["models"]}
    assert measured == {k: v for k, v in FIGURES.items() if k != "resnet18"}
    assert data["answers"]["fewest parameters"] == "googlenet"
    assert data["answers"]["least compute"] == "alexnet"
    assert data["answers"]["lowest reported top-5 error"] == "resnet152"
    assert data["runs"] is None and data["plot"] == str(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_compare_latency(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "resnet20", "alexnet_cifar", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "median of 2 runs" in out and f"torch {torch.__version__}" in out
    assert f"{torch.get_num_threads()} threads" in out
    assert "fastest on this CPU: " in out
    row = next(line for line in out.splitlines() if line.startswith("resnet20 "))
    assert float(row.split()[-2]) > 0  # CPU ms; the CIFAR networks report no top-5 error


def _reductions_cost() -> int:
    """Parameters that feeding each 3x3 and 5x5 the full input adds, from Table 1."""
    total, cin = 0, 192
    for c1, r3, c3, r5, c5, pool in INCEPTION_TABLE.values():
        reduced = (cin + 1) * r3 + (9 * r3 + 1) * c3 + (cin + 1) * r5 + (25 * r5 + 1) * c5
        total += (9 * cin + 1) * c3 + (25 * cin + 1) * c5 - reduced
        cin = c1 + c3 + c5 + pool
    return total


def test_cli_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    stacked, reduction, googlenet = data["examples"]
    assert [o["params"] for o in stacked["options"]] == [409_600, 294_912]
    assert [o["receptive_field"] for o in stacked["options"]] == [5, 5]
    assert stacked["saving"] == pytest.approx(0.28)
    assert [o["params"] for o in reduction["options"]] == [147_456, 40_960]
    naive, paper = googlenet["options"]
    assert paper["params"] == 13_378_280 - 3_188_840 - 3_190_888  # less the two aux heads
    assert naive["params"] - paper["params"] == _reductions_cost()
    assert naive["macs"] > 2 * paper["macs"] and naive["receptive_field"] == 715
    history = {r["year"]: r["top5"] for r in data["ilsvrc_top5"]}
    assert history == {
        2010: 28.2,
        2011: 25.8,
        2012: 16.4,
        2013: 11.7,
        2014: 6.67,
        2015: 3.57,
        None: 5.1,
    }
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "28% fewer parameters" in out and "Biases excluded" in out
