"""The lecture's claims, each declared as an :class:`~moderncnn.experiments.spec.Experiment`.

Budgets. ``smoke``: three steps on 64 images, for CI. ``quick`` (:data:`QUICK`): the shared
CIFAR-10 protocol of a 2-core laptop: a fixed 12,000-image subset of the training set (10,000
to train on, 2,000 held out for the curves and the choice of epoch), the full 10,000-image
test set, 10 epochs with the lr divided by 10 at 50% and 75%, bf16 autocast, and narrower
AlexNet, VGG and GoogLeNet (:data:`NARROW`). Every arm keeps its paper's recipe otherwise
(optimizer, lr, weight decay, batch, augmentation), so identical arms of different
experiments are one run. ``paper``: each paper's recipe unchanged (a GPU's work).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from moderncnn.experiments.spec import Arm, ArmResult, Budget, Experiment, Metric, SeedRun, Verdict

#: Narrower networks at the smoke and quick budgets (channel multipliers), so that the large
#: CIFAR networks train for several epochs in minutes on two cores.
NARROW: dict[str, dict[str, Any]] = {
    "alexnet_cifar": {"width": 0.25},
    "vgg13_cifar": {"width": 0.25},
    "vgg16_cifar": {"width": 0.25},
    "googlenet_cifar": {"width": 0.125},
}
SMOKE = Budget(
    train={"limit": 80, "val_size": 16, "iterations": 3, "batch_size": 16, "tensorboard": False},
    options=NARROW,
    note="3 steps of 16 images: the machinery only, numbers mean nothing",
)
QUICK = Budget(
    train={
        "limit": 12_000,
        "val_size": 2_000,
        "epochs": 10,
        "schedule": "step",
        "milestones": [0.5, 0.75],
        "milestone_unit": "fraction",
        "gamma": 0.1,
        "amp": "bf16",
        "tensorboard": False,
    },
    options=NARROW,
    note="10,000 CIFAR-10 training images (2,000 more held out), 10 epochs, full test set",
)
PAPER = Budget(train={}, note="the papers' recipes unchanged (full data and schedules)")
#: One seed at quick leaves the spread unknown: differences below this many points of error
#: count as within seed noise (short CIFAR runs vary by about this much from seed to seed).
NOISE_FLOOR = 1.0
#: Mean correlation of adjacent first-layer weights above which filters count as structured
#: (ours, not the paper's: random filters give about 0).
SMOOTH = 0.3


# -- metrics --------------------------------------------------------------------------------


def _test_err(run: SeedRun) -> float | None:
    return run.test_err


def _train_err(run: SeedRun) -> float | None:
    return run.train_err


TEST_ERROR = Metric("test_err", "test top-1 error (%)", _test_err)
TRAIN_ERROR = Metric("train_err", "training top-1 error of the last epoch (%)", _train_err)


def steps_to(threshold: float) -> Callable[[SeedRun], float | None]:
    """Iterations until the training error first reaches ``threshold`` %, interpolated
    linearly between epochs (from 90% at step 0: chance on ten classes); None if never."""

    def read(run: SeedRun) -> float | None:
        step, err = 0.0, 90.0
        for point in run.curve:
            if point["train_err"] <= threshold:
                frac = (err - threshold) / max(err - point["train_err"], 1e-9)
                return step + frac * (point["step"] - step)
            step, err = point["step"], point["train_err"]
        return None

    return read


def filter_smoothness(run: SeedRun) -> float | None:
    """Mean correlation of horizontally and vertically adjacent weights of the first
    convolution's filters: about 0 for random filters, high for the smooth edge and colour
    blob detectors of AlexNet Fig. 3."""
    from moderncnn.inspect.filters import image_conv, load_for_filters

    if run.diverged:
        return None
    w = image_conv(load_for_filters(run.run_dir))[1].weight.detach().float()  # (N, C, k, k)
    w = w - w.mean(dim=(1, 2, 3), keepdim=True)
    pairs = [(w[..., :, 1:], w[..., :, :-1]), (w[..., 1:, :], w[..., :-1, :])]
    corr = [
        ((a * b).sum((1, 2, 3)) / (a.square().sum((1, 2, 3)) * b.square().sum((1, 2, 3))).sqrt())
        for a, b in pairs
    ]
    return float(sum(c.mean() for c in corr) / 2)


# -- verdicts -------------------------------------------------------------------------------


def _arm(arms: list[ArmResult], label: str) -> ArmResult:
    return next(a for a in arms if a.label == label)


def _noise(*arms: ArmResult) -> tuple[float, str]:
    """The seed noise to compare against, and how it was obtained."""
    spreads = [a.spread for a in arms if not math.isnan(a.spread)]
    if len(spreads) == len(arms):
        how = f"twice the largest spread over {len(arms[0].values)} seeds"
        return max(2 * max(spreads), 0.1), how
    return NOISE_FLOOR, f"one seed: noise floor {NOISE_FLOOR:g}"


def lower(better: ArmResult, worse: ArmResult) -> tuple[str, str]:
    """Is ``better``'s metric lower than ``worse``'s, beyond seed noise? (status, numbers)"""
    if not better.values or not worse.values:
        missing = better if not better.values else worse
        reason = (
            missing.runs[0].diverged[:80]
            if missing.runs and missing.runs[0].diverged
            else "no value"
        )
        return "inconclusive", f"{missing.label}: {reason}"
    diff = worse.mean - better.mean
    noise, how = _noise(better, worse)
    text = (
        f"{better.label} {better.mean:.2f} vs {worse.label} {worse.mean:.2f} ({diff:+.2f}; {how})"
    )
    if diff > noise:
        return "supported", text
    if diff < -noise:
        return "not supported", text
    return "inconclusive", text


def combine(parts: list[tuple[str, str]]) -> Verdict:
    """One verdict from several sub-claims: supported if all are, not supported if none is
    and one contradicts, partly supported if some are, else inconclusive."""
    statuses = [s for s, _ in parts]
    if all(s == "supported" for s in statuses):
        status = "supported"
    elif "supported" in statuses:
        status = "partly supported"
    elif "not supported" in statuses:
        status = "not supported"
    else:
        status = "inconclusive"
    return Verdict(status, "; ".join(f"{t} [{s}]" for s, t in parts))


def _judge_pairs(pairs: list[tuple[str, str]]) -> Callable[[list[ArmResult]], Verdict]:
    """Each (better, worse) pair of arm labels is a sub-claim."""
    return lambda arms: combine([lower(_arm(arms, b), _arm(arms, w)) for b, w in pairs])


def _judge_relu(arms: list[ArmResult]) -> Verdict:
    """ReLU's fastest arm against tanh's, in iterations to 25% training error."""

    def best(group: str) -> tuple[float | None, int]:
        mine = [a for a in arms if a.group == group]
        reached = [a.mean for a in mine if a.values]
        trained = max((r.curve[-1]["step"] for a in mine for r in a.runs if r.curve), default=0)
        return (min(reached) if reached else None), trained

    (relu, relu_max), (tanh, tanh_max) = best("ReLU"), best("tanh")
    if relu is None:
        return Verdict("inconclusive", f"ReLU did not reach 25% in {relu_max} iterations")
    if tanh is None:
        return Verdict(
            "supported",
            f"ReLU reached 25% training error in {relu:.0f} iterations; tanh did not within "
            f"{tanh_max} (more than {tanh_max / relu:.1f}x; the paper: about 6x)",
        )
    ratio = tanh / relu
    status = "supported" if ratio > 1.2 else "not supported" if ratio < 1 / 1.2 else "inconclusive"
    return Verdict(
        status,
        f"ReLU {relu:.0f} iterations, tanh {tanh:.0f}: {ratio:.1f}x fewer with ReLU "
        "(the paper: about 6x); the best learning rate of each",
    )


def _judge_one_by_one(arms: list[ArmResult]) -> Verdict:
    """Fewer parameters and MACs with the reductions, and a test error no worse (beyond
    noise) than without them."""
    red, naive = _arm(arms, "with 1x1 reductions"), _arm(arms, "without reductions")
    counts = (
        "supported" if red.params < naive.params and red.macs < naive.macs else "not supported",
        f"reductions cut parameters {naive.params / red.params:.1f}x "
        f"({naive.params:,} -> {red.params:,}) and MACs {naive.macs / red.macs:.1f}x",
    )
    status, text = lower(naive, red)  # no better without reductions is what the claim needs
    if red.values and naive.values:
        status = "not supported" if status == "supported" else "supported"
    accuracy = (status, f"test error: {text}; the claim: the cheaper module costs no accuracy")
    return combine([counts, accuracy])


def _judge_batch_norm(arms: list[ArmResult]) -> Verdict:
    """Without BN at the recipe's lr the network must diverge or stay far (10 points) above
    the BN network's training error; the lower-lr arm is reported, not judged."""
    bn, none, small = (_arm(arms, x) for x in ("BN, lr 0.1", "no BN, lr 0.1", "no BN, lr 0.01"))
    with_bn = bn.mean_of("train_err")

    def outcome(arm: ArmResult) -> str:
        if arm.runs and arm.runs[0].diverged:
            return f"{arm.label} diverged"
        return f"{arm.label} ends at {arm.mean_of('train_err'):.1f}% training error"

    diverged = bool(none.runs and none.runs[0].diverged)
    gap = math.inf if diverged else none.mean_of("train_err") - with_bn
    status = "supported" if gap > 10 else "not supported" if gap < NOISE_FLOOR else "inconclusive"
    return Verdict(
        status,
        f"with BN {with_bn:.1f}% training error; {outcome(none)}; {outcome(small)} (not judged)",
    )


