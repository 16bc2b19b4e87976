"""Hostile image files (truncated, empty, not images, CMYK, 16-bit, RGBA, palette, WebP, one
pixel, extreme aspect) through the small-image pipeline, the large-image loader and ``eval``."""

from __future__ import annotations

import itertools
import logging
import multiprocessing.util
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import moderncnn
import tiny_model  # noqa: F401  (registers tiny_test_net)
from conftest import write_image_folder
from moderncnn.cli import main
from moderncnn.data import LoaderOptions, cache, load_splits, make_loader
from moderncnn.errors import DataError

#: Files that cannot be read: skipped and counted, never replaced by another.
UNREADABLE = ("truncated.jpg", "zero-byte.png", "not-an-image.jpg")
#: Files far from the size or aspect of the others: read, and resized with a warning.
FAR = ("one-pixel.png", "extreme-aspect.png")
#: Files in other modes and formats, and the mean RGB colour they must decode to.
COLOURS = {
    "cmyk.jpg": (200, 30, 90),
    "grey16.png": (78, 78, 78),  # 20000 / 65535 of white
    "rgba.png": (127, 127, 255),  # blue at half opacity over white
    "palette.png": (10, 200, 60),
    "lossless.webp": (50, 100, 150),
}


def write_hostile(folder: Path, size: int) -> None:
    """The hostile files, in ``folder``; the readable ones but two ``size`` pixels square."""
    folder.mkdir(parents=True, exist_ok=True)

    def solid(rgb: tuple[int, int, int]) -> Image.Image:
        return Image.fromarray(np.full((size, size, 3), rgb, dtype=np.uint8))

    solid(COLOURS["cmyk.jpg"]).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    Image.fromarray(np.full((size, size), 20000, dtype=np.uint16)).save(folder / "grey16.png")
    rgba = np.dstack([np.full((size, size, 3), (0, 0, 255)), np.full((size, size), 128)])
    Image.fromarray(rgba.astype(np.uint8)).save(folder / "rgba.png")
    solid(COLOURS["palette.png"]).quantize(2).save(folder / "palette.png")
    solid(COLOURS["lossless.webp"]).save(folder / "lossless.webp", lossless=True)
    Image.new("RGB", (1, 1), (255, 0, 0)).save(folder / "one-pixel.png")
    Image.new("RGB", (size * 2, max(1, size // 16)), (0, 255, 0)).save(
        folder / "extreme-aspect.png"
    )
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "truncated.jpg")
    data = (folder / "truncated.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "zero-byte.png").write_bytes(b"")
    (folder / "not-an-image.jpg").write_text("a text file named like a JPEG\n")


def _folder(root: Path, size: int, split: str = "train") -> Path:
    """``split``/cat and /dog with four ``size`` px PNGs each, and the hostile files in
    ``split``/odd."""
    write_image_folder(root, size, per_class=4, splits=(split,))
    write_hostile(root / split / "odd", size)
    return root


def _odd_colours(images: torch.Tensor) -> list[list[float]]:
    """Mean RGB (0-255) of the images decoded from the files of :data:`COLOURS`, out of the
    odd class's readable files in name order."""
    readable = sorted([*FAR, *COLOURS])
    return [images[readable.index(n)].float().mean((1, 2)).tolist() for n in COLOURS]


def _near(colours: list[list[float]], tolerance: float) -> bool:
    return all(
        abs(a - b) <= tolerance
        for got, want in zip(colours, COLOURS.values(), strict=True)
        for a, b in zip(got, want, strict=True)
    )


def test_hostile_files_through_the_small_image_pipeline(tmp_path: Path, caplog) -> None:
    """Unreadable files skipped and counted; other modes decoded to their colours; the one
    pixel and the extreme aspect resized with a warning naming them; the rest keep 32x32."""
    root = _folder(tmp_path / "small", 32)
    for attempt in ("decoded", "from the cache"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="moderncnn"):
            splits = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
        assert splits.small, attempt
        assert splits.train.images.shape == (15, 3, 32, 32)
        assert splits.train.labels.bincount().tolist() == [4, 4, 7]
        assert "skipped 3 unreadable image files of 18 in small-train" in caplog.text
        odd = root / "train" / "odd"
        assert (
            f"resized 2 of 15 images in small-train to 32x32 (their size differs), e.g. "
            f"{odd / 'extreme-aspect.png'} (64x2), {odd / 'one-pixel.png'} (1x1)"
        ) in caplog.text
    assert _near(_odd_colours(splits.train.images[8:]), tolerance=1)
    loader = make_loader(splits, splits.train, 5, torch.device("cpu"), train=True, augment="cifar")
    assert [len(y) for _, y in loader] == [5, 5, 5]


def test_hostile_files_through_the_large_image_loader(tmp_path: Path, caplog) -> None:
    """Training: every unreadable file skipped and reported, even though the engine stops
    reading the loader after its last batch; evaluation: none replaced by another file."""
    root = _folder(tmp_path / "large", 96)
    splits = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
    assert not splits.small and len(splits.train) == 18
    cpu, files = torch.device("cpu"), LoaderOptions(crop=32, workers=0)
    train = make_loader(splits, splits.train, 6, cpu, files, train=True)
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        batches = list(itertools.islice(train, len(train)))  # as the training engine reads
    assert len(batches) == 3 and sum(len(y) for _, y in batches) == 15
    assert torch.cat([y for _, y in batches]).bincount().tolist() == [4, 4, 7]
    assert "skipped 3 unreadable image files of 18 in this epoch" in caplog.text
    assert (
        "2 of 15 images in this epoch are far smaller than the 32-pixel crop or far from "
        "square (over 4x)"
    ) in caplog.text
    assert "one-pixel.png (1x1)" in caplog.text and "extreme-aspect.png (192x6)" in caplog.text

    test = make_loader(splits, splits.train, 18, cpu, files)
    ((x, y),) = list(test)
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 7
    mean, std = torch.tensor(splits.mean)[:, None, None], torch.tensor(splits.std)[:, None, None]
    assert _near(_odd_colours((x[8:] * std + mean) * 255), tolerance=4)


@pytest.mark.parametrize("size", [32, 96])
def test_hostile_files_through_eval(size: int, tmp_path: Path, capsys, caplog) -> None:
    """A model that always says 'dog' scores 4 of the 15 readable images: no unreadable file
    counted, none replaced by its neighbour; no decoding bar with --no-progress."""
    root = _folder(tmp_path / "data", size, split="test")
    model = moderncnn.create_model("tiny_test_net", num_classes=3)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    torch.save(model.state_dict(), tmp_path / "dog.pth")
    args = ["eval", "tiny_test_net", "--weights", str(tmp_path / "dog.pth"), "--data-dir",
            str(root), "--cache-dir", str(tmp_path / "cache"), "--no-progress",
            "--workers", "0"]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        assert main(args) == 0
    out, err = capsys.readouterr()
    assert "(15 images, centre crop)" in out and "decoding" not in err
    assert [line.split()[:2] for line in out.splitlines()[-3:]] == [
        ["cat", "4"],
        ["dog", "4"],
        ["odd", "7"],
    ]
    assert "skipped 3 unreadable image files of 18" in caplog.text
    assert "one-pixel.png (1x1)" in caplog.text


def test_small_or_large_is_judged_from_the_whole_data_set(tmp_path: Path, caplog) -> None:
    """A thumbnail first in a folder of photos makes no thumbnails of them; a photo among
    thumbnails, or a thumbnail of another size first, is resized with a warning naming it."""
    photos = write_image_folder(tmp_path / "photos", 80, per_class=3)
    write_image_folder(tmp_path / "thumb", 16, per_class=1, splits=("train",), classes=("cat",))
    (tmp_path / "thumb" / "train" / "cat" / "0.png").rename(photos / "train" / "cat" / "!.png")
    splits = load_splits(photos, val_size=0, cache_dir=tmp_path / "cache")
    assert not splits.small and len(splits.train.files) == 7
    assert not list((tmp_path / "cache").glob("*"))  # nothing decoded to a small size

    mixed = write_image_folder(tmp_path / "mixed", 32, per_class=3)
    (photos / "train" / "cat" / "0.png").rename(mixed / "train" / "dog" / "9.png")
    (photos / "train" / "cat" / "!.png").rename(mixed / "train" / "cat" / "!.png")
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        splits = load_splits(mixed, val_size=0, cache_dir=tmp_path / "cache")
    assert splits.small and splits.train.images.shape == (8, 3, 32, 32)
    train = mixed / "train"
    assert (
        f"resized 2 of 8 images in mixed-train to 32x32 (their size differs), e.g. "
        f"{train / 'cat' / '!.png'} (16x16), {train / 'dog' / '9.png'} (80x80)"
    ) in caplog.text


def test_a_run_of_unreadable_files_is_skipped(tmp_path: Path, caplog) -> None:
    """Twelve unreadable files in a row: each skipped and counted, no abort; batches left
    empty are not yielded, except in distributed training, where that is an error (the other
    ranks would wait for this one's gradients)."""
    root = write_image_folder(tmp_path / "data", 80, per_class=2, splits=("train",))
    for i in range(12):
        (root / "train" / "cat" / f"bad{i:02}.jpg").write_bytes(b"")
    splits = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
    files = LoaderOptions(crop=32, workers=0)
    loader = make_loader(splits, splits.train, 4, torch.device("cpu"), files)
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        assert [y.tolist() for _, y in loader] == [[0, 0], [1, 1]]
    assert "skipped 12 unreadable image files of 16 in this evaluation" in caplog.text
    ddp = make_loader(splits, splits.train, 4, torch.device("cpu"),
                      LoaderOptions(crop=32, workers=0, world=2), train=True)  # fmt: skip
    with pytest.raises(DataError, match="every file of a training batch is unreadable"):
        list(ddp)


def test_a_failing_worker_leaves_no_temporary_folder(tmp_path: Path, monkeypatch) -> None:
    """Workers killed after a failure run no clean-up: they must use this process's
    multiprocessing temporary folder (removed at its exit), not ``pymp-*`` folders of their
    own."""
    root = write_image_folder(tmp_path / "data", 80, per_class=8, splits=("train",))
    splits = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
    failing = splits.train.files[-1]

    def fail_on_one(path: str) -> torch.Tensor | str:
        if path == failing:
            raise RuntimeError("a bug in a worker")
        return torch.zeros(3, 80, 80, dtype=torch.uint8)

    monkeypatch.setattr("moderncnn.data.folder_loader.try_decode", fail_on_one)
    before = set(Path(tempfile.gettempdir()).glob("pymp-*"))
    loader = make_loader(splits, splits.train, 2, torch.device("cpu"), LoaderOptions(crop=32))
    with pytest.raises(RuntimeError, match="a bug in a worker"):
        list(loader)
    del loader
    left = set(Path(tempfile.gettempdir()).glob("pymp-*")) - before
    assert left <= {Path(multiprocessing.util.get_temp_dir())}


def test_a_file_unreadable_once_is_read_when_it_can_be(tmp_path: Path, monkeypatch, caplog) -> None:
    """A file that could not be read (its permissions, say; simulated, as root reads
    anything) is retried from the cache, and the cache rebuilt once it reads."""
    root = write_image_folder(tmp_path / "data", 16, per_class=3, splits=("train",))
    locked = str(root / "train" / "dog" / "1.png")
    read_image = cache.read_image

    def denied(path: str, *args) -> torch.Tensor:
        if path == locked:
            raise PermissionError(13, "Permission denied", path)
        return read_image(path, *args)

    monkeypatch.setattr(cache, "read_image", denied)
    first = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
    assert len(first.train) == 5
    monkeypatch.undo()  # chmod a+r: the size and modification time do not change
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        again = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
    assert len(again.train) == 6 and again.train.labels.tolist() == [0, 0, 0, 1, 1, 1]
    (stale,) = list((tmp_path / "cache").glob("*.pt"))
    assert (
        f"decode cache {stale} is stale: 1 of the files it records as unreadable can now be "
        f"read, e.g. {locked}; rebuilding it"
    ) in caplog.text


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "is unreadable (RuntimeError: "),
        (lambda p: torch.save({"images": torch.zeros(2, 3, 4, 4)}, p), "is unreadable (KeyError"),
        (
            lambda p: torch.save(
                {
                    "images": torch.zeros(2, 3, 16, 16, dtype=torch.uint8),
                    "labels": torch.zeros(2, dtype=torch.int64),
                    "bad": [],
                    "resized": [],
                },
                p,
            ),
            "does not match its files (6 readable of 6)",
        ),
    ],  # fmt: skip
    ids=["truncated", "other-content", "other-images"],
)
def test_a_damaged_cache_file_is_named_and_rebuilt(
    damage, problem: str, tmp_path: Path, caplog
) -> None:
    root = write_image_folder(tmp_path / "data", 16, per_class=3, splits=("train",))
    first = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
    (path,) = list((tmp_path / "cache").glob("*.pt"))
    damage(path)
    with caplog.at_level(logging.WARNING, logger="moderncnn"):
        again = load_splits(root, val_size=0, test=False, cache_dir=tmp_path / "cache")
    assert f"decode cache {path} {problem}" in caplog.text and "rebuilding it" in caplog.text
    assert torch.equal(again.train.images, first.train.images)
    assert torch.equal(torch.load(path, weights_only=True)["images"], first.train.images)


def test_a_cache_path_that_is_a_file_is_one_line(tmp_path: Path, capsys) -> None:
    root = write_image_folder(tmp_path / "data", 16, per_class=2, splits=("train", "test"))
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a folder")
    for cache_dir in (blocker, blocker / "below"):
        args = ["train", "tiny_test_net", "--data-dir", str(root), "--cache-dir", str(cache_dir),
                "--output", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"moderncnn train: error: cannot write the decode cache in {str(cache_dir)!r}: "
            f"{str(blocker)!r} is a file; give --cache-dir (or $MODERNCNN_CACHE) a writable folder"
        ]
