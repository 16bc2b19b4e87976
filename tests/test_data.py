"""Data: layouts, the decode-once cache, unreadable files, the held-out split and the
on-device and per-paper augmentation."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torchvision.transforms import v2

from conftest import write_fake_cifar, write_image_folder
from moderncnn import progress
from moderncnn.data import LoaderOptions, cache, load_splits, make_loader
from moderncnn.data.augment import (
    AUGMENTATIONS,
    Lighting,
    augmentation,
    crop_flip,
    train_transform,
)
from moderncnn.data.sources import find_dataset, holdout
from moderncnn.data.stats import channel_stats
from moderncnn.errors import ConfigError, DataError
from moderncnn.train import TrainConfig


def _image_folder(root: Path, size: int, per_class: int = 6, bad: bool = True) -> Path:
    """train/ and test/ with two classes of ``size`` px PNGs, plus unreadable files."""
    write_image_folder(root, size, per_class)
    if bad:
        (root / "train" / "cat" / "broken.jpg").write_bytes(b"not a jpeg at all")
        (root / "train" / "dog" / "empty.png").write_bytes(b"")
    return root


def test_cifar_python_formats(tmp_path: Path) -> None:
    c10 = load_splits(write_fake_cifar(tmp_path / "a"), val_size=50, cache_dir=tmp_path)
    assert (len(c10.train), len(c10.val), len(c10.test)) == (350, 50, 100)
    assert c10.train.images.shape[1:] == (3, 32, 32) and c10.train.images.dtype == torch.uint8
    assert c10.classes[:2] == ["c0", "c1"] and c10.small
    c100 = load_splits(write_fake_cifar(tmp_path / "b", kind="cifar100"), val_size=0)
    assert len(c100.classes) == 100 and c100.val is None and int(c100.train.labels.max()) < 100
    # the folder itself, or its parent (as torchvision's root) are both recognised
    assert find_dataset(tmp_path / "a" / "cifar-10-batches-py").kind == "cifar10"


def test_missing_and_unknown_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist.*cifar-10-batches-py"):
        find_dataset(tmp_path / "nope")
    (tmp_path / "x" / "stuff").mkdir(parents=True)
    (tmp_path / "x" / "other").mkdir()
    with pytest.raises(DataError, match="no data set recognised.*ImageFolder.*--download"):
        find_dataset(tmp_path / "x")
    root = write_fake_cifar(tmp_path / "c")
    (root / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DataError, match="test_batch' is missing"):
        load_splits(root, val_size=0)


def test_holdout_is_fixed_and_disjoint() -> None:
    train, val = holdout(100, 20)
    again_train, again_val = holdout(100, 20)
    assert torch.equal(val, again_val) and torch.equal(train, again_train)
    assert len(set(train.tolist()) | set(val.tolist())) == 100
    with pytest.raises(DataError, match="cannot hold out"):
        holdout(10, 10)


def test_small_folder_decoded_once_bad_files_counted(tmp_path: Path, monkeypatch, caplog) -> None:
    root = _image_folder(tmp_path / "imgs", size=16)
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        splits = load_splits(root, val_size=2, cache_dir=tmp_path / "cache")
    assert "skipped 2 unreadable image files of 14" in caplog.text
    assert splits.small and splits.train.images.shape[1:] == (3, 16, 16)
    assert len(splits.train) + len(splits.val) == 12 and splits.classes == ["cat", "dog"]
    with pytest.raises(DataError, match=r"2 unreadable image files .*--strict"):
        load_splits(root, val_size=2, cache_dir=tmp_path / "cache", strict=True)

    decoded = []

    def still_unreadable(path):
        decoded.append(Path(path).name)
        raise OSError("unreadable")

    # second read: from the cache, trying again only the files it records as unreadable
    monkeypatch.setattr(cache, "read_image", still_unreadable)
    again = load_splits(root, val_size=2, cache_dir=tmp_path / "cache")
    assert torch.equal(again.train.images, splits.train.images)
    assert sorted(decoded) == ["broken.jpg", "empty.png"]
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2  # train and test


def test_decoding_progress_follows_the_progress_flag(tmp_path: Path, monkeypatch, capsys) -> None:
    """The decoding bars print a plain line an update into a log (interval 0 here), and
    nothing with ``progress=False`` (--no-progress)."""
    root = _image_folder(tmp_path / "imgs", size=16, bad=False)
    monkeypatch.setattr(progress, "INTERVAL_S", 0.0)
    load_splits(root, val_size=2, cache_dir=tmp_path / "quiet", progress=False)
    assert capsys.readouterr().err == ""
    load_splits(root, val_size=2, cache_dir=tmp_path / "shown")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines[::6]] == [
        "decoding imgs-train: 1/12 img (8%)",
        "decoding imgs-train: 7/12 img (58%)",
        "decoding imgs-test: 1/12 img (8%)",
        "decoding imgs-test: 7/12 img (58%)",
    ]
    assert len(lines) == 24


def test_log_progress_prints_a_line_every_interval(monkeypatch, capsys) -> None:
    """One line at most every INTERVAL_S (10) seconds: 35 updates a second apart give 3."""
    clock = iter(range(100))
    monkeypatch.setattr(progress, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    bar = progress.progress(range(35), total=35, desc="epoch 1/2", unit="batch")
    assert isinstance(bar, progress.LogProgress)
    bar.set_postfix(loss="1.234")
    assert list(bar) == list(range(35))
    assert capsys.readouterr().err.splitlines() == [
        "epoch 1/2: 10/35 batch (29%), 1.0 batch/s, loss=1.234",
        "epoch 1/2: 20/35 batch (57%), 1.0 batch/s, loss=1.234",
        "epoch 1/2: 30/35 batch (86%), 1.0 batch/s, loss=1.234",
    ]


def test_large_folder_uses_workers_and_skips_bad_files(tmp_path: Path, caplog) -> None:
    root = _image_folder(tmp_path / "big", size=80, per_class=3)
    splits = load_splits(root, val_size=0, cache_dir=tmp_path / "cache")
    assert not splits.small and len(splits.train.files) == 8
    files = LoaderOptions(crop=64, workers=0)
    loader = make_loader(splits, splits.train, 4, torch.device("cpu"), files, train=True,
                         augment="googlenet")  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        batches = list(loader)
    # the unreadable files are left out of their batches, not replaced by others
    assert {tuple(x.shape[1:]) for x, _ in batches} == {(3, 64, 64)}
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == [0, 0, 0, 1, 1, 1]
    assert "skipped 2 unreadable image files of 8" in caplog.text
    strict = make_loader(
        splits, splits.train, 8, torch.device("cpu"), dataclasses.replace(files, strict=True),
        train=True, augment="vgg",
    )  # fmt: skip
    with pytest.raises(DataError, match="unreadable"):
        list(strict)
    ten = make_loader(splits, splits.test, 4, torch.device("cpu"), files, ten_crop=True)
    assert next(iter(ten))[0].shape == (4, 10, 3, 64, 64)


def test_crop_flip_matches_reference() -> None:
    x = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    dx, dy = torch.tensor([0, 8, 3, 4, 1]), torch.tensor([8, 0, 5, 4, 2])
    flip = torch.tensor([False, True, False, True, True])
    out = crop_flip(x, dx, dy, flip, pad=4)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(5):
        ref = padded[i, :, dy[i] : dy[i] + 8, dx[i] : dx[i] + 8]
        assert torch.equal(out[i], ref.flip(2) if flip[i] else ref)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_tensor_loader_shards_a_global_batch(fake_cifar: Path) -> None:
    """Two ranks together see exactly the augmented batch of one process."""
    splits = load_splits(fake_cifar, val_size=0)
    cpu = torch.device("cpu")
    one = make_loader(
        splits, splits.train, 32, cpu, LoaderOptions(seed=3), train=True, augment="cifar"
    )
    ranks = [
        make_loader(splits, splits.train, 32, cpu, rank, train=True, augment="cifar")
        for rank in (LoaderOptions(seed=3, rank=r, world=2) for r in (0, 1))
    ]
    for loader in (one, *ranks):
        loader.set_epoch(2)
    for (x, y), (x0, y0), (x1, y1) in zip(one, *ranks, strict=True):
        assert torch.equal(x, torch.cat([x0, x1])) and torch.equal(y, torch.cat([y0, y1]))
    assert abs(float(x.mean())) < 1  # normalised


def test_the_normalisation_is_chosen_where_the_data_is_read(fake_cifar: Path) -> None:
    """The training split's statistics by default; a (mean, std) given to load_splits (a
    pretrained network's) instead, and the loaders normalise with what it chose."""
    own = load_splits(fake_cifar, val_size=0, test=False)
    assert (own.mean, own.std) == channel_stats(own.train.images)
    given = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    theirs = load_splits(fake_cifar, val_size=0, test=False, normalisation=given)
    assert (theirs.mean, theirs.std) == given
    x, _ = next(iter(make_loader(theirs, theirs.train, 8, torch.device("cpu"))))
    mean, std = (torch.tensor(v)[:, None, None] for v in given)
    assert torch.allclose(x, (theirs.train.images[:8] / 255 - mean) / std, atol=1e-5)


