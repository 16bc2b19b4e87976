"""``moderncnn models``: the zoo as a table and as JSON."""

from __future__ import annotations

import json

from moderncnn import list_models
from moderncnn.cli import main


def test_models_table(capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "25,557,032" in out
    assert "alexnet_paper" in out and "60,965,224" in out
    assert f"{len(list_models())} models" in out


def test_models_json_with_pattern(capsys) -> None:
    assert main(["models", "densenet*k12", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["densenet100_k12", "densenet40_k12", "densenet_bc100_k12"]
    assert [r["params"] for r in rows] == [6_979_642, 1_019_722, 769_162]
    assert rows[1]["top1_error"] == 5.24 and rows[1]["year"] == 2016


def test_models_no_match(capsys) -> None:
    assert main(["models", "lenet*"]) == 1
    assert "no model matches 'lenet*'" in capsys.readouterr().out
