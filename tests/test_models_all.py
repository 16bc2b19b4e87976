"""Every registered model: forward and backward at a small size, the registry's facts
(parameters, smallest input) recounted, the head API, symbolic tracing and TorchScript."""

from __future__ import annotations

import inspect
import io

import pytest
import torch
from torch import nn
from torch.fx import symbolic_trace
from torchvision.models.feature_extraction import create_feature_extractor

from moderncnn import create_model, list_models, model_info
from moderncnn.errors import InputShapeError
from moderncnn.inspect import count_params, min_input_size
from moderncnn.models.registry import builder_options, get_builder, register_model

ZOO = [n for n in list_models() if model_info(n).family != "test"]  # tests register one
#: The two deepest networks: the same builders as resnet110 / preact_resnet164 with more
#: blocks; probing their smallest input costs tens of seconds here.
DEEPEST = {"resnet1202", "preact_resnet1001"}
#: Networks over 30M parameters but the smallest ImageNet VGG and AlexNet: the same classes as
#: their family's smaller variants, whose weights cost seconds each to save and load again.
LARGEST = {n for n in ZOO if model_info(n).params > 30e6} - {"vgg11", "alexnet"}


def _size(name: str) -> int:
    info = model_info(name)
    return max(info.min_input_size, 32 if info.dataset == "cifar10" else 64)


@pytest.mark.parametrize("name", ZOO)
def test_forward_backward_with_custom_classes_and_channels(name: str) -> None:
    model = create_model(name, num_classes=7, in_chans=2).train()
    size = max(_size(name), min_input_size(name, 2, training=True) if model.aux_parts else 0)
    x = torch.randn(2, 2, size, size)
    out = model(x)
    outputs = out if isinstance(out, tuple) else (out,)  # GoogLeNet's auxiliary heads
    for o in outputs:
        assert o.shape == (2, 7)
        assert torch.isfinite(o).all()
    sum(o.square().mean() for o in outputs).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"


@pytest.mark.parametrize("name", ZOO)
def test_registered_facts_are_measured(name: str) -> None:
    """The registry records parameters and the smallest input, as torchvision's weights
    record ``num_params`` and ``min_size``; both are recounted from the built network."""
    info = model_info(name)
    assert (info.params, info.aux_params) == count_params(name)
    if name not in DEEPEST:
        assert info.min_input_size == min_input_size(name)
    builder, _ = get_builder(name)
    assert info.options == builder_options(builder)


def test_min_input_sizes() -> None:
    """The smallest accepted inputs follow from each stem's strides and the last fixed pool."""
    assert min_input_size("alexnet") == 63  # conv1 11/4 p2 then three 3x3/2 max pools
    assert min_input_size("alexnet_paper") == 67  # no conv1 padding
    assert min_input_size("vgg16") == 32  # five 2x2/2 pools
    assert min_input_size("resnet20") == 1
    assert min_input_size("densenet_bc100_k12") == 4  # two 2x2 average pools
    # Sec. 5: the auxiliary heads' 5x5/3 average pools need 4a's map to be 5 pixels.
    assert min_input_size("googlenet_paper", training=True) == 79
    assert min_input_size("googlenet_paper", training=True, aux_logits=False) == 31


@pytest.mark.parametrize("name", ["resnet20", "alexnet", "densenet121", "googlenet_paper"])
def test_default_classes_follow_the_dataset(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name)
    expected = 10 if model_info(name).dataset == "cifar10" else 1000
    assert model.num_classes == expected == model_info(name).num_classes


def test_list_models_sorts_naturally() -> None:
    assert list_models("resnet1*") == ["resnet18", "resnet101", "resnet110", "resnet152",
                                       "resnet1202"]  # fmt: skip
    assert list_models("densenet*k12") == ["densenet40_k12", "densenet100_k12",
                                           "densenet_bc40_k12", "densenet_bc100_k12"]  # fmt: skip


def test_options_come_from_the_builders_signature() -> None:
    assert model_info("resnet50").options == {
        "shortcut": "B", "stride_in_1x1": False, "preact": False, "zero_init_residual": False,
    }  # fmt: skip
    assert model_info("densenet121").options["init"] == "torchvision"
    assert model_info("densenet264").options["init"] == "paper"  # not a torchvision variant
    assert model_info("plain20").options == {"batch_norm": True, "init": "torchvision"}
    with pytest.raises(TypeError, match="needs a default"):
        register_model(
            name="bad", family="test", paper="-", year=2026, depth=1, input_size=(3, 8, 8),
            dataset="cifar10", num_classes=10,
        )(lambda num_classes, in_chans, width: None)  # fmt: skip


