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
from moderncnn.experiments import EXPERIMENTS, LEVELS, plan, run_experiment
from moderncnn.experiments.budgets import ARCH_ITERATIONS
from moderncnn.experiments.measures import TEST_ERROR, steps_to
from moderncnn.experiments.report import paper_images, write_report
from moderncnn.experiments.runner import arm_options, best_lr
from moderncnn.experiments.spec import NO_VERDICT, REGIMES, Arm, ArmResult, SeedRun
from moderncnn.experiments.verdicts import (
    Equivalent,
    Faster,
    Fewer,
    Lower,
    NoWorse,
    arms_of,
    combine,
    judge,
    seeds_needed,
    t_interval,
)
from moderncnn.inspect import count_params
from moderncnn.train import resolve_config, train

REQUIRED = {
    "relu_vs_tanh", "alexnet_ablations", "stacked_3x3", "one_by_one", "degradation",
    "residual_options", "batch_norm", "dense_vs_residual", "families", "filters",
}  # fmt: skip


def test_catalogue_is_complete_and_valid_at_every_budget(tmp_path: Path) -> None:
    """The ten experiments of the lecture, each with the three budgets and a regime; every
    part of a claim compares arms of its own experiment (objects, not labels); every arm's
    model and options build, and every run's configuration resolves and is checked. An arm
    with a learning-rate grid plans its grid first."""
    assert set(EXPERIMENTS) >= REQUIRED
    for exp in EXPERIMENTS.values():
        assert set(exp.budgets) == set(LEVELS), exp.name
        assert exp.claim and exp.source and exp.paper and exp.design
        assert exp.regime in REGIMES
        for part in exp.parts:
            assert all(any(a is b for b in exp.arms) for a in arms_of(part)), exp.name
        for level in LEVELS:
            budget = exp.budgets[level]
            for arm in exp.arms:
                count_params(arm.model, **arm_options(arm, budget))
            runs = plan(exp, level, tmp_path / "data", tmp_path / "out", device="cpu")
            trained = [a for a in exp.arms if a.group not in budget.skip]
            assert len(runs) == sum(len(a.lrs) or budget.seeds for a in trained)
            for run in runs:
                assert run.command.startswith(f"moderncnn train {run.arm.model} --recipe ")
                assert f"--output {run.config.output}" in run.command
                assert run.grid == bool(run.arm.lrs)
        assert len(paper_images(exp)) == len(exp.arms) and min(paper_images(exp)) > 0
    assert EXPERIMENTS["stacked_3x3"].budgets["quick"].seeds == 5  # effect under 2 points


def test_identical_arms_share_a_run(tmp_path: Path) -> None:
    """Arms that are the same network trained the same way are one run: ResNet-20 in four
    experiments, AlexNet on the full data in three (its ablations, the families, the
    filters). Seeds are different runs."""

    def run_dir(name: str, label: str) -> str:
        runs = plan(EXPERIMENTS[name], "quick", tmp_path, tmp_path / "out")
        return next(r.config.output for r in runs if r.arm.label == label)

    shared = run_dir("dense_vs_residual", "ResNet-20")
    assert run_dir("residual_options", "ResNet-20") == shared
    assert run_dir("families", "ResNet-20") == shared
    assert run_dir("degradation", "ResNet-20") == shared  # equal iterations and schedule
    assert run_dir("residual_options", "C: all projections") != shared
    alexnet = run_dir("families", "AlexNet")
    assert run_dir("alexnet_ablations", "AlexNet") == alexnet == run_dir("filters", "AlexNet")
    assert run_dir("alexnet_ablations", "dropout + augmentation") != alexnet  # 5,000 images
    one, two = plan(EXPERIMENTS["degradation"], "quick", tmp_path, tmp_path / "o", seeds=2)[:2]
    assert one.config.seed == 0 and two.config.seed == 1
    assert one.config.output != two.config.output


