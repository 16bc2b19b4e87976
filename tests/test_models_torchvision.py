"""Every torchvision-compatible variant equals torchvision's model: same parameter count and,
after loading torchvision's own state_dict from a saved .pth, the same eval-mode outputs."""

from __future__ import annotations

import logging

import pytest
import torch
import torchvision

from conftest import n_params
from moderncnn import create_model, list_models, model_info

TV_MODELS = [n for n in list_models() if model_info(n).torchvision]
#: Smallest convenient size per family (the networks are size-agnostic past their minimum).
SIZE = {"alexnet": 64, "vgg": 32, "googlenet": 64, "resnet": 64, "densenet": 64}


def test_every_torchvision_builder_is_covered() -> None:
    assert len(TV_MODELS) == 19  # alexnet, 8 vgg, googlenet, 5 resnet, 4 densenet
    assert set(TV_MODELS) >= {"alexnet", "vgg16_bn", "googlenet", "resnet152", "densenet161"}


@pytest.mark.parametrize("name", TV_MODELS)
def test_loads_torchvision_state_dict_with_equal_outputs(name: str, tmp_path) -> None:
    tv_name = model_info(name).torchvision
    kwargs = {"aux_logits": False, "init_weights": True} if tv_name == "googlenet" else {}
    ref = torchvision.models.get_model(tv_name, weights=None, **kwargs).eval()
    path = tmp_path / f"{tv_name}.pth"
    torch.save(ref.state_dict(), path)

    ours = create_model(name, weights=path).eval()
    assert n_params(ours) == n_params(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())  # names and order identical
    size = SIZE[model_info(name).family]
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


def test_googlenet_with_aux_heads_matches_torchvision(tmp_path, caplog) -> None:
    ref = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
    assert n_params(ref) == 13_004_888
    path = tmp_path / "googlenet.pth"
    torch.save(ref.state_dict(), path)

    ours = create_model("googlenet", aux_logits=True, weights=path)
    assert n_params(ours) == 13_004_888
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected_eval = ref.eval()(x)
    torch.manual_seed(1)
    out = ours.train()(x)
    torch.manual_seed(1)
    expected = ref.train()(x)
    for a, b in zip(out, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    # The same checkpoint into a model built without aux heads: loads, and says what it dropped.
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        plain = create_model("googlenet", weights=path).eval()
    assert "aux1, aux2" in caplog.text and "built without" in caplog.text
    with torch.no_grad():
        torch.testing.assert_close(plain(x), expected_eval, rtol=0, atol=0)


def test_googlenet_transform_input_matches_torchvision(tmp_path) -> None:
    ref = torchvision.models.googlenet(
        weights=None, aux_logits=False, init_weights=True, transform_input=True
    ).eval()
    path = tmp_path / "g.pth"
    torch.save(ref.state_dict(), path)
    ours = create_model("googlenet", transform_input=True, weights=path).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


def test_densenet_old_checkpoint_keys_are_mapped(tmp_path) -> None:
    """torchvision's published DenseNet files use 'norm.1' style keys and, older than torch
    0.4.1, have no BN step counters; they load unchanged."""
    ref = torchvision.models.densenet121(weights=None).eval()
    old = {}
    for k, v in ref.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        for part in ("norm1", "norm2", "conv1", "conv2", "relu1", "relu2"):
            if ".denselayer" in k and f".{part}." in k:
                k = k.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.")
        old[k] = v
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    path = tmp_path / "densenet121-old.pth"
    torch.save(old, path)
    ours = create_model("densenet121", weights=path).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


def test_fine_tuning_loads_all_but_the_classifier(tmp_path, caplog) -> None:
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, path)
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        ours = create_model("resnet18", num_classes=10, weights=path)
    assert "classifier not loaded (fc.weight, fc.bias)" in caplog.text
    assert "1000 classes, model has 10" in caplog.text
    torch.testing.assert_close(ours.conv1.weight, ref.conv1.weight, rtol=0, atol=0)
    torch.testing.assert_close(ours.layer4[1].bn2.running_var, ref.layer4[1].bn2.running_var)
    assert ours.fc.weight.shape == (10, 512)