def _judge_dense(arms: list[ArmResult]) -> Verdict:
    """Lower error than each ResNet, or the same within noise with fewer parameters."""
    dense = next(a for a in arms if a.group == "DenseNet")
    parts = []
    for res in (a for a in arms if a.group == "ResNet"):
        status, text = lower(dense, res)
        if status == "inconclusive" and dense.values and dense.params < res.params:
            status = "supported"
        parts.append((status, f"{text}; parameters {dense.params:,} vs {res.params:,}"))
    return combine(parts)


def _judge_families(arms: list[ArmResult]) -> Verdict:
    """Each later network (2015-17) against each earlier one with more parameters: lower
    error beyond noise is the claim."""
    old = [a for a in arms if a.group == "2012-14"]
    new = [a for a in arms if a.group == "2015-17"]
    parts = [lower(n, o) for n in new for o in old if n.params < o.params]
    return combine(parts) if parts else Verdict("inconclusive", "no pair to compare")


def _judge_filters(arms: list[ArmResult]) -> Verdict:
    """Structured filters: adjacent weights correlate above :data:`SMOOTH` (our threshold)."""
    a = arms[0]
    if not a.values:
        return Verdict("inconclusive", "no trained filters")
    s = a.mean
    status = "supported" if s > SMOOTH else "not supported"
    return Verdict(
        status,
        f"adjacent weights of the trained first-layer filters correlate {s:.2f} (random "
        "filters: about 0); smooth oriented edges and colour blobs are what Fig. 3 shows",
    )