def test_regimes_are_what_the_catalogue_declares(tmp_path: Path) -> None:
    """Regularisation on a 5,000-image subset for 30 epochs; architecture and optimisation
    on all the data with equal iterations and batch for every arm; one_by_one at equal
    parameters (within 3%); He initialisation where ReLU networks have no BN."""
    exp = EXPERIMENTS["alexnet_ablations"]
    runs = {r.arm.label: r.config for r in plan(exp, "quick", tmp_path, tmp_path / "o")}
    assert (runs["no dropout"].limit, runs["no dropout"].epochs) == (5000, 30)
    assert runs["no dropout"].drop_rate == 0 and runs["no augmentation"].augment == "none"
    assert runs["no LRN"].limit == 0 and runs["no LRN"].iterations == ARCH_ITERATIONS
    assert runs["no LRN"].model_kwargs == {"width": 0.25, "init": "he", "lrn": False}
    for name in ("stacked_3x3", "one_by_one", "dense_vs_residual", "degradation"):
        configs = [r.config for r in plan(EXPERIMENTS[name], "quick", tmp_path, tmp_path)]
        assert {(c.iterations, c.batch_size, c.schedule, c.limit) for c in configs} == {
            (configs[0].iterations, 128, "onecycle", 0)
        }, name
    quick = EXPERIMENTS["one_by_one"].budgets["quick"]
    counts = [
        count_params(a.model, **arm_options(a, quick)) for a in EXPERIMENTS["one_by_one"].arms
    ]
    assert counts == [(372_578, 0), (380_718, 0)]
    relu = plan(EXPERIMENTS["relu_vs_tanh"], "quick", tmp_path, tmp_path)
    assert {(r.config.stop_error, r.config.schedule, r.config.lr) for r in relu} == {
        (25.0, "constant", lr) for lr in (0.02, 0.04, 0.07)
    }


def test_plan_errors(tmp_path: Path) -> None:
    exp = EXPERIMENTS["degradation"]
    with pytest.raises(ConfigError, match="pass --data-dir"):
        plan(exp, "quick", "")
    with pytest.raises(ConfigError, match="budget must be one of smoke, quick, paper"):
        plan(exp, "huge", tmp_path)
    with pytest.raises(ConfigError, match="seeds must be 1 or more, got 0"):
        plan(exp, "quick", tmp_path, seeds=0)
    assert main(["experiment", "run", "nope", "--data-dir", str(tmp_path)]) == 2


def test_forced_precision_is_its_own_run(tmp_path: Path, capsys) -> None:
    """``--amp none`` (the fp32 path of a CPU without native bf16) puts fp32 in every run's
    configuration and command, and in directories of its own: the default runs (``auto``,
    bf16 where native) are not reused for it."""
    exp = EXPERIMENTS["stacked_3x3"]
    default = plan(exp, "quick", tmp_path, tmp_path)
    fp32 = plan(exp, "quick", tmp_path, tmp_path, amp="none")
    assert {r.config.amp for r in default} == {"auto"}
    assert {r.config.amp for r in fp32} == {"none"}
    assert not {r.config.output for r in default} & {r.config.output for r in fp32}
    assert all("--amp none" in r.command for r in fp32)
    args = ["experiment", "run", "stacked_3x3", "--data-dir", str(tmp_path), "--out", str(tmp_path)]
    assert main([*args, "--dry-run", "--amp", "none"]) == 0
    assert capsys.readouterr().out.splitlines() == [r.command for r in fp32]


def _arm(label: str, by_seed: dict[int, float], params: int = 1, macs: int = 1) -> ArmResult:
    return ArmResult(label, "m", {}, "", params, macs, by_seed=by_seed)


def _judge(part: object, **arms: ArmResult) -> dict:
    """Judge ``part`` on results given by its arms' field names."""
    return part.judge({getattr(part, k): v for k, v in arms.items()}, "%")


