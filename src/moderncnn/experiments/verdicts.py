"""Verdicts from intervals: each part of a claim compares arms seed by seed (arms trained with
the same seed see the same data order), takes a 95% t-interval of the paired differences, and
reads the verdict off it: *supported* when the interval excludes 0 (or, for a claim of "no
loss", lies inside the stated margin) in the claimed direction, *not supported* when it
excludes it the other way, *inconclusive* otherwise. A part refers to its arms as objects."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scipy import stats

from moderncnn.experiments.spec import Arm, ArmResult, Verdict

#: Confidence of every interval.
CONFIDENCE = 0.95
#: The error a diverged run stands for: chance on ten classes (it learned nothing).
CHANCE_ERR = 90.0
#: The status of a part that is shown but does not count towards the verdict.
NOT_JUDGED = "not judged"

Results = Mapping[Arm, ArmResult]


@dataclass(frozen=True)
class Interval:
    """Mean of paired differences over ``n`` seeds and its two-sided t-interval."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """The mean of ``values`` and its t-interval; None below two values."""
    n = len(values)
    if n < 2:
        return None
    mean = statistics.fmean(values)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def paired(first: ArmResult, second: ArmResult, log: bool = False) -> list[float]:
    """``second - first`` seed by seed (``log``: ``ln(second / first)``), over the seeds both
    have a value for."""
    seeds = sorted(set(first.by_seed) & set(second.by_seed))
    a, b = first.by_seed, second.by_seed
    return [math.log(b[s] / a[s]) if log else b[s] - a[s] for s in seeds]


#: The most seeds :func:`seeds_needed` looks for.
MAX_SEEDS = 1000


def seeds_needed(diffs: Sequence[float], half_width: float) -> int | None:
    """Seeds whose paired differences, at the spread of ``diffs``, would give an interval
    narrower than ``half_width`` on either side of the mean (what an inconclusive part would
    take, if the mean held); None when no number up to :data:`MAX_SEEDS` would."""
    if len(diffs) < 2 or half_width <= 0:
        return None
    sd = statistics.stdev(diffs)
    for n in range(2, MAX_SEEDS + 1):
        if stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n) < half_width:
            return n
    return None


def _resolving(diffs: Sequence[float], half_width: float, what: str) -> str:
    """The inconclusive part's note: how many seeds its spread would need."""
    sd = f"the differences' sd is {statistics.stdev(diffs):.2f}"
    n = seeds_needed(diffs, half_width)
    if n is None:
        return f"; {sd}: no number of seeds would {what}"
    return f"; {sd}: about {n} seeds would {what}, if the mean held"


def read(interval: Interval | None) -> str:
    """Supported when the whole interval is above 0, not supported when it is below 0,
    inconclusive otherwise (or without an interval)."""
    if interval is None:
        return "inconclusive"
    return below(Interval(-interval.mean, -interval.high, -interval.low, interval.n), 0.0)


def below(interval: Interval, bound: float) -> str:
    """Supported when the whole interval is below ``bound``, not supported when it is above
    it, inconclusive otherwise."""
    if interval.high < bound:
        return "supported"
    if interval.low > bound:
        return "not supported"
    return "inconclusive"


class Part(Protocol):
    """A part of a claim: judged from the arms' results into (status, text, interval)."""

    def judge(self, results: Results, unit: str) -> dict[str, Any]: ...


def _part(status: str, text: str, interval: Interval | None = None) -> dict[str, Any]:
    numbers = (
        {"mean": interval.mean, "low": interval.low, "high": interval.high, "n": interval.n}
        if interval
        else None
    )
    return {"status": status, "text": text, "interval": numbers}


def _missing(*arms: ArmResult) -> str:
    """Why an arm has fewer than two values to compare, or ''."""
    for a in arms:
        if len(a.by_seed) < 2:
            return f"{a.label}: {len(a.by_seed)} seed(s) with a value, 2 needed for an interval"
    return ""