def test_every_model_is_a_function_of_its_name() -> None:
    """One ``def resnet50`` a variant (timm's and torchvision's style): grep finds it,
    tracebacks name it, and its signature lists the options it passes on."""
    for name in ZOO:
        builder, info = get_builder(name)
        assert builder.__name__ == name and builder.__module__.startswith("moderncnn.models.")
        assert list(inspect.signature(builder).parameters) == [
            "num_classes", "in_chans", *info.options,
        ]  # fmt: skip


def test_one_dropout_option_name() -> None:
    """Every family with dropout calls its option ``drop_rate`` (timm's name)."""
    with_dropout = {n for n in ZOO if "drop_rate" in model_info(n).options}
    families = {model_info(n).family for n in with_dropout}
    assert families == {"alexnet", "vgg", "googlenet", "densenet"}
    assert not any("dropout" in model_info(n).options for n in ZOO)
    drops = [m.p for m in create_model("vgg16", drop_rate=0.3).modules()
             if isinstance(m, nn.Dropout)]  # fmt: skip
    assert drops == [0.3, 0.3]
    assert create_model("googlenet_paper", drop_rate=0.1).dropout.p == 0.1
    assert create_model("alexnet_paper", drop_rate=0.2).classifier.drop6.p == 0.2


@pytest.mark.parametrize("name", ["alexnet", "alexnet_paper", "vgg11", "vgg11_cifar",
                                  "googlenet", "resnet20", "densenet40_k12"])  # fmt: skip
def test_head_api(name: str) -> None:
    """timm's head API on a declared classifier: get_classifier, head_hidden_size,
    forward_head(pre_logits=True), reset_classifier(n) and reset_classifier(0)."""
    model = create_model(name).eval()
    fc = model.get_classifier()
    assert isinstance(fc, nn.Linear) and fc.out_features == model.num_classes
    assert fc.in_features == model.head_hidden_size
    x = torch.randn(2, 3, _size(name), _size(name))
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
        assert feats.shape == (2, model.head_hidden_size)
        torch.testing.assert_close(fc(feats), model(x), rtol=0, atol=0)
    model.reset_classifier(5)
    assert model.num_classes == 5 and model.get_classifier().out_features == 5
    assert model(x).shape == (2, 5)
    assert model.get_classifier().weight.dtype == torch.float32
    model.reset_classifier(0)
    with torch.no_grad():
        torch.testing.assert_close(model(x), feats, rtol=0, atol=0)


def test_googlenet_declares_its_auxiliary_classifiers() -> None:
    """With 1024 classes the aux heads' fc1 (2048 -> 1024) looks like a classifier; the
    declared heads are fc, aux1.fc2 and aux2.fc2, and reset_classifier resizes all three."""
    model = create_model("googlenet", num_classes=1024, aux_logits=True)
    assert set(model.classifier_widths) == {"fc", "aux1.fc2", "aux2.fc2"}
    assert model.get_classifier() is model.fc
    model.reset_classifier(3)
    assert [o.shape for o in model.train()(torch.randn(2, 3, 64, 64))] == [(2, 3)] * 3


@pytest.mark.filterwarnings("ignore:NOTE. The nodes obtained by tracing:UserWarning")
@pytest.mark.parametrize("name", ZOO)
def test_symbolic_trace_and_feature_extraction(name: str) -> None:
    """torch.fx traces every model (the input check is one recorded call), and torchvision's
    create_feature_extractor returns the output of the declared classifier."""
    # The two deepest, freshly initialised, overflow in eval mode (600 residual additions at
    # BN's initial statistics): they are compared in training mode, on batch statistics.
    model = create_model(name).train(name in DEEPEST)
    x = torch.randn(2, 3, _size(name), _size(name))
    traced = symbolic_trace(model)
    classifier = next(iter(model.classifier_widths))
    extractor = create_feature_extractor(model, {classifier: "logits"})
    with torch.no_grad():
        expected = model(x)
        assert torch.isfinite(expected).all()
        torch.testing.assert_close(traced(x), expected, rtol=0, atol=0)
        torch.testing.assert_close(extractor(x)["logits"], expected, rtol=0, atol=0)
    with pytest.raises(InputShapeError, match="input channels"):  # the check survives tracing
        traced(torch.randn(1, 2, _size(name), _size(name)))


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # the input check's branches
@pytest.mark.parametrize("name", sorted(set(ZOO) - DEEPEST - LARGEST))  # for time, as timm
def test_torchscript_trace(name: str) -> None:
    """torch.jit.trace gives eager's output on every model, and the traced module scripts,
    saves and loads: what a libtorch deployment runs (timm and torchvision test this on
    every model; scripting the Python model is not supported, see docs/models.md)."""
    model = create_model(name).eval()
    x = torch.randn(2, 3, _size(name), _size(name))
    with torch.no_grad():
        expected = model(x)
        traced = torch.jit.trace(model, x)
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.script(traced), buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
        torch.testing.assert_close(traced(x), expected, rtol=0, atol=0)
        torch.testing.assert_close(loaded(x), expected, rtol=0, atol=0)
