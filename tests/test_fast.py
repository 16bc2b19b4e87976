"""The inference fast path stays within stated tolerances of the fp32 eager model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import SHARED_DATA, randomise_bn
from moderncnn import create_model
from moderncnn.fast import bf16_supported, fold_conv_bn, prepare_for_inference


@pytest.mark.parametrize(
    ("name", "size", "bn_left"),
    [("resnet18", 64, 0), ("googlenet", 64, 0), ("vgg11_bn", 32, 0), ("resnet20", 32, 0),
     ("densenet_bc100_k12", 32, 51), ("resnet18_preact", 64, None)],
)  # fmt: skip
def test_fp32_fast_path_within_1e_4_of_the_logit_range(name: str, size: int, bn_left) -> None:
    options = {"preact": True} if name.endswith("_preact") else {}
    model = randomise_bn(create_model(name.removesuffix("_preact"), **options))
    fast = prepare_for_inference(model, dtype=torch.float32, example=torch.randn(1, 3, size, size))
    remaining = sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    if bn_left is not None:  # DenseNet's BNs come before their convs (BN-ReLU-conv): kept
        assert remaining == bn_left
    x = torch.randn(4, 3, size, size)
    with torch.no_grad():
        ref, out = model(x), fast(x)
    assert (out - ref).abs().max() <= 1e-4 * (ref.max() - ref.min())


def test_folding_needs_eval_mode_and_leaves_no_bn_in_resnet() -> None:
    model = create_model("resnet20")
    with pytest.raises(ValueError, match="eval-mode"):
        fold_conv_bn(model, torch.randn(1, 3, 32, 32))
    assert fold_conv_bn(model.eval(), torch.randn(1, 3, 32, 32)) == 19 + 0  # 19 convs, option A


@pytest.mark.native_bf16
def test_prepare_keeps_the_original_and_checks_input() -> None:
    model = create_model("resnet20").eval()
    fast = prepare_for_inference(model, dtype=torch.bfloat16 if bf16_supported() else "float32")
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # a copy was changed
    with pytest.raises(ValueError, match="expects 3 input channels"):
        fast(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="dtype must be"):
        prepare_for_inference(model, dtype=torch.int8)


@pytest.mark.parametrize("name", ["alexnet_cifar", "vgg11_lrn"])
def test_bf16_path_runs_layers_without_bf16_kernels_in_fp32(name: str) -> None:
    """LRN has no bf16 CPU kernel: the fast path runs it in fp32 and casts back."""
    model = create_model(name).eval()
    fast = prepare_for_inference(model, dtype=torch.bfloat16)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
    cosine = torch.nn.functional.cosine_similarity(ref, fast(x), dim=1)
    assert cosine.min() > 0.99


def _imagenet_sample() -> torch.Tensor:
    from PIL import Image
    from torchvision.transforms import v2

    folder = SHARED_DATA / "imagenet-sample"
    if not folder.is_dir():
        pytest.skip(f"needs the ImageNet sample photos in {folder} (../shared beside the repo)")
    tf = v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(256, antialias=True),
            v2.CenterCrop(224),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    files = sorted(folder.glob("*.JPEG"))
    assert len(files) == 100
    return torch.stack([tf(Image.open(f).convert("RGB")) for f in files])


@pytest.fixture(scope="module")
def imagenet_sample() -> torch.Tensor:
    return _imagenet_sample()


@pytest.mark.native_bf16
@pytest.mark.skipif(not bf16_supported(), reason="this CPU has no native bfloat16 support")
@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_bf16_agrees_with_fp32_on_imagenet_photos(name: str, imagenet_sample) -> None:
    """The issue's bar: cosine >= 0.999 and top-1 agreement >= 99% on the 100 photos, with
    the weights of a seeded model. A random network's top-1 margins are far smaller than a
    trained one's, so this is the harder case; VGG-16's random logits still spread over 12
    classes, ResNet-50's over 2 (a random GoogLeNet predicts one class for every photo, which
    makes agreement meaningless, so it is not used here)."""
    torch.manual_seed(0)
    model = create_model(name).eval()
    fast = prepare_for_inference(model, dtype=torch.bfloat16)
    with torch.no_grad():
        ref, out = model(imagenet_sample), fast(imagenet_sample)
    cosine = torch.nn.functional.cosine_similarity(ref, out, dim=1)
    assert cosine.min() >= 0.999
    assert (ref.argmax(1) == out.argmax(1)).float().mean() >= 0.99


def test_compiled_fast_path_matches_eager() -> None:
    """Inductor with freezing (weights as constants) keeps the fp32 tolerance."""
    model = randomise_bn(create_model("resnet20"))
    fast = prepare_for_inference(model, dtype=torch.float32, compile=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
    out = fast(x)
    assert (out - ref).abs().max() <= 1e-4 * (ref.max() - ref.min())
    with pytest.raises(ValueError, match="expects 3 input channels"):
        fast(torch.randn(2, 1, 32, 32))
