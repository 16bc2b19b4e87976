"""The lecture's claims as experiments: the catalogue is complete and valid at every budget,
the verdict rules and metrics compute what they say, and every experiment runs end to end at
the smoke budget (results.json, figure, verdict, report), reusing and resuming runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from moderncnn.cli import main
from moderncnn.errors import ConfigError
from moderncnn.experiments import EXPERIMENTS, LEVELS, VERDICTS, plan, run_experiment
from moderncnn.experiments.catalog import NOISE_FLOOR, combine, lower, steps_to
from moderncnn.experiments.report import paper_images, write_report
from moderncnn.experiments.runner import arm_options
from moderncnn.experiments.spec import ArmResult, SeedRun
from moderncnn.inspect import count_params

REQUIRED = {
    "relu_vs_tanh", "alexnet_ablations", "stacked_3x3", "one_by_one", "degradation",
    "residual_options", "batch_norm", "dense_vs_residual", "families", "filters",
}  # fmt: skip


def test_catalogue_is_complete_and_valid_at_every_budget(tmp_path: Path) -> None:
    """The ten experiments of the lecture, each with the three budgets; every arm's model and
    options build, and every run's configuration resolves and is checked."""
    assert set(EXPERIMENTS) >= REQUIRED
    for exp in EXPERIMENTS.values():
        assert set(exp.budgets) == set(LEVELS), exp.name
        assert exp.claim and exp.source and exp.paper
        for level in LEVELS:
            for arm in exp.arms:
                count_params(arm.model, **arm_options(arm, exp.budgets[level]))
            runs = plan(exp, level, tmp_path / "data", tmp_path / "out", device="cpu")
            assert len(runs) == len(exp.arms) * exp.budgets[level].seeds
            for run in runs:
                assert run.command.startswith(f"moderncnn train {run.arm.model} --recipe ")
                assert f"--output {run.config.output}" in run.command
        assert len(paper_images(exp)) == len(exp.arms) and min(paper_images(exp)) > 0


def test_identical_arms_share_a_run(tmp_path: Path) -> None:
    """ResNet-20 of the degradation experiment is the same run as in residual_options
    (shortcut A) and dense_vs_residual: one directory, trained once."""

    def run_dir(name: str, label: str) -> str:
        runs = plan(EXPERIMENTS[name], "quick", tmp_path, tmp_path / "out")
        return next(r.config.output for r in runs if r.arm.label == label)

    shared = run_dir("degradation", "ResNet-20")
    assert run_dir("dense_vs_residual", "ResNet-20") == shared
    assert run_dir("residual_options", "A: zero padding") == shared
    assert run_dir("residual_options", "C: all projections") != shared
    one, two = plan(EXPERIMENTS["degradation"], "quick", tmp_path, tmp_path / "o", seeds=2)[:2]
    assert one.config.seed == 0 and two.config.seed == 1
    assert one.config.output != two.config.output


def test_plan_errors(tmp_path: Path) -> None:
    exp = EXPERIMENTS["degradation"]
    with pytest.raises(ConfigError, match="pass --data-dir"):
        plan(exp, "quick", "")
    with pytest.raises(ConfigError, match="budget must be one of smoke, quick, paper"):
        plan(exp, "huge", tmp_path)
    with pytest.raises(ConfigError, match="seeds must be 1 or more, got 0"):
        plan(exp, "quick", tmp_path, seeds=0)
    assert main(["experiment", "run", "nope", "--data-dir", str(tmp_path)]) == 2


def _arm(label: str, values: list[float], params: int = 1) -> ArmResult:
    return ArmResult(label, "m", {}, "", params, 1, values=values)


def test_verdict_rules() -> None:
    """Differences count beyond twice the seed spread, or beyond the noise floor with one
    seed; the direction decides supported / not supported."""
    assert lower(_arm("a", [10.0]), _arm("b", [10.0 + NOISE_FLOOR + 0.1]))[0] == "supported"
    assert lower(_arm("a", [10.0]), _arm("b", [10.5]))[0] == "inconclusive"
    assert lower(_arm("a", [12.0]), _arm("b", [10.0]))[0] == "not supported"
    # two seeds: spreads 0.71, so 1.2 points is within twice the spread (1.41)
    status, text = lower(_arm("a", [10.0, 11.0]), _arm("b", [11.2, 12.2]))
    assert status == "inconclusive" and "twice the largest spread over 2 seeds" in text
    assert lower(_arm("a", [10.0, 10.2]), _arm("b", [13.0, 13.2]))[0] == "supported"
    assert lower(_arm("a", []), _arm("b", [1.0]))[0] == "inconclusive"
    parts = [("supported", "x"), ("inconclusive", "y")]
    assert combine(parts).status == "partly supported"
    assert combine([("supported", "x")] * 2).status == "supported"
    assert combine([("not supported", "x"), ("inconclusive", "y")]).status == "not supported"
    assert combine([("inconclusive", "y")]).status == "inconclusive"


