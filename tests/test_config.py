"""A training configuration reads back as it was written: as config.toml (a run's, read on
resume) and as a ``moderncnn train`` command line (an experiment's runs), for every recipe and
every experiment run at every budget. Nothing trains and no data is read."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any

import pytest

from moderncnn.cli import build_parser
from moderncnn.cli.train_cmd import config_of
from moderncnn.errors import ConfigError
from moderncnn.experiments import EXPERIMENTS, LEVELS, plan
from moderncnn.experiments.runner import train_command
from moderncnn.train import TrainConfig, load_run_config, resolve_config
from moderncnn.train.config import config_from, list_recipes
from moderncnn.train.flags import FLAGS
from moderncnn.train.options import conforms

PARSER = build_parser(["train"])


def _parsed(command: str) -> TrainConfig:
    """The configuration ``moderncnn train`` makes of ``command``."""
    argv = shlex.split(command)
    assert argv[:2] == ["moderncnn", "train"]
    return config_of(PARSER.parse_args(argv[1:]))


def _saved(cfg: TrainConfig, run: Path) -> TrainConfig:
    """``cfg`` written as a run's config.toml and read back as ``--resume`` reads it."""
    run.mkdir(exist_ok=True)
    (run / "config.toml").write_text(cfg.to_toml())
    return load_run_config(run)


@pytest.mark.parametrize("recipe", list_recipes())
def test_every_recipe_reads_back_from_toml_and_flags(recipe: str, tmp_path: Path) -> None:
    weights = tmp_path / "w.pth"  # a file: --weights checks that it exists (finetune needs it)
    weights.touch()
    cfg = resolve_config(
        "resnet20",
        recipe,
        data_dir=str(tmp_path / "my data"),  # a space: quoted in the command
        weights=str(weights),
        model_kwargs={"shortcut": "B", "preact": True},
    )
    assert _saved(cfg, tmp_path / "run") == cfg
    values = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("model", "recipe")}
    assert _parsed(train_command(cfg.model, cfg.recipe, values)) == cfg


def test_every_experiment_run_is_its_command(tmp_path: Path) -> None:
    """Each run of each experiment at each budget, its learning rate from a grid or chosen."""
    count = 0
    for exp in EXPERIMENTS.values():
        chosen = {arm: arm.lrs[-1] for arm in exp.arms if arm.lrs}
        for level in LEVELS:
            for lrs in ({}, chosen) if chosen else ({},):
                for run in plan(exp, level, "my data", tmp_path, lrs=lrs):
                    assert _parsed(run.command) == run.config, run.command
                    assert _saved(run.config, tmp_path / "run") == run.config
                    count += 1
    assert count > 100


def test_table_words_parse_back() -> None:
    """A string that TOML would read as another type is written quoted; one it would not, as
    it is (shortcut=B)."""
    table: dict[str, Any] = {"shortcut": "B", "name": "true", "n": "3", "lrn": False, "w": 0.5}
    words = FLAGS["model_kwargs"].write(table)
    assert words == ["--model-kwargs", "shortcut=B", 'name="true"', 'n="3"', "lrn=false", "w=0.5"]
    assert PARSER.parse_args(["train", "x", *words]).model_kwargs == table
    with pytest.raises(ConfigError, match="an empty table has no flag"):
        FLAGS["model_kwargs"].write({})


def test_values_are_checked_against_the_resolved_types() -> None:
    assert conforms(None, int | None) and conforms(3, int | None) and not conforms("3", int | None)
    assert conforms([1, 2.5], list[float]) and not conforms([True], list[float])
    assert conforms({"a": [1]}, dict[str, Any]) and not conforms(True, float)
    with pytest.raises(ConfigError, match=r"milestones must be list\[float\], got \['a'\]"):
        config_from({"model": "resnet20", "data_dir": "x", "milestones": ["a"]}, "test")
    with pytest.raises(ConfigError, match="epochs must be int, got 2.5"):
        config_from({"model": "resnet20", "data_dir": "x", "epochs": 2.5}, "test")