def test_t_interval_is_students() -> None:
    """Mean 2, sample sd 1 over 3 values: half-width t(0.975, 2) / sqrt(3) = 2.4841."""
    ci = t_interval([1.0, 2.0, 3.0])
    assert (ci.mean, ci.n) == (2.0, 3)
    assert ci.high - ci.mean == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    assert t_interval([5.0]) is None


def test_verdicts_from_paired_intervals() -> None:
    """A consistent 1-point gain in 3 of 3 seeds is supported (the old rule called it
    inconclusive), a gain that changes sign is inconclusive, a consistent loss is not
    supported; a missing seed is left out of the pairing."""
    a, b = Arm("a", "m"), Arm("b", "m")
    lower = Lower(better=a, worse=b)
    good = _arm("a", {0: 10.0, 1: 10.5, 2: 11.0})
    assert (
        _judge(lower, better=good, worse=_arm("b", {0: 11.0, 1: 11.6, 2: 12.1}))["status"]
        == "supported"
    )
    mixed = _judge(lower, better=good, worse=_arm("b", {0: 12.0, 1: 9.5, 2: 11.5}))
    assert mixed["status"] == "inconclusive" and mixed["interval"]["low"] < 0
    assert (
        _judge(lower, better=good, worse=_arm("b", {0: 9.0, 1: 9.4, 2: 10.1}))["status"]
        == "not supported"
    )
    one = _judge(lower, better=good, worse=_arm("b", {0: 11.0, 5: 12.0}))
    assert one["status"] == "inconclusive" and "2 needed" not in one["text"]
    assert one["interval"] is None
    # no loss within 1 point: [0.1, 0.2, 0.3] worse is inside; [2, 2.2, 2.1] is beyond
    no_worse = NoWorse(arm=a, reference=b, margin=1.0)
    ref = _arm("b", {0: 10.0, 1: 10.0, 2: 10.0})
    near = _arm("a", {0: 10.1, 1: 10.2, 2: 10.3})
    assert _judge(no_worse, arm=near, reference=ref)["status"] == "supported"
    far = _arm("a", {0: 12.0, 1: 12.2, 2: 12.1})
    assert _judge(no_worse, arm=far, reference=ref)["status"] == "not supported"
    same = Equivalent(a=a, b=b, margin=1.0)
    assert _judge(same, a=ref, b=near)["status"] == "supported"
    assert _judge(same, a=ref, b=far)["status"] == "not supported"


def test_paper_budget_hours_count_only_the_arms_with_a_measured_speed() -> None:
    """At quick, residual_options skips pre-activation: the paper budget's hours are those of
    the four arms trained (a regression: the five images and four speeds did not zip)."""
    from moderncnn.experiments.report import _paper_budget

    exp = EXPERIMENTS["residual_options"]
    images = paper_images(exp)
    trained = [a for a in exp.arms if a.label != "pre-activation"]
    r = {"arms": [{"label": a.label, "runs": [{"images_per_s": 1000.0}]} for a in trained]}
    text = _paper_budget(exp, r)[0]
    hours = sum(n for n, a in zip(images, exp.arms, strict=True) if a in trained) / 1000 / 3600
    assert f": {hours:.1f} hours for the 4 arms trained here on this CPU" in text
    assert f"{sum(images):,} training images in all" in text


def test_inconclusive_parts_say_how_many_seeds_would_resolve_them() -> None:
    """Differences of sd 1: t(0.975, n-1) / sqrt(n) first falls below 1 at n = 7 (2.447 /
    2.646 = 0.925; at 6: 2.571 / 2.449 = 1.050). An inconclusive part names the seeds its
    spread would need; a mean beyond the margin of no loss cannot be resolved by seeds."""
    assert seeds_needed([1.0, 2.0, 3.0], 1.0) == 7
    assert seeds_needed([1.0, 2.0, 3.0], 0.0) is None
    a, b = Arm("a", "m"), Arm("b", "m")
    ref = _arm("b", {0: 10.0, 1: 10.0, 2: 10.0})
    mixed = _judge(Lower(a, b), better=_arm("a", {0: 9.0, 1: 8.0, 2: 10.5}), worse=ref)
    assert mixed["status"] == "inconclusive"
    n = seeds_needed([1.0, 2.0, -0.5], 2.5 / 3)
    assert f"sd is 1.26: about {n} seeds would exclude 0, for the claim" in mixed["text"]
    beyond = _arm("a", {0: 10.5, 1: 13.0, 2: 10.1})  # mean +1.2, beyond the 1-point margin
    part = _judge(NoWorse(arm=a, reference=b, margin=1.0), arm=beyond, reference=ref)
    assert part["status"] == "inconclusive"
    assert "no number of seeds would fit it under the margin" in part["text"]