def test_steps_to_threshold_interpolates() -> None:
    run = SeedRun(0, "", "")
    run.curve = [
        {"epoch": 1, "step": 100, "train_err": 50.0},
        {"epoch": 2, "step": 200, "train_err": 20.0},
    ]
    assert steps_to(25.0)(run) == pytest.approx(100 + 100 * (50 - 25) / 30)
    assert steps_to(60.0)(run) == pytest.approx(100 * 30 / 40)  # from 90% at step 0
    assert steps_to(10.0)(run) is None


@pytest.fixture(scope="module")
def smoke(fake_cifar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every experiment at the smoke budget, once for the module."""
    out = tmp_path_factory.mktemp("experiments")
    assert main(["experiment", "run", "all", "--budget", "smoke", "--data-dir",
                 str(fake_cifar), "--out", str(out)]) == 0  # fmt: skip
    return out


def test_every_experiment_runs_at_smoke(smoke: Path) -> None:
    for name, exp in EXPERIMENTS.items():
        r = json.loads((smoke / "smoke" / name / "results.json").read_text())
        assert r["verdict"]["status"] in VERDICTS, name
        assert r["figure"] == f"{name}.png" and (smoke / "smoke" / name / r["figure"]).is_file()
        assert [a["label"] for a in r["arms"]] == [a.label for a in exp.arms]
        for a in r["arms"]:
            assert a["params"] > 0 and a["macs"] > 0
            assert all(run["curve"] or run["diverged"] for run in a["runs"])
        assert r["machine"]["torch"] and r["command"].startswith("moderncnn experiment run")
    families = json.loads((smoke / "smoke" / "families" / "results.json").read_text())
    assert all(a["latency_ms"] > 0 for a in families["arms"])
    quiz = json.loads((smoke / "smoke" / "one_by_one" / "results.json").read_text())["extra"]
    assert quiz["fewest_parameters"] == "googlenet_paper"
    assert quiz["quiz"]["alexnet_paper"]["params"] == 60_965_224


def test_finished_runs_are_reused_and_killed_ones_resume(
    smoke: Path, fake_cifar: Path, monkeypatch
) -> None:
    """A second run trains nothing; a run whose results are gone (killed after its last
    checkpoint) resumes from the checkpoint instead of starting over."""
    from moderncnn.experiments import runner

    exp = EXPERIMENTS["degradation"]
    calls = []
    real = runner.train
    monkeypatch.setattr(
        runner, "train", lambda cfg, resume, **kw: calls.append(resume) or real(cfg, resume, **kw)
    )
    first = run_experiment(exp, "smoke", fake_cifar, smoke)
    assert calls == []
    killed = Path(first["arms"][0]["runs"][0]["run_dir"])
    (killed / "results.json").unlink()
    again = run_experiment(exp, "smoke", fake_cifar, smoke)
    assert calls == [True]
    assert again["arms"][0]["runs"][0]["test_err"] == first["arms"][0]["runs"][0]["test_err"]


def test_report(smoke: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    discussion = tmp_path / "docs" / "lecture-discussion.toml"
    discussion.write_text('filters = "Edges, as in Figure 3."\n')
    out = write_report(smoke, "smoke", tmp_path / "docs" / "lecture.md")
    text = out.read_text()
    assert "**Discussion.** Edges, as in Figure 3." in text
    for i, name in enumerate(EXPERIMENTS, 1):
        assert f"## {i}. {name}" in text
        assert (tmp_path / "docs" / "lecture" / f"{name}.png").is_file()
        assert f"![{name}](lecture/{name}.png)" in text
    assert "moderncnn experiment run relu_vs_tanh --budget smoke" in text
    assert " nan" not in text and "NaN" not in text
    partial = tmp_path / "partial"
    shutil.copytree(smoke / "smoke" / "filters", partial / "smoke" / "filters")
    text = write_report(partial, "smoke", tmp_path / "p.md").read_text()
    assert "Not run at the smoke budget yet." in text
    discussion.write_text('nope = "x"\n')
    with pytest.raises(ConfigError, match="unknown: \\['nope'\\]"):
        write_report(smoke, "smoke", tmp_path / "docs" / "lecture.md")


def test_list_command(capsys) -> None:
    assert main(["experiment", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {e["name"] for e in listed} == set(EXPERIMENTS)
    assert all(e["budgets"] == list(LEVELS) for e in listed)
    assert main(["experiment", "run", "degradation", "--dry-run", "--data-dir", "d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(line.startswith("moderncnn train ") for line in lines)
