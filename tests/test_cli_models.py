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
    # Years and depths are not quantities: no thousands separators.
    resnet1202 = next(line for line in out.splitlines() if line.startswith("resnet1202 "))
    assert resnet1202.split()[2:4] == ["2015", "1202"]
    # GoogLeNet: Table 1's inference network, its training-only aux heads apart (Sec. 5).
    paper = next(line for line in out.splitlines() if line.startswith("googlenet_paper "))
    assert "6,998,552" in paper and "+6,379,728" in paper
    # Errors measured on another variant than the default carry a footnote saying which.
    r50 = next(line for line in out.splitlines() if line.startswith("resnet50 "))
    mark = r50.split()[-1]
    assert mark.startswith("[") and f"{mark} reported for another variant" in out
    assert "stride_in_1x1=True" in out and "shortcut='A'" in out


def test_models_json_with_pattern(capsys) -> None:
    assert main(["models", "densenet*k12", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [
        "densenet40_k12", "densenet100_k12", "densenet_bc40_k12", "densenet_bc100_k12"]  # fmt: skip
    assert [r["params"] for r in rows] == [1_019_722, 6_979_642, 176_122, 769_162]
    assert rows[2]["top1_error"] is None  # not in Table 2
    assert rows[0]["top1_error"] == 5.24 and rows[0]["year"] == 2016
    assert main(["models", "googlenet_paper", "--json"]) == 0
    (paper,) = json.loads(capsys.readouterr().out)
    assert (paper["params"], paper["aux_params"]) == (6_998_552, 6_379_728)
    assert main(["models", "resnet18", "--json"]) == 0
    assert "shortcut='A'" in json.loads(capsys.readouterr().out)[0]["error_variant"]


def test_models_no_match(capsys) -> None:
    assert main(["models", "lenet*"]) == 1
    assert "no model matches 'lenet*'" in capsys.readouterr().out
