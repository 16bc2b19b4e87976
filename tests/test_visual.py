"""The explorer page, class-activation maps and effective receptive fields: every registered
model at a small input, and what each of them computes checked on small networks."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from moderncnn import create_model, list_models, model_info
from moderncnn.cli import main
from moderncnn.errors import ModernCNNError
from moderncnn.inspect import build_meta, summarize
from moderncnn.inspect.cam import class_activation_maps, explain_images, plot_activation
from moderncnn.inspect.erf import effective_receptive_field, mass_radius
from moderncnn.inspect.pictures import RANDOM_WEIGHTS, load_network
from moderncnn.inspect.view import page_data, render
from moderncnn.models.weights import save_weights

pytest.importorskip("pytorch_grad_cam", reason="grad-cam is absent: pip install 'moderncnn[viz]'")

ZOO = [n for n in list_models() if model_info(n).family != "test"]  # tests register one


#: Fresh networks whose activations overflow in eval mode (BN's initial statistics do not
#: scale a thousand residual sums down): their last stages' gradients are not finite.
OVERFLOW = {"resnet1202", "preact_resnet1001"}


def small_size(name: str) -> int:
    """A small input the network takes: 16 pixels for the CIFAR networks, 32 for the ImageNet
    ones, or their minimum (the per-op work of the page's measurements, not the pixels,
    is what costs on the deep networks)."""
    info = model_info(name)
    return max(info.min_input_size or 1, 16 if info.dataset == "cifar10" else 32)


def write_image(path: Path, size: int = 40, seed: int = 0) -> Path:
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (size, size, 3), dtype=torch.uint8, generator=g)
    Image.fromarray(pixels.numpy()).save(path)
    return path


def _walk(nodes: list[dict]) -> dict[str, dict]:
    out = {}
    for n in nodes:
        out[n["name"]] = n
        out |= _walk(n["children"])
    return out


@pytest.mark.parametrize("name", ZOO)
def test_page_of_every_model(name: str, tmp_path: Path) -> None:
    """The page's data at a small input: the totals are the registry's and the summary's,
    one effective field per feature stage (within its theoretical field, which is the
    summary's), the image's top-5, feature maps and class-activation map."""
    s = small_size(name)
    model = create_model(name)
    image = write_image(tmp_path / "img.png")
    data = page_data(model, [image], input_size=(3, s, s), erf_samples=1)

    meta = summarize(name, (3, s, s), depth=0)
    assert data["facts"]["params"] == model_info(name).params == meta.params
    assert data["facts"]["macs"] == meta.macs
    assert data["facts"]["receptive_field"] == meta.to_dict()["receptive_field"]
    modules = _walk(data["tree"])
    roots = sum(n["params"] for n in data["tree"])
    assert roots == sum(p.numel() for p in model.parameters())  # auxiliary heads included
    assert data["growth"] and all(g["name"] in modules for g in data["growth"])

    assert [e["module"] for e in data["erf"]] == [s["module"] for s in model.feature_info]
    failed = [e["error"] for e in data["erf"] if "error" in e]
    if name in OVERFLOW:
        assert failed and all("not finite: the activations overflow" in e for e in failed)
    else:
        assert not failed
    for e in data["erf"]:
        if "error" in e:
            continue
        rf = modules[e["module"]]["receptive_field"]
        assert e["theoretical_size"] == (max(rf) if isinstance(rf, list) else rf)
        assert 1 <= e["effective_size"] <= e["theoretical_size"]
        assert e["effective_radius"] <= max(max(c, s - 1 - c) for c in e["centre"])
        assert e["map"].startswith("data:image/png;base64,")

    (result,) = data["images"]
    probs = [p for _, p in result["top5"]]
    assert len(probs) == min(5, model.num_classes)
    if None not in probs:  # OVERFLOW's logits may not be finite
        assert probs == sorted(probs, reverse=True) and result["cam_class"] == result["top5"][0][0]
    assert len(result["stages"]) == len(model.feature_info)
    assert result["cam_layer"] == model.cam_layer
    assert data["random"] and data["weights"] == RANDOM_WEIGHTS

    html = render(data)  # strict JSON: no NaN, no Infinity
    payload = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)
    assert json.loads(payload.group(1))["facts"] == json.loads(json.dumps(data["facts"]))
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # self-contained


CAM_LAYERS = {
    "resnet50": "layer4",
    "resnet20": "layer3",
    "preact_resnet164": "final_act",
    "googlenet": "inception5b",
    "googlenet_paper": "inception5b",
    "densenet121": "final_act",  # the ReLU of the final norm (norm5)
    "densenet_bc100_k12": "final_act",
    "vgg16": "features.30",  # the last max pool
    "alexnet": "features.12",
}


@pytest.mark.parametrize(("name", "layer"), CAM_LAYERS.items())
def test_default_target_layer_is_the_last_stage(name: str, layer: str) -> None:
    model, _ = build_meta(name)
    assert model.cam_layer == layer == model.feature_info[-1]["module"]


def test_grad_cam_is_the_gradient_weighted_sum_of_the_maps() -> None:
    """Grad-CAM (Selvaraju et al. Eq. 1-2) by hand on ResNet-20's layer3: channel weights the
    spatial mean of the class score's gradient, ReLU of the weighted sum, scaled to [0, 1]."""
    model = create_model("resnet20").eval()
    x = torch.randn(2, 3, 32, 32)
    maps, logits = class_activation_maps(model, x, classes=[3, 7])
    assert maps.shape == (2, 32, 32)

    kept = {}
    hook = model.layer3.register_forward_hook(lambda m, a, out: kept.setdefault("a", out))
    out = model(x)
    hook.remove()
    a = kept["a"]
    (g,) = torch.autograd.grad(out[0, 3] + out[1, 7], a)
    cam = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    cam = cam - cam.amin((1, 2), keepdim=True)
    cam = cam / (cam.amax((1, 2), keepdim=True) + 1e-7)
    torch.testing.assert_close(logits, out.detach())
    torch.testing.assert_close(torch.from_numpy(maps), cam.detach(), atol=2e-3, rtol=0)


def test_grad_cam_refuses_what_it_cannot_explain() -> None:
    model = create_model("resnet20")
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ModernCNNError, match=r"classes must be in 0\.\.9, got \[10\]"):
        class_activation_maps(model, x, classes=[10])
    with pytest.raises(ModernCNNError, match="no layer 'nope'; its feature stages: relu, layer1"):
        class_activation_maps(model, x, layer="nope")
    with pytest.raises(ModernCNNError, match="unknown method 'cam'; choose from gradcam"):
        class_activation_maps(model, x, method="cam")


