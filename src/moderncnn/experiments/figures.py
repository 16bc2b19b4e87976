"""An experiment's figure, by kind: error curves (AlexNet Fig. 1, ResNet Fig. 1 and 6), bars of
test error beside training error, error against parameters and MACs (DenseNet Fig. 4), the
families' bubble plot, or a network's first-layer filters (AlexNet Fig. 3)."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

from moderncnn.experiments.spec import ArmResult, Experiment, SeedRun


def draw(exp: Experiment, arms: list[ArmResult], path: Path) -> Path | None:
    """Draw ``exp``'s figure of ``arms`` into ``path`` (PNG); None when nothing was trained."""
    if not any(r.curve for a in arms for r in a.runs):
        return None
    if exp.plot in ("filters", "erf"):
        from moderncnn.inspect.filters import load_for_filters, save_filters

        arm = arms[0]
        run = next((r for r in arm.runs if not r.diverged), None)
        if run is None:
            return None
        if exp.plot == "filters":
            return save_filters(load_for_filters(run.run_dir), path)
        return _fields(arm, run, path)
    fig = {"curves": _curves, "bars": _bars, "scatter": _scatter, "bubble": _bubble}[exp.plot](
        exp, arms
    )
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return path


def _fields(arm: ArmResult, run: SeedRun, path: Path) -> Path:
    """The effective field of a fresh network of the run's seed beside the trained one's."""
    from moderncnn.experiments.measures import field_of, fresh
    from moderncnn.inspect.erf import save_fields
    from moderncnn.inspect.filters import load_for_filters

    before = field_of(fresh(arm.model, arm.options, run.seed))
    return save_fields([before, field_of(load_for_filters(run.run_dir))], path)


def _title(fig: Figure, exp: Experiment) -> None:
    fig.suptitle(f"{exp.name}: {exp.source}", fontsize=10)


def _curves(exp: Experiment, arms: list[ArmResult]) -> Figure:
    """Training error against iterations, one panel per group: every seed of each arm (seed
    0 labelled), and held-out error (solid) where there is a validation split."""
    groups = list(dict.fromkeys(a.group for a in arms))
    fig = Figure(figsize=(5.5 * len(groups), 4))
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for i, arm in enumerate(arms):
        ax = axes[groups.index(arm.group)]
        color = f"C{i % 10}"
        for k, run in enumerate(arm.runs):
            steps = [p["step"] for p in run.curve]
            ax.plot(steps, [p["train_err"] for p in run.curve], "--", color=color, lw=1,
                    label=None if k else f"{arm.label} (train)")  # fmt: skip
            if any("val_err" in p for p in run.curve):
                held_out = None if k else f"{arm.label} (held out)"
                ax.plot(steps, [p.get("val_err", math.nan) for p in run.curve], "-",
                        color=color, lw=2, label=held_out)  # fmt: skip
            if run.diverged:
                ax.annotate("diverged", (steps[-1] if steps else 0, 50), color=color)
    threshold = exp.plot_args.get("threshold")
    for ax, group in zip(axes, groups, strict=True):
        if threshold is not None:
            ax.axhline(threshold, color="grey", lw=0.8, ls=":")
        ax.set(xlabel="iterations", ylabel="top-1 error (%)", title=group or None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _title(fig, exp)
    return fig


def _bars(exp: Experiment, arms: list[ArmResult]) -> Figure:
    """Test error per arm (bar: the mean; dots: each seed) and the last epoch's training
    error (marker): the gap between them is what regularisation closes."""
    fig = Figure(figsize=(max(5.0, 1.3 * len(arms)), 4))
    ax = fig.subplots()
    xs = range(len(arms))
    test = [a.mean_of("test_err") for a in arms]
    ax.bar(xs, test, color=[f"C{i % 10}" for i in xs], alpha=0.8, label="test (mean)")
    for x, a in zip(xs, arms, strict=True):
        seeds = [r.test_err for r in a.runs if r.test_err is not None]
        ax.plot([x] * len(seeds), seeds, "k.", ms=4, label="test (each seed)" if x == 0 else None)
    ax.plot(xs, [a.mean_of("train_err") for a in arms], "k_", ms=20, mew=2,
            label="training (last epoch)")  # fmt: skip
    for x, a, t in zip(xs, arms, test, strict=True):
        ax.annotate(f"{a.params / 1e6:.2f}M\n{a.macs / 1e6:.0f}M MACs", (x, 0), ha="center",
                    va="bottom", fontsize=7, color="white")  # fmt: skip
        if t == t:
            ax.annotate(f"{t:.1f}", (x, t), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), [a.label for a in arms], rotation=20, ha="right", fontsize=8)
    ax.set(ylabel="top-1 error (%)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    _title(fig, exp)
    return fig


def _scatter(exp: Experiment, arms: list[ArmResult]) -> Figure:
    """Test error against parameters and against MACs (DenseNet Fig. 4's axes): each seed a
    dot, the mean a marker."""
    fig = Figure(figsize=(10, 4))
    for ax, key, label in zip(fig.subplots(1, 2), ("params", "macs"), ("parameters", "MACs"),
                              strict=True):  # fmt: skip
        for i, a in enumerate(arms):
            x, y = getattr(a, key), a.mean_of("test_err")
            seeds = [r.test_err for r in a.runs if r.test_err is not None]
            ax.plot([x] * len(seeds), seeds, ".", color=f"C{i % 10}", alpha=0.5)
            ax.plot(x, y, "o", color=f"C{i % 10}", label=a.label)
        ax.set(xscale="log", xlabel=f"{label} (log scale)", ylabel="test top-1 error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _title(fig, exp)
    return fig


def _bubble(exp: Experiment, arms: list[ArmResult]) -> Figure:
    """Test error against MACs, bubble area proportional to parameters, labelled with the
    batch-1 CPU latency."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    biggest = max(a.params for a in arms)
    for i, a in enumerate(arms):
        y = a.mean_of("test_err")
        ax.scatter(a.macs, y, s=2000 * a.params / biggest, color=f"C{i % 10}", alpha=0.5)
        latency = f", {a.latency_ms:.1f} ms" if a.latency_ms is not None else ""
        ax.annotate(f"{a.label}\n{a.params / 1e6:.2f}M params{latency}", (a.macs, y),
                    ha="center", va="center", fontsize=7)  # fmt: skip
    ax.set(xscale="log", xlabel="MACs per image (log scale)", ylabel="test top-1 error (%)")
    ax.grid(alpha=0.3)
    _title(fig, exp)
    return fig