@dataclass(frozen=True, eq=False)
class Lower:
    """``better``'s metric is lower than ``worse``'s (or higher, for a metric where higher is
    better): the interval of ``worse - better`` lies above 0."""

    better: Arm
    worse: Arm
    higher_is_better: bool = False
    if_inconclusive: str = ""  #: why an interval spanning 0 is expected at this budget

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        b, w = results[self.better], results[self.worse]
        diffs = paired(w, b) if self.higher_is_better else paired(b, w)
        ci = t_interval(diffs)
        text = (
            f"{b.label} {b.mean:.2f} vs {w.label} {w.mean:.2f} {unit}: "
            f"{'gain' if self.higher_is_better else 'difference'} {ci} ({_seeds(ci)})"
            if ci
            else _missing(b, w)
        )
        status = read(ci)
        if status == "inconclusive" and ci:
            side = "for the claim" if ci.mean > 0 else "against the claim"
            text += _resolving(diffs, abs(ci.mean), f"exclude 0, {side}")
        if status == "inconclusive" and self.if_inconclusive:
            text += f"; {self.if_inconclusive}"
        return _part(status, text, ci)


@dataclass(frozen=True, eq=False)
class NoWorse:
    """A claim of no loss: ``arm`` is at most ``margin`` worse than ``reference`` (the upper
    end of the interval of ``arm - reference`` is below the margin); not supported when the
    whole interval is above it."""

    arm: Arm
    reference: Arm
    margin: float

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        a, r = results[self.arm], results[self.reference]
        diffs = paired(r, a)
        ci = t_interval(diffs)
        if ci is None:
            return _part("inconclusive", _missing(a, r))
        status = below(ci, self.margin)
        text = (
            f"{a.label} {a.mean:.2f} vs {r.label} {r.mean:.2f} {unit}: difference {ci} "
            f"({_seeds(ci)}), margin of no loss {self.margin:g}"
        )
        if status == "inconclusive":
            text += _resolving(diffs, self.margin - ci.mean, "fit it under the margin")
        return _part(status, text, ci)


@dataclass(frozen=True, eq=False)
class Equivalent:
    """A claim of no difference: the interval of ``b - a`` lies inside ``(-margin, margin)``
    (not supported when it lies wholly outside)."""

    a: Arm
    b: Arm
    margin: float

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        a, b = results[self.a], results[self.b]
        diffs = paired(a, b)
        ci = t_interval(diffs)
        if ci is None:
            return _part("inconclusive", _missing(a, b))
        inside = -self.margin < ci.low and ci.high < self.margin
        outside = ci.low > self.margin or ci.high < -self.margin
        status = "supported" if inside else "not supported" if outside else "inconclusive"
        text = (
            f"{b.label} {b.mean:.2f} vs {a.label} {a.mean:.2f} {unit}: difference {ci} "
            f"({_seeds(ci)}), equivalence margin +-{self.margin:g}"
        )
        if status == "inconclusive":
            text += _resolving(diffs, self.margin - abs(ci.mean), "fit it inside the margin")
        return _part(status, text, ci)


@dataclass(frozen=True, eq=False)
class Faster:
    """``fast`` needs fewer iterations than ``slow`` to a threshold: the interval of the
    log-ratio ``ln(slow / fast)`` over seeds lies above 0. A run that never reached the
    threshold counts with the iterations it trained, so its ratio is a lower bound."""

    fast: Arm
    slow: Arm
    paper_ratio: float = 0.0

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        f, s = results[self.fast], results[self.slow]
        ci = t_interval(paired(f, s, log=True))
        if ci is None:
            return _part("inconclusive", _missing(f, s))
        ratios = [math.exp(x) for x in paired(f, s, log=True)]
        censored = [r.seed for a in (f, s) for r in a.runs if r.stopped_at is None]
        text = (
            f"{f.label} {statistics.median(f.values):.0f} vs {s.label} "
            f"{statistics.median(s.values):.0f} {unit} (medians): {math.exp(ci.mean):.2f}x "
            f"fewer [{math.exp(ci.low):.2f}, {math.exp(ci.high):.2f}] (geometric mean, "
            f"{_seeds(ci)}; range {min(ratios):.2f}-{max(ratios):.2f}"
        )
        if self.paper_ratio:
            text += f"; the paper: about {self.paper_ratio:g}x"
        if censored:
            text += f"; seeds {sorted(set(censored))} did not reach it: lower bounds"
        return _part(read(ci), text + ")", ci)