def test_missing_grad_cam_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # import raises ImportError
    with pytest.raises(ModernCNNError, match=r"pip install 'moderncnn\[viz\]'"):
        class_activation_maps(create_model("resnet20"), torch.randn(1, 3, 32, 32))


def test_cam_picture_names_what_it_shows(tmp_path: Path) -> None:
    image = write_image(tmp_path / "cat.png", 48)
    model = create_model("googlenet_cifar")
    (result,) = explain_images(model, [image], method="gradcam++", class_index=2)
    assert (result.class_index, result.layer, result.method) == (2, "inception5b", "gradcam++")
    assert result.image.shape == (32, 32, 3) and result.map.shape == (32, 32)
    assert result.overlay().shape == (32, 32, 3)
    fig = plot_activation(result)
    texts = [fig.texts[0].get_text(), *(ax.get_title() for ax in fig.axes)]
    assert "googlenet_cifar" in texts[0] and RANDOM_WEIGHTS in texts[0]
    assert fig.texts[0].get_color() == "red"  # random weights say so, in red
    assert texts[1] == f"{tmp_path.name}/cat.png"
    assert texts[2] == f"Grad-CAM++ at inception5b\nclass 'class 2' (p={result.probability:.2f})"


def test_mass_radius() -> None:
    grad = torch.zeros(9, 9)
    grad[4, 4] = 1
    assert mass_radius(grad, (4, 4)) == 0
    grad[2:7, 2:7] = 1  # a 5x5 square: 24 of its 25 pixels lie beyond radius 0
    assert mass_radius(grad, (4, 4), share=1.0) == 2
    assert mass_radius(grad, (4, 4), share=9 / 25) == 1
    assert mass_radius(grad, (4.5, 4.5), share=1.0) == 2.5  # an even field's centre
    with pytest.raises(ModernCNNError, match=r"share must be in \(0, 1\]"):
        mass_radius(grad, (4, 4), share=0)