def test_paper_transforms() -> None:
    img = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8)
    for augment in ("alexnet", "vgg", "googlenet", "resnet_imagenet", "fb_resnet", "none"):
        assert train_transform(augment, 224)(img).shape == (3, 224, 224)
    torch.manual_seed(0)
    x = torch.full((3, 4, 4), 0.5)
    shifts = torch.stack([(Lighting(0.1)(x) - x)[:, 0, 0] for _ in range(500)])
    assert shifts.std(0).max() < 0.1 and shifts.std(0).max() > 0.005  # a small colour shift
    assert torch.allclose(shifts.mean(0), torch.zeros(3), atol=0.01)


def test_fb_resnet_augmentation_for_densenet() -> None:
    """Huang et al. 2017, Sec. 4.1 adopts fb.resnet.torch's augmentation (datasets/
    imagenet.lua): RandomSizedCrop(224), ColorJitter 0.4, Lighting(0.1), normalise, flip."""
    steps = train_transform("fb_resnet", 224).transforms
    assert [type(t) for t in steps] == [
        v2.RandomResizedCrop,
        v2.RandomHorizontalFlip,
        v2.ToDtype,
        v2.ColorJitter,
        Lighting,
        v2.Normalize,
    ]
    crop, jitter, lighting = steps[0], steps[3], steps[4]
    assert (crop.size, crop.scale, crop.ratio) == ((224, 224), (0.08, 1.0), (3 / 4, 4 / 3))
    assert crop.interpolation == v2.InterpolationMode.BICUBIC  # image.scale(..., 'bicubic')
    assert jitter.brightness == jitter.contrast == jitter.saturation == (0.6, 1.4)
    assert jitter.hue is None and lighting.std == 0.1


def test_augmentation_table_is_the_one_list() -> None:
    """The config's choices, the loaders' checks and the pipelines all come from AUGMENTATIONS."""
    choices = {f.name: f.metadata["choices"] for f in dataclasses.fields(TrainConfig)}
    assert choices["augment"] == tuple(AUGMENTATIONS)
    small = ["cifar", "cifar_altflip", "airbench", "flip", "none", "finetune"]
    assert [n for n, a in AUGMENTATIONS.items() if a.small] == small
    assert [n for n, a in AUGMENTATIONS.items() if a.large] == [
        "none", "alexnet", "vgg", "googlenet", "resnet_imagenet", "fb_resnet", "finetune"
    ]  # fmt: skip
    assert augmentation("cifar", small=True).pad == 4 and not augmentation("none", True).flip
    with pytest.raises(
        ConfigError, match="not for small images.*one of cifar, cifar_altflip, airbench, flip, no"
    ):
        augmentation("fb_resnet", small=True)
    with pytest.raises(ConfigError, match="not for large images.*use one of none, alexnet"):
        train_transform("cifar", 224)
    with pytest.raises(ConfigError, match="'nope' is not for large images"):
        train_transform("nope", 224)
