"""Networks that train from the first step: He et al.'s initialisation for the ReLU networks
without BN and the spread of their activations at initialisation; local response
normalisation, faster, and what it does at a given input scale."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from conftest import n_params
from moderncnn import create_model, model_info
from moderncnn.errors import ModernCNNError
from moderncnn.inspect.signal import activation_spread, lrn_scale
from moderncnn.models.layers import LocalResponseNorm

HE = [("alexnet_cifar", {}), ("alexnet_fig1", {}), ("plain20", {"batch_norm": False})]


@pytest.mark.parametrize(("name", "options"), HE)
def test_he_init_is_normal_with_fan_in_and_zero_biases(name: str, options: dict) -> None:
    """init="he": every conv and linear weight ~ N(0, 2 / fan_in), every bias 0; the default
    stays the builder's, with the same parameters."""
    model = create_model(name, init="he", **options)
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    for m in layers:
        fan_in = m.weight[0].numel()
        assert m.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.15)
        assert m.bias is None or not m.bias.any()
    assert n_params(model) == n_params(create_model(name, **options))
    default = model_info(name).options["init"]
    assert default == ("torchvision" if name.startswith("plain") else "pytorch")
    with pytest.raises(ModernCNNError, match=f"init must be one of {default}, he, got 'x'"):
        create_model(name, init="x", **options)


def test_pytorch_default_is_kept_for_alexnet_cifar() -> None:
    """PyTorch's default: weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), so torchvision parity
    and earlier runs are unchanged."""
    for m in create_model("alexnet_cifar").modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            bound = 1 / math.sqrt(m.weight[0].numel())
            assert m.weight.abs().max() <= bound
            assert m.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.15)


@pytest.mark.parametrize("name", ["alexnet_cifar", "alexnet_fig1"])
def test_signal_vanishes_at_default_init_and_stays_under_he(name: str) -> None:
    """The spread (standard deviation) of each activation's output at initialisation, on
    inputs of unit variance (normalised images' scale), batch 64, seed 0. PyTorch's default
    init loses it layer after layer: alexnet_cifar at width 0.25 measured 0.324, 0.145,
    0.054, 0.023, 0.019 after conv1-5 (0.017, 0.013 after fc6, fc7; logits 0.018), falling
    more than 10-fold (alexnet_fig1: 0.32, 0.27, 0.084, logits 0.043). He's init keeps
    every spread within a factor 4 of every other (measured: at most 2.6 in seeds 0-2)."""
    options = {"width": 0.25} if name == "alexnet_cifar" else {}
    x = torch.randn(64, 3, 32, 32)
    default = activation_spread(create_model(name, **options), x)
    convs = [v for k, v in default.items() if k.startswith("features.")]
    assert convs == sorted(convs, reverse=True)  # falls at every conv
    assert convs[0] == pytest.approx(0.32, abs=0.02)
    assert default["logits"] < convs[0] / 5
    if name == "alexnet_cifar":
        assert convs[-1] < convs[0] / 10
    he = activation_spread(create_model(name, init="he", **options), x)
    assert list(he) == list(default) and len(he) == (8 if name == "alexnet_cifar" else 4)
    assert max(he.values()) / min(he.values()) < 4
    # conv1's output has variance 2 (fan_in x 2 / fan_in): after ReLU sqrt(1 - 1/pi) = 0.83,
    # a little less with the zero padding at the borders
    assert he["features.act1"] == pytest.approx(0.8, abs=0.05)


def test_activation_spread_names_every_call_of_a_shared_module() -> None:
    """A block's ReLU runs twice per forward: each call is a row, in order."""
    spread = activation_spread(create_model("plain20", batch_norm=False), torch.randn(4, 3, 32, 32))
    assert list(spread)[:4] == ["relu", "layer1.0.relu", "layer1.0.relu#2", "layer1.1.relu"]
    assert len(spread) == 19 + 1  # 19 convs with a ReLU each, then the logits


@pytest.mark.parametrize(
    ("size", "alpha", "beta", "k"),
    [(5, 5e-4, 0.75, 2.0), (3, 1e-4, 0.75, 1.0), (4, 1e-3, 0.5, 1.0)],
)
@pytest.mark.parametrize("channels", [3, 16])
@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_lrn_equals_pytorchs(size: int, alpha: float, beta: float, k: float, channels: int,
                             scale: float) -> None:  # fmt: skip
    """The same outputs and input gradients as nn.LocalResponseNorm (odd and even windows,
    fewer channels than the window, inputs where the sum of squares is negligible and where
    it is not), in both memory formats."""
    ours, theirs = (
        LocalResponseNorm(size, alpha, beta, k),
        nn.LocalResponseNorm(size, alpha, beta, k),
    )
    for layout in (torch.contiguous_format, torch.channels_last):
        x = (scale * torch.randn(2, channels, 7, 5)).relu().contiguous(memory_format=layout)
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        out_a, out_b = ours(a), theirs(b)
        torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-6)
        grad = torch.randn_like(out_a)
        out_a.backward(grad)
        out_b.backward(grad)
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)
    seq = torch.randn(2, channels, 9)  # 3-D: PyTorch's own code
    torch.testing.assert_close(ours(seq), theirs(seq))


@pytest.mark.parametrize("name", ["alexnet_paper", "alexnet_cifar", "vgg11_lrn", "googlenet_paper"])
def test_every_model_with_lrn_uses_the_fast_one(name: str) -> None:
    norms = [m for m in create_model(name).modules() if isinstance(m, nn.LocalResponseNorm)]
    assert norms and all(type(m) is LocalResponseNorm for m in norms)


def test_lrn_is_a_constant_scale_on_normalised_inputs() -> None:
    """AlexNet's constants (k=2, n=5, alpha=1e-4, beta=0.75) in alexnet_cifar at width 0.25:
    on inputs of unit scale every output is its input times 2^-0.75 = 0.5946 (to 1e-3); on
    inputs of the 0-255 scale of AlexNet's mean-subtracted pixels, LRN1 divides some
    activations by far more (1% of ratios below 0.5: measured 0.39 at PyTorch's init on
    CIFAR-10 test images, 0.14 at He's)."""
    model = create_model("alexnet_cifar", width=0.25)
    x = torch.randn(32, 3, 32, 32)
    constant = 2**-0.75
    for layer in lrn_scale(model, x).values():
        assert all(q == pytest.approx(constant, abs=1e-3) for q in layer.values())
    raw = lrn_scale(model, 64 * x)  # the pixels' spread: about 64 on 0-255
    assert list(raw) == ["features.norm1", "features.norm2"]
    assert raw["features.norm1"]["p1"] < 0.5 and raw["features.norm1"]["max"] <= constant
