"""Every registered model: forward at a small size, finite outputs, a gradient for every
parameter, and ``num_classes`` / ``in_chans`` honoured."""

from __future__ import annotations

import pytest
import torch

from moderncnn import create_model, list_models, model_info
from moderncnn.models.registry import min_input_size


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_with_custom_classes_and_channels(name: str) -> None:
    model = create_model(name, num_classes=7, in_chans=2).train()
    size = max(min_input_size(name, 2), 32 if model_info(name).dataset == "cifar10" else 64)
    x = torch.randn(2, 2, size, size)
    out = model(x)
    outputs = out if isinstance(out, tuple) else (out,)  # GoogLeNet's auxiliary heads
    for o in outputs:
        assert o.shape == (2, 7)
        assert torch.isfinite(o).all()
    sum(o.square().mean() for o in outputs).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"


@pytest.mark.parametrize("name", ["resnet20", "alexnet", "densenet121", "googlenet_paper"])
def test_default_classes_follow_the_dataset(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name)
    expected = 10 if model_info(name).dataset == "cifar10" else 1000
    assert model.num_classes == expected == model_info(name).num_classes


def test_min_input_sizes() -> None:
    """The smallest accepted inputs follow from each stem's strides and the last fixed pool."""
    assert min_input_size("alexnet") == 63  # conv1 11/4 p2 then three 3x3/2 max pools
    assert min_input_size("alexnet_paper") == 67  # no conv1 padding
    assert min_input_size("vgg16") == 32  # five 2x2/2 pools
    assert min_input_size("resnet20") == 1
    assert min_input_size("densenet_bc100_k12") == 4  # two 2x2 average pools
    assert min_input_size("googlenet_paper") > min_input_size("googlenet_paper", aux_logits=False)