@dataclass(frozen=True, eq=False)
class Fewer:
    """``arm`` has fewer parameters (and MACs, if ``counts`` says so) than ``than``: counts
    of the real modules, no interval needed."""

    arm: Arm
    than: Arm
    counts: tuple[str, ...] = ("params", "macs")

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        a, t = results[self.arm], results[self.than]
        names = {"params": "parameters", "macs": "MACs"}
        fewer = all(getattr(a, c) < getattr(t, c) for c in self.counts)
        text = f"{a.label} against {t.label}: " + ", ".join(
            f"{getattr(a, c):,} against {getattr(t, c):,} {names[c]} "
            f"({getattr(a, c) / getattr(t, c):.2f}x)"
            for c in self.counts
        )
        return _part("supported" if fewer else "not supported", text)


@dataclass(frozen=True, eq=False)
class Trained:
    """Training raised ``arm``'s metric above the same network's at initialisation (same
    seed): the interval of trained minus initial lies above 0. ``at_init(model, options,
    seed)`` measures a fresh network."""

    arm: Arm
    at_init: Callable[[str, dict[str, Any], int], float]

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        a = results[self.arm]
        init = {s: self.at_init(a.model, a.options, s) for s in a.by_seed}
        ci = t_interval([a.by_seed[s] - init[s] for s in sorted(a.by_seed)])
        if ci is None:
            return _part("inconclusive", _missing(a))
        text = (
            f"{unit} {a.mean:.2f} after training against {statistics.fmean(init.values()):.2f} "
            f"at initialisation (same seeds): gain {ci} ({_seeds(ci)})"
        )
        return _part(read(ci), text, ci)


@dataclass(frozen=True, eq=False)
class Below:
    """``arm``'s metric is below ``bound`` (``what`` says where the bound comes from): the
    upper end of its interval over seeds is below it; not supported when the lower end is
    above it."""

    arm: Arm
    bound: float
    what: str

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        a = results[self.arm]
        ci = t_interval([a.by_seed[s] for s in sorted(a.by_seed)])
        if ci is None:
            return _part("inconclusive", _missing(a))
        status = below(ci, self.bound)
        text = (
            f"{a.label}: {unit} {ci.mean:.1f} [{ci.low:.1f}, {ci.high:.1f}] ({_seeds(ci)}) "
            f"against {self.bound:.1f}, {self.what}"
        )
        return _part(status, text, ci)


@dataclass(frozen=True, eq=False)
class FewerParams:
    """``model`` (registered name, default options) has fewer parameters than ``than``: a
    count of the real modules, no training."""

    model: str
    than: str
    what: str

    def judge(self, results: Results, unit: str) -> dict[str, Any]:
        from moderncnn.inspect import count_params

        a, t = count_params(self.model)[0], count_params(self.than)[0]
        text = f"{self.what}: {self.model} {a:,} parameters, {self.than} {t:,} ({t / a:.1f}x)"
        return _part("supported" if a < t else "not supported", text)


def arms_of(part: Part) -> list[Arm]:
    """The arms a part compares."""
    return [v for v in vars(part).values() if isinstance(v, Arm)]


def _seeds(ci: Interval | None) -> str:
    return f"{CONFIDENCE:.0%} interval over {ci.n} seeds" if ci else "no interval"


def combine(parts: list[dict[str, Any]]) -> Verdict:
    """One verdict from a claim's parts: supported if all are, partly supported if some are,
    not supported if none is and one contradicts, else inconclusive. Parts not judged (or
    not run at this budget) are shown and do not count."""
    statuses = [p["status"] for p in parts if p["status"] != NOT_JUDGED] or ["inconclusive"]
    if all(s == "supported" for s in statuses):
        status = "supported"
    elif "supported" in statuses:
        status = "partly supported"
    elif "not supported" in statuses:
        status = "not supported"
    else:
        status = "inconclusive"
    return Verdict(status, "; ".join(f"{p['text']} [{p['status']}]" for p in parts), tuple(parts))


def judge(parts: Sequence[Part], results: Results, unit: str) -> Verdict:
    """The verdict of a claim's ``parts`` on ``results``; a part whose arms were not trained
    at this budget is shown as not run."""
    judged = []
    for p in parts:
        missing = [a.label for a in arms_of(p) if a not in results]
        if missing:
            judged.append(_part(NOT_JUDGED, f"{', '.join(missing)}: not run at this budget"))
        else:
            judged.append(p.judge(results, unit))
    return combine(judged)