def test_faster_counts_unreached_runs_as_lower_bounds() -> None:
    fast, slow = Arm("ReLU", "m"), Arm("tanh", "m")
    relu = _arm("ReLU", {0: 1000.0, 1: 1100.0, 2: 900.0})
    relu.runs = [SeedRun(s, "", "", stopped_at=int(v)) for s, v in relu.by_seed.items()]
    tanh = _arm("tanh", {0: 3000.0, 1: 3900.0, 2: 2700.0})
    tanh.runs = [SeedRun(0, "", "", stopped_at=3000), SeedRun(1, "", "", steps=3900),
                 SeedRun(2, "", "", stopped_at=2700)]  # fmt: skip
    part = _judge(Faster(fast, slow, paper_ratio=6), fast=relu, slow=tanh)
    assert part["status"] == "supported"
    assert (
        "3.17x fewer [2.50, 4.03]" in part["text"]
        and "seeds [1] did not reach it: lower bounds" in part["text"]
    )


def test_counts_and_combining_parts() -> None:
    small, big = Arm("small", "m"), Arm("big", "m")
    fewer = Fewer(small, big, counts=("params",))
    results = {small: _arm("small", {}, params=10, macs=99), big: _arm("big", {}, params=20)}
    assert fewer.judge(results, "%")["status"] == "supported"
    assert Fewer(small, big).judge(results, "%")["status"] == "not supported"  # more MACs
    s, i, n = ({"status": x, "text": x} for x in ("supported", "inconclusive", "not judged"))
    assert combine([s, i]).status == "partly supported"
    assert combine([s, s, n]).status == "supported"
    assert combine([{"status": "not supported", "text": ""}, i]).status == "not supported"
    assert combine([i, n]).status == "inconclusive"
    verdict = judge([Lower(small, big)], {big: results[big]}, "%")  # small not trained
    assert verdict.status == "inconclusive" and "small: not run at this budget" in verdict.text


def test_metrics_read_runs() -> None:
    """A diverged run stands for chance; iterations to a threshold are where training
    stopped, or a lower bound (the steps taken) when it never got there."""
    assert TEST_ERROR.read(SeedRun(0, "", "", test_err=12.5)) == 12.5
    assert TEST_ERROR.read(SeedRun(0, "", "", test_err=12.5, diverged="nan")) == 90.0
    steps = steps_to(25.0)
    assert steps.key == "steps_to_25"
    assert steps.read(SeedRun(0, "", "", stopped_at=321, steps=330)) == 321
    assert steps.read(SeedRun(0, "", "", steps=3900)) == 3900
    exp = EXPERIMENTS["relu_vs_tanh"]
    grid = [SeedRun(100, "", "", lr=lr, stopped_at=s) for lr, s in ((0.02, 900), (0.04, 700))]
    grid.append(SeedRun(100, "", "", lr=0.07, steps=3900))
    assert best_lr(exp, grid) == 0.04


