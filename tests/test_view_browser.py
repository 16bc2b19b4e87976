"""The explorer page in a real browser: headless Chromium (Debian's ``chromium`` package)
loads the page of one network of each family, and the test checks that it rendered (the
page's script finished, no console message, the expected elements present) and takes a
screenshot. Skips where Chromium is absent; ``.ci/run`` does not install it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image

from moderncnn import create_model
from moderncnn.inspect.view import page_data, render, write_view

pytest.importorskip("pytorch_grad_cam", reason="grad-cam is absent: pip install 'moderncnn[viz]'")
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is absent (apt-get install chromium): the browser test needs it",
)

#: One network of each family, at CIFAR's size.
FAMILIES = ["alexnet_cifar", "vgg11_cifar", "googlenet_cifar", "resnet20", "densenet_bc40_k12"]
#: A block of the paper's kind each page must draw.
BLOCKS = {
    "googlenet_cifar": "kind-inception",
    "resnet20": "kind-residual",
    "densenet_bc40_k12": "kind-dense",
}


def chromium(page: Path, *flags: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``page`` (root needs --no-sandbox; a private profile)."""
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    argv += [f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0"]
    return subprocess.run(
        [*argv, *flags, page.as_uri()], capture_output=True, text=True, timeout=180, check=True
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_page_renders_in_chromium(name: str, tmp_path: Path) -> None:
    pixels = torch.randint(0, 256, (36, 36, 3), dtype=torch.uint8)
    Image.fromarray(pixels.numpy()).save(tmp_path / "img.png")
    model = create_model(name)
    page = write_view(model, tmp_path / "page.html", [tmp_path / "img.png"], erf_samples=1)

    run = chromium(page, "--dump-dom", tmp=tmp_path)
    dom = run.stdout
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console  # the page logs nothing: no error, no warning
    assert re.search(r'<body[^>]* data-rendered="yes"', dom) and '<pre class="js-error">' not in dom
    assert '<h1 id="title">' + name + "</h1>" in dom
    assert 'id="random-banner"' in dom  # fresh weights say so
    for element in ('id="facts-table"', 'id="growth-chart"', 'class="image-result"'):
        assert dom.count(element) == 1, element
    stages = len(model.feature_info)
    assert dom.count('class="erf-point"') == stages  # one effective field per stage
    assert dom.count('alt="feature maps of ') == stages
    assert len(re.findall(r'<ol class="top5">(?:<li>[^<]*</li>){5}</ol>', dom)) == 1
    blocks = re.findall(r'<details class="block kind-([a-z-]+)" data-name="', dom)
    assert len(blocks) == sum(1 for n, _ in model.named_modules() if n)  # every module
    if name in BLOCKS:
        assert BLOCKS[name] in dom

    shot = tmp_path / "page.png"
    chromium(page, f"--screenshot={shot}", "--window-size=1280,1600", tmp=tmp_path)
    with Image.open(shot) as img:
        assert img.size == (1280, 1600)
        lo, hi = img.convert("L").getextrema()
        assert hi - lo > 100  # not a blank page


def test_page_shows_why_a_stage_was_not_measured(tmp_path: Path) -> None:
    """A stage whose effective field could not be measured (see test_visual's OVERFLOW)
    shows its reason in place of the map and the point."""
    data = page_data(create_model("resnet20"), input_size=(3, 16, 16), erf_samples=1)
    error = {"stage": 3, "module": "layer3", "error": "the gradient's mass is nan"}
    data["erf"][-1] = error | {"order": data["erf"][-1]["order"]}  # as page_data gives it
    page = tmp_path / "page.html"
    page.write_text(render(data), encoding="utf-8")
    run = chromium(page, "--dump-dom", tmp=tmp_path)
    assert not [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert re.search(r'<body[^>]* data-rendered="yes"', run.stdout)
    assert run.stdout.count('class="erf-point"') == 3
    assert "stage 3 layer3: the gradient's mass is nan" in run.stdout