# -- extras: counts that need no training ---------------------------------------------------


def _stacked_counts() -> dict[str, Any]:
    from moderncnn.inspect.explain import stacked_3x3

    return {"worked_example": stacked_3x3().to_dict()}


def _quiz() -> dict[str, Any]:
    """The lecture's quiz, answered from measured counts of the ImageNet networks, and VGG's
    configuration C (1x1 convolutions) against D (3x3)."""
    from moderncnn.inspect.compare import compare

    five = compare(("alexnet_paper", "vgg16", "googlenet_paper", "resnet50", "densenet121"),
                   runs=None)  # fmt: skip
    vgg = compare(("vgg16_c", "vgg16"), runs=None)
    return {
        "quiz": {e.name: {"params": e.params, "macs": e.macs} for e in five.entries},
        "fewest_parameters": five.answers()["fewest parameters"],
        "vgg_c_vs_d": {e.name: {"params": e.params, "macs": e.macs} for e in vgg.entries},
    }


# -- the experiments ------------------------------------------------------------------------

_NO_REGULARISATION = {"weight_decay": 0.0, "augment": "none", "schedule": "constant"}
_RELU_TANH = tuple(
    Arm(
        f"{act}, lr {lr:g}",
        "alexnet_fig1",
        {"activation": act.lower()},
        {**_NO_REGULARISATION, "lr": lr},
        recipe="cifar",
        group=act,
    )  # fmt: skip
    for act in ("ReLU", "tanh")
    for lr in (0.01, 0.04)
)
_RELU_TANH_TRAIN = {"limit": 10_000, "val_size": 0, "epochs": 20, "amp": "bf16"}


