"""The checks of user-given values (:mod:`moderncnn.validate`), as the library, recipes and the
command line (argparse types) all use them."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
import torch

from moderncnn.cli.types import POSITIVE, output
from moderncnn.errors import ConfigError, ModernCNNError
from moderncnn.io import check_writable
from moderncnn.train.config import resolve_config
from moderncnn.validate import (
    existing_file,
    fraction,
    integer,
    number,
    output_file,
    parse_device,
)


def test_counts() -> None:
    assert integer("0", "limit") == 0 and integer(7, "batch_size", minimum=1) == 7
    with pytest.raises(ConfigError, match=r"^limit must be 0 or more, got -3$"):
        integer(-3, "limit")
    with pytest.raises(ConfigError, match=r"^batch_size must be 1 or more, got 0$"):
        integer("0", "batch_size", minimum=1)
    with pytest.raises(ConfigError, match=r"^must be an integer, got '1.5'$"):
        integer("1.5")


def test_numbers_and_fractions() -> None:
    assert number(0.0, "weight_decay") == 0.0 and number(1e-9, "lr", inclusive=False) == 1e-9
    with pytest.raises(ConfigError, match=r"^gamma must be a number > 0, got 0$"):
        number(0, "gamma", inclusive=False)
    for bad in (math.nan, math.inf, -1e-9):
        with pytest.raises(ConfigError, match="weight_decay must be a number >= 0"):
            number(bad, "weight_decay")
    assert fraction(0.0, "momentum") == 0.0 and fraction(0.999, "momentum") == 0.999
    for bad in (1.0, 1.5, -0.1, math.nan):
        with pytest.raises(ConfigError, match=r"label_smoothing must be in \[0, 1\)"):
            fraction(bad, "label_smoothing")


def test_devices() -> None:
    assert parse_device("cpu") == torch.device("cpu")
    assert parse_device("").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("bogus", "cpu:x", "meta", "cuda:-1"):
        with pytest.raises(ConfigError, match=f"^device must be cpu, cuda or cuda:N .*'{bad}'"):
            parse_device(bad, here=False)
    assert parse_device("cuda:7", here=False) == torch.device("cuda", 7)  # a saved run's
    gpus = torch.cuda.device_count()
    with pytest.raises(ConfigError, match=f"^device 'cuda:{gpus}': torch sees .* here; use cpu"):
        parse_device(f"cuda:{gpus}")


def test_paths(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "d.png").mkdir()
    assert output_file(tmp_path / "new" / "e.PNG", ".png") == tmp_path / "new" / "e.PNG"
    check_writable(tmp_path / "runs" / "a")
    assert existing_file(tmp_path / "file") == tmp_path / "file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "file"]  # nothing made
    cases = [
        (lambda: output_file("e.txt", ".png", "-o"), "-o must be a .png file, got 'e.txt'"),
        (lambda: output_file(tmp_path / "d.png", ".png"), "is a folder; give a file name ending"),
        (lambda: output_file(tmp_path / "file" / "e.png", ".png"), "'file/e.png': 'file' is a"),
        (lambda: check_writable(tmp_path / "file"), "cannot write 'file': it is a file, not a"),
        (lambda: check_writable(tmp_path / "file" / "r"), "'file/r': 'file' is a file, not a"),
        (lambda: existing_file(tmp_path / "no", "weights file"), "weights file '.*no' does not"),
        (lambda: existing_file(tmp_path / "d.png"), "is a folder; give a file"),
    ]
    for call, message in cases:
        message = message.replace("'file", f"'{tmp_path}/file")
        with pytest.raises(ModernCNNError, match=message):
            call()


def test_argparse_types_name_the_flag() -> None:
    assert POSITIVE("3") == 3 and output(".png")("a.png") == Path("a.png")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be 1 or more, got 0$"):
        POSITIVE("0")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\), got 1.0"),
        ({"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
        ({"gamma": 0.0}, "gamma must be a number > 0, got 0.0"),
        ({"lr": math.nan}, "lr must be a number > 0, got nan"),
        ({"weight_decay": -1e-4}, "weight_decay must be a number >= 0, got -0.0001"),
        ({"limit": -3}, "limit must be 0 or more, got -3"),
        ({"workers": -1}, "workers must be 0 or more, got -1"),
        ({"epochs": -1, "iterations": 0}, "epochs must be 0 or more, got -1"),
        ({"milestones": [5, 2]}, r"milestones must increase from above 0, got \[5.0, 2.0\]"),
        ({"milestones": [0, 2]}, "milestones must increase from above 0"),
        ({"milestone_unit": "fraction", "milestones": [0.5, 1]}, "unit fraction .* below 1"),
        ({"nesterov": True, "momentum": 0.0}, "nesterov needs momentum > 0"),
        ({"device": "bogus"}, "device must be cpu, cuda or cuda:N"),
    ],
)
def test_recipe_values_are_checked(overrides: dict, message: str) -> None:
    """The rules hold for values from recipes and the library, not only from flags."""
    with pytest.raises(ConfigError, match=message):
        resolve_config("resnet20", data_dir="x", **overrides)


def test_recipe_edges_are_accepted() -> None:
    cfg = resolve_config(
        "resnet20", data_dir="x", momentum=0.0, label_smoothing=0.0, limit=0, device="cuda:3"
    )  # cuda:3 may be on the machine that trains: checked there
    assert (cfg.momentum, cfg.nesterov, cfg.device) == (0.0, False, "cuda:3")