def test_erf_of_the_stem_is_its_kernel() -> None:
    """ResNet-20's stem is one 3x3 conv (then BN, ReLU): its centre unit's gradient covers
    exactly the 3x3 window, as its theoretical field."""
    f = effective_receptive_field(create_model("resnet20"), (3, 16, 16), stage=0, share=1.0)
    assert (f.module, f.theoretical_size, f.radius, f.size, f.centre) == ("relu", 3, 1, 3, (8, 8))
    nonzero = f.map.nonzero()
    assert nonzero.amin(0).tolist() == [7, 7] and nonzero.amax(0).tolist() == [9, 9]
    assert f.map.sum().item() == pytest.approx(1)


def test_erf_is_smaller_than_the_theoretical_field() -> None:
    """A fresh ResNet-20 on inputs larger than its field: all of the gradient lies in the
    theoretical field, and 95% of it in a square well inside it (Luo et al. Sec. 3)."""
    model = create_model("resnet20")
    whole = effective_receptive_field(model, (3, 96, 96), samples=4, share=1.0)
    assert whole.theoretical_size == 81 == summarize("resnet20", (3, 96, 96)).field.size
    assert whole.size <= whole.theoretical_size
    f = effective_receptive_field(model, (3, 96, 96), samples=4)
    assert f.size < 0.75 * f.theoretical_size
    again = effective_receptive_field(model, (3, 96, 96), samples=4)
    assert torch.equal(f.map, again.map)  # seeded inputs: the same map
    assert f"effective field {f.size:g} px" in str(f) and "theoretical 81 px" in str(f)


def test_erf_on_images_and_loaded_weights(tmp_path: Path) -> None:
    path = tmp_path / "r20.safetensors"
    save_weights(create_model("resnet20"), path)
    model = load_network("resnet20", path)
    images = torch.randn(3, 3, 32, 32)
    f = effective_receptive_field(model, inputs=images, stage=2)
    assert (f.weights, f.samples, f.inputs, f.input_size) == (str(path), 3, "image", (3, 32, 32))
    assert f.to_dict()["module"] == "layer2"


def test_fresh_network_is_drawn_from_its_seed() -> None:
    before = torch.random.get_rng_state()
    a, b = load_network("resnet20"), load_network("resnet20")
    c = load_network("resnet20", seed=1)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global generator untouched
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(tmp_path / "img.png")
    erf, cams, page = tmp_path / "erf.png", tmp_path / "cams", tmp_path / "p.html"
    argv = ["erf", "resnet20", "--input", "3x48x48", "--samples", "2", "-o", str(erf)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "resnet20 (random weights" in out and "theoretical 81 px" in out
    assert Image.open(erf).format == "PNG"

    assert main(["cam", "resnet20", str(image), "--class", "4", "-o", str(cams), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["class_index"], row["layer"]) == (4, "layer3")
    assert Path(row["png"]) == cams / f"{tmp_path.name}_img.gradcam.png"
    assert Path(row["png"]).is_file()

    argv = ["view", "resnet20", "--image", str(image), "--erf-samples", "1", "-o", str(page)]
    assert main(argv) == 0
    assert capsys.readouterr().out.endswith(f"{page}\n")
    assert 'id="data"' in page.read_text()