def _resnet20(label: str, **options: Any) -> Arm:
    return Arm(label, "resnet20", options)


EXPERIMENTS: dict[str, Experiment] = {}


def _add(exp: Experiment) -> None:
    EXPERIMENTS[exp.name] = exp


_add(
    Experiment(
        name="relu_vs_tanh",
        claim="ReLU networks train several times faster than tanh networks",
        source="AlexNet, Figure 1 and Sec. 3.1",
        paper="a four-layer CNN with ReLUs reaches 25% training error on CIFAR-10 six times "
        "faster than an equivalent network with tanh neurons (each with its best learning rate, "
        "no regularisation)",
        arms=_RELU_TANH,
        budgets={
            "smoke": SMOKE,
            "quick": Budget(
                _RELU_TANH_TRAIN,
                note="10,000 training images, 20 epochs, two learning rates per activation",
            ),  # fmt: skip
            "paper": Budget({"val_size": 0, "epochs": 40}, note="all 50,000 training images"),
        },
        metric=Metric("steps_to_25", "iterations to 25% training error", steps_to(25.0)),
        judge=_judge_relu,
        plot="curves",
        plot_args={"threshold": 25.0},
        notes="The paper does not say which four-layer network; alexnet_fig1 is our choice: "
        "cuda-convnet's CIFAR-10 example stack (three 5x5 convolutions with max and average "
        "pools) and one classifier layer (see its docstring). No weight decay, augmentation or lr "
        "decay, as in Figure 1.",
    )
)
_add(
    Experiment(
        name="alexnet_ablations",
        claim="LRN, overlapping pooling, dropout and data augmentation each lower AlexNet's error",
        source="AlexNet, Sec. 3.3, 3.4, 4.1 and 4.2",
        paper="LRN lowers top-1/top-5 by 1.4/1.2% (and a four-layer CIFAR-10 CNN from 13% to 11% "
        "test error); overlapping pooling by 0.4/0.3%; without dropout or augmentation the network "
        "overfits substantially",
        arms=(
            Arm("AlexNet (all four)", "alexnet_cifar"),
            Arm("no LRN", "alexnet_cifar", {"lrn": False}),
            Arm("no overlap (2x2/2)", "alexnet_cifar", {"overlap": False}),
            Arm("no dropout", "alexnet_cifar", train={"drop_rate": 0.0}),
            Arm("no augmentation", "alexnet_cifar", train={"augment": "none"}),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TEST_ERROR,
        judge=_judge_pairs(
            [
                ("AlexNet (all four)", "no LRN"),
                ("AlexNet (all four)", "no overlap (2x2/2)"),
                ("AlexNet (all four)", "no dropout"),
                ("AlexNet (all four)", "no augmentation"),
            ]
        ),
        plot="bars",
        notes="alexnet_cifar (AlexNet scaled to 32x32) on CIFAR-10 rather than the paper's "
        "ImageNet; a quarter of its convolution widths at smoke and quick (16-48-96-64-64).",
    )
)
_add(
    Experiment(
        name="stacked_3x3",
        claim="stacked 3x3 convolutions beat one large convolution of the same receptive field, "
        "with fewer weights",
        source="VGG, Sec. 2.3 and 4.1",
        paper="configuration B with each pair of 3x3 convolutions replaced by one 5x5 has a "
        "7% higher top-1 error; two 3x3 have 18C^2 weights against 25C^2, three 27C^2 "
        "against 49C^2",
        arms=(
            Arm("B: 3x3 pairs", "vgg13_cifar", group="B"),
            Arm("B: 5x5", "vgg13_cifar", {"large_kernels": True}, group="B"),
            Arm("D: 3x3 stacks", "vgg16_cifar", group="D"),
            Arm("D: 5x5 and 7x7", "vgg16_cifar", {"large_kernels": True}, group="D"),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TEST_ERROR,
        judge=_judge_pairs([("B: 3x3 pairs", "B: 5x5"), ("D: 3x3 stacks", "D: 5x5 and 7x7")]),
        plot="bars",
        extra=_stacked_counts,
        notes="VGG's CIFAR variants (BN, one linear head) at a quarter of the widths at smoke and "
        "quick; large_kernels replaces each run of n 3x3 convolutions by one (2n+1)x(2n+1).",
    )
)
_add(
    Experiment(
        name="one_by_one",
        claim="1x1 reductions let a 22-layer GoogLeNet have fewer parameters than AlexNet's 8 "
        "layers, without costing accuracy",
        source="GoogLeNet, Sec. 4-5 (Figure 2, Table 1); VGG configuration C vs D (Sec. 4.1)",
        paper="GoogLeNet uses 12 times fewer parameters than AlexNet while being more accurate; "
        "without the reductions the 3x3 and 5x5 convolutions become prohibitively expensive",
        arms=(
            Arm("with 1x1 reductions", "googlenet_cifar"),
            Arm("without reductions", "googlenet_cifar", {"reductions": False}),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TEST_ERROR,
        judge=_judge_one_by_one,
        plot="bars",
        extra=_quiz,
        notes="googlenet_cifar at an eighth of its widths at smoke and quick. Without reductions "
        "the pool projection stays, so every block keeps Table 1's output width.",
    )
)
_add(
    Experiment(
        name="degradation",
        claim="a deeper plain network trains worse than a shallower one; a deeper residual "
        "network trains better",
        source="ResNet, Figure 1 and Figure 6 (Sec. 4.2)",
        paper="plain-56 has higher training (and test) error than plain-20 throughout training; "
        "ResNet-56 has lower error than ResNet-20 (test 6.97% against 8.75%, Table 6)",
        arms=(
            Arm("plain-20", "plain20", group="plain"),
            Arm("plain-56", "plain56", group="plain"),
            Arm("ResNet-20", "resnet20", group="residual"),
            Arm("ResNet-56", "resnet56", group="residual"),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TRAIN_ERROR,
        judge=_judge_pairs([("plain-20", "plain-56"), ("ResNet-56", "ResNet-20")]),
        plot="curves",
    )
)
_add(
    Experiment(
        name="residual_options",
        claim="projection shortcuts help a little (A < B < C), bottlenecks give depth for their "
        "compute, pre-activation helps",
        source="ResNet, Table 3 and Sec. 3.3, 4.1; Identity Mappings, Table 3",
        paper="ResNet-34 top-1 (10-crop) 25.03 (A), 24.52 (B), 24.19 (C): 'projections are not "
        "essential'; bottleneck ResNet-50 22.85 at similar FLOPs to ResNet-34; ResNet-110 on "
        "CIFAR-10 6.61 (original) vs 6.37 (full pre-activation)",
        arms=(
            _resnet20("A: zero padding"),
            _resnet20("B: projections where shapes change", shortcut="B"),
            _resnet20("C: all projections", shortcut="C"),
            _resnet20("pre-activation", preact=True),
            _resnet20("bottleneck (B)", bottleneck=True, shortcut="B"),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TEST_ERROR,
        judge=_judge_pairs(
            [
                ("B: projections where shapes change", "A: zero padding"),
                ("C: all projections", "B: projections where shapes change"),
                ("pre-activation", "A: zero padding"),
                ("bottleneck (B)", "B: projections where shapes change"),
            ]
        ),
        plot="bars",
        notes="All on ResNet-20 (CIFAR): the bottleneck arm has two 1x1-3x3-1x1 units a stage "
        "(9n+2 = 20 layers), 4x wider outputs.",
    )
)
_add(
    Experiment(
        name="batch_norm",
        claim="BN after each convolution is what lets a deep plain network train at the "
        "recipe's learning rate",
        source="the lecture; ResNet Sec. 3.4 (BN after each convolution); Ioffe & Szegedy 2015",
        paper="ResNet trains its 56-layer plain networks with BN at lr 0.1; BN 'allows much higher "
        "learning rates' (Ioffe & Szegedy)",
        arms=(
            Arm("BN, lr 0.1", "plain56"),
            Arm("no BN, lr 0.1", "plain56", {"batch_norm": False}),
            Arm("no BN, lr 0.01", "plain56", {"batch_norm": False}, {"lr": 0.01}),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TRAIN_ERROR,
        judge=_judge_batch_norm,
        plot="curves",
    )
)
_add(
    Experiment(
        name="dense_vs_residual",
        claim="dense connections are more parameter-efficient than residual ones",
        source="DenseNet, Figure 4 and Table 2",
        paper="DenseNet-BC-100 (0.8M parameters) 4.51% test error on CIFAR-10+ against ResNet-110 "
        "(1.7M) 6.41%; DenseNet-BC reaches ResNet's error with about a third of the parameters",
        arms=(
            Arm("DenseNet-BC-40 (k=12)", "densenet_bc40_k12", group="DenseNet"),
            Arm("ResNet-20", "resnet20", group="ResNet"),
            Arm("ResNet-56", "resnet56", group="ResNet"),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TEST_ERROR,
        judge=_judge_dense,
        plot="scatter",
        notes="DenseNet-BC-40 is the smallest BC network (not in Table 2): DenseNet-BC-100 trains "
        "at 54 images/s on two cores, too slow for the quick budget.",
    )
)
_add(
    Experiment(
        name="families",
        claim="each family reached lower error with fewer parameters than the one before",
        source="the lecture's comparison of the five families",
        paper="ImageNet top-5: AlexNet 18.2% (61M), VGG-16 7.3% (138M), GoogLeNet 6.7% (7M), "
        "ResNet-152 3.6% (60M) in ILSVRC; DenseNet matches ResNet with fewer parameters",
        arms=(
            Arm("AlexNet", "alexnet_cifar", group="2012-14"),
            Arm("VGG (B)", "vgg13_cifar", group="2012-14"),
            Arm("GoogLeNet", "googlenet_cifar", group="2012-14"),
            Arm("ResNet-20", "resnet20", group="2015-17"),
            Arm("DenseNet-BC-40", "densenet_bc40_k12", group="2015-17"),
        ),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=TEST_ERROR,
        judge=_judge_families,
        plot="bubble",
        latency=True,
        notes="One CIFAR member of each family, the narrower ones of the quick budget; latency is "
        "batch 1 on this CPU, eval mode, median of 10.",
    )
)
_add(
    Experiment(
        name="filters",
        claim="the first layer learns oriented edges and colour blobs",
        source="AlexNet, Figure 3 and Sec. 6.1",
        paper="96 convolutional kernels of size 11x11x3 learned by the first layer: frequency- and "
        "orientation-selective kernels and coloured blobs",
        arms=(Arm("AlexNet", "alexnet_cifar"),),
        budgets={"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
        metric=Metric("smoothness", "correlation of adjacent filter weights", filter_smoothness),
        judge=_judge_filters,
        plot="filters",
        notes="alexnet_cifar's 5x5 first layer (64 filters; 16 at the quarter width of smoke "
        "and quick); for an ImageNet network's 11x11 filters: moderncnn filters DEFAULT "
        "--model alexnet -o filters.png.",
    )
)


def get_experiment(name: str) -> Experiment:
    from moderncnn.errors import ConfigError

    if name not in EXPERIMENTS:
        raise ConfigError(f"no experiment {name!r}; experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]
