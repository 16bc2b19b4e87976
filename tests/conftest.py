"""Shared fixtures. Tests run on the CPU with small inputs and fixed seeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _fp32_path() -> Iterator[None]:
    """Precision 'auto' takes its fp32 path in every test (``$MODERNCNN_NO_BF16``), so a test
    computes alike on machines with and without native bf16. Set for the whole session, so
    that module-scoped fixtures that train (the experiments at smoke) take it too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODERNCNN_NO_BF16", "1")
        yield


@pytest.fixture(autouse=True)
def _native_bf16(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of the bf16 path are marked ``native_bf16`` and see the machine as it is."""
    if "native_bf16" in request.keywords:
        monkeypatch.delenv("MODERNCNN_NO_BF16", raising=False)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def randomise_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and affine parameters (eval mode), so that folding has
    something to fold."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
    return model.eval()


def input_dependent(model: nn.Module) -> nn.Module:
    """:func:`randomise_bn`, and Kaiming-normal convs and linears: logits that vary with the
    input (the papers' N(0, 0.01) initialisations, AlexNet's and GoogLeNet's, give logits
    that barely do), so that agreement on them means something."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2 / fan_in) ** 0.5)
    return randomise_bn(model)


# -- data for the training tests (tests/test_data*.py, test_train*.py, test_ddp*.py) ---------


def write_fake_cifar(root: Path, n_train: int = 400, n_test: int = 100, kind: str = "cifar10"):
    """A CIFAR python-format folder of random images whose class is visible in the colour
    (so a few steps learn something); ``kind`` 'cifar10' or 'cifar100'."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    classes = 10 if kind == "cifar10" else 100
    key = b"labels" if kind == "cifar10" else b"fine_labels"

    def batch(n: int) -> dict:
        y = rng.integers(0, classes, n)
        x = rng.integers(0, 60, (n, 3, 32, 32)).astype(np.uint8)
        x[np.arange(n), y % 3] += (120 + 10 * (y // 3) % 130).astype(np.uint8)[:, None, None]
        return {b"data": x.reshape(n, -1), key: y.tolist()}

    folder = root / ("cifar-10-batches-py" if kind == "cifar10" else "cifar-100-python")
    folder.mkdir(parents=True)
    names = [f"c{i}".encode() for i in range(classes)]
    if kind == "cifar10":
        files = {f"data_batch_{i}": batch(n_train // 5) for i in range(1, 6)}
        files |= {"test_batch": batch(n_test), "batches.meta": {b"label_names": names}}
    else:
        files = {
            "train": batch(n_train),
            "test": batch(n_test),
            "meta": {b"fine_label_names": names},
        }
    for name, obj in files.items():
        with open(folder / name, "wb") as f:
            pickle.dump(obj, f)
    return root


def write_image_folder(
    root: Path,
    size: int,
    per_class: int = 6,
    splits: tuple[str, ...] = ("train", "test"),
    classes: tuple[str, ...] = ("cat", "dog"),
) -> Path:
    """An ImageFolder tree: ``splits``/``classes``/ each with ``per_class`` random PNGs of
    ``size`` x ``size`` pixels."""
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for split in splits:
        for c in classes:
            folder = root / split / c
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = torch.randint(0, 256, (size, size, 3), dtype=torch.uint8, generator=g)
                Image.fromarray(img.numpy()).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def fake_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_cifar(tmp_path_factory.mktemp("fake_cifar"))


@pytest.fixture(scope="session")
def cifar10_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared CIFAR-10 JPEG folder, unpacked once per session."""
    import tarfile

    archive = SHARED_DATA / "cifar10-jpeg.tar.gz"
    if not archive.is_file():
        pytest.skip(f"real CIFAR-10 not available: {archive} is absent (../shared beside the repo)")
    dest = tmp_path_factory.mktemp("cifar10_jpeg")
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "cifar10"