def test_training_stops_at_the_error_threshold(fake_cifar: Path, tmp_path: Path) -> None:
    """``stop_error``: training ends the step the mean training error of the last 20
    mini-batches falls below the threshold (99.9%: as soon as 20 batches are seen), and the
    step is recorded."""
    cfg = resolve_config("resnet20", "resnet_cifar", data_dir=str(fake_cifar), limit=80,
                         val_size=0, batch_size=4, epochs=3, stop_error=99.9, progress=False,
                         output=str(tmp_path / "run"), tensorboard=False)  # fmt: skip
    result = train(cfg)
    assert result.stopped_at == 20
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert summary["stopped_at"] == 20 and result.epochs == 1


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
        assert r["verdict"]["status"] == NO_VERDICT, name  # 3 steps of 16 images: no verdict
        assert r["figure"] == f"{name}.png" and (smoke / "smoke" / name / r["figure"]).is_file()
        assert [a["label"] for a in r["arms"]] == [a.label for a in exp.arms]
        assert r["regime"] == exp.regime and r["machine"]["bf16_native"] in (True, False)
        for a in r["arms"]:
            assert a["params"] > 0 and a["macs"] > 0
            assert all(run["curve"] or run["diverged"] for run in a["runs"])
        assert r["machine"]["torch"] and r["command"].startswith("moderncnn experiment run")
    families = json.loads((smoke / "smoke" / "families" / "results.json").read_text())
    assert all(a["latency_ms"] > 0 for a in families["arms"])
    relu = json.loads((smoke / "smoke" / "relu_vs_tanh" / "results.json").read_text())
    assert [len(a["grid"]) for a in relu["arms"]] == [3, 3]  # the lr grid, then the seeds
    chosen = {run["lr"] for a in relu["arms"] for run in a["runs"]}
    assert chosen <= {0.02, 0.04, 0.07} and all(len(a["runs"]) == 1 for a in relu["arms"])
    assert {run["precision"] for a in relu["arms"] for run in a["runs"]} == {"fp32"}
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
    assert "| no verdict (smoke) |" in text and "**supported**" not in text
    degradation = text[text.index("## 5. degradation") : text.index("## 6.")]
    header = next(line for line in degradation.splitlines() if line.startswith("| arm |"))
    assert "training top-1 error of the last epoch (%): per seed" in header
    assert "training err %" not in header and "test err %" in header  # no column twice
    assert "**Regime:** optimisation" in degradation and "precision fp32" in degradation
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
    assert len(lines) == 12 and all(line.startswith("moderncnn train ") for line in lines)
    assert main(["experiment", "run", "relu_vs_tanh", "--dry-run", "--data-dir", "d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("moderncnn train ") for line in lines) == 6  # the grids
    assert lines[-1] == "then 3 seeds an arm at its grid's best learning rate"


def test_cost_counts_runs_and_images(monkeypatch) -> None:
    """``experiment cost``: an arm with a learning-rate grid costs its grid and its seeds;
    an arm stopped at a threshold costs at most its epoch cap; the speed is measured."""
    from moderncnn.experiments import cost

    monkeypatch.setattr(cost, "train_rate", lambda run: 1000.0)
    relu = cost.estimate(EXPERIMENTS["relu_vs_tanh"], "quick")
    assert [(c.runs, c.images) for c in relu] == [(6, 200_000), (6, 200_000)]  # 20 x 10,000
    assert relu[0].minutes == pytest.approx(6 * 200 / 60)
    deg = cost.estimate(EXPERIMENTS["degradation"], "quick", seeds=2)
    assert {(c.runs, c.images) for c in deg} == {(2, ARCH_ITERATIONS * 128)}
    options = cost.estimate(EXPERIMENTS["residual_options"], "quick")
    assert "pre-activation" not in [c.label for c in options]  # not trained at quick


def test_effective_field_bound_is_recounted() -> None:
    """The effective-field experiment's bound comes from ResNet-20's theoretical field (81
    px, recounted from the real modules), and a fresh network's effective field (95% of the
    gradient) lies inside the theoretical one."""
    from moderncnn.experiments.catalog_2015 import RESNET20_FIELD
    from moderncnn.experiments.measures import field_of, fresh

    field = field_of(fresh("resnet20", {}, 0))
    assert field.theoretical_size == RESNET20_FIELD == 81
    assert 0 < field.size < RESNET20_FIELD
