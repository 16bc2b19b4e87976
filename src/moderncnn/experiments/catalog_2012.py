"""The lecture's claims about the 2012-2014 networks (AlexNet, VGG, GoogLeNet), declared
as in :mod:`moderncnn.experiments.catalog`."""

from __future__ import annotations

from typing import Any

from moderncnn.experiments.budgets import (
    ALEXNET,
    ARCH_NOTE,
    ARCHITECTURE,
    FULL_DATA,
    GOOGLENET,
    HE,
    PAPER,
    REGULARISATION,
    SMOKE,
    VGG_B,
    quick_budget,
)
from moderncnn.experiments.measures import (
    TEST_ERROR,
    steps_to,
)
from moderncnn.experiments.spec import Arm, Budget, Experiment
from moderncnn.experiments.verdicts import (
    Faster,
    Fewer,
    FewerParams,
    Lower,
    NoWorse,
)

CLAIMS: list[Experiment] = []
_add = CLAIMS.append

# -- 1. ReLU vs tanh -----------------------------------------------------------------------

_RELU = Arm(
    "ReLU", "alexnet_fig1", {"activation": "relu", **HE}, recipe="cifar", lrs=(0.02, 0.04, 0.07)
)
_TANH = Arm(
    "tanh", "alexnet_fig1", {"activation": "tanh", **HE}, recipe="cifar", lrs=(0.02, 0.04, 0.07)
)
_RELU_TANH_TRAIN = {
    **FULL_DATA,
    "schedule": "constant",
    "milestones": [],
    "weight_decay": 0.0,
    "augment": "none",
    "epochs": 10,
    "stop_error": 25.0,
}
_add(
    Experiment(
        name="relu_vs_tanh",
        claim="ReLU networks train several times faster than tanh networks",
        source="AlexNet, Figure 1 and Sec. 3.1",
        paper="a four-layer CNN with ReLUs reaches 25% training error on CIFAR-10 six times "
        "faster than an equivalent network with tanh neurons (each with its best learning rate, "
        "no regularisation)",
        regime="optimisation",
        arms=(_RELU, _TANH),
        budgets={
            "smoke": SMOKE,
            "quick": quick_budget(
                {**_RELU_TANH_TRAIN, "limit": 10_000, "epochs": 20},
                "10,000 training images, constant lr, stopped at 25% training error (at most "
                "20 epochs); lr from a grid per activation (one seed), then 3 seeds at it",
            ),
            "paper": Budget({**_RELU_TANH_TRAIN, "epochs": 40, "tensorboard": True}),
        },
        metric=steps_to(25.0),
        parts=(Faster(_RELU, _TANH, paper_ratio=6),),
        plot="curves",
        plot_args={"threshold": 25.0},
        design="The paper does not say which four-layer network; alexnet_fig1 is our choice: "
        "cuda-convnet's CIFAR-10 example stack (three 5x5 convolutions with max and average "
        "pools) and one classifier layer. No weight decay, augmentation or lr decay, as in "
        "Figure 1. Both activations start from the same weights (He initialisation with ReLU's "
        "gain for both). The training error is that of the last 20 mini-batches; an arm stops the "
        "step it falls below 25%. The best lr of each activation is chosen on one grid seed; "
        "the 3 seeds that are compared are others. A pilot decided the quick budget's data: on "
        "all 50,000 images ReLU at lr 0.02 was still at 33.5% training error after 7 epochs "
        "(2,730 iterations, 40 s an epoch on a 2-core AMD EPYC in fp32), so 12 runs to 25% "
        "would take over an hour; on 10,000 images (the paper budget keeps all 50,000) the "
        "first design's runs reached it in 1,070-1,545 iterations.",
    )
)

# -- 2. AlexNet's ablations ------------------------------------------------------------------

_BOTH = Arm("dropout + augmentation", "alexnet_cifar", HE, group="regularisation")
_NO_DROPOUT = Arm("no dropout", "alexnet_cifar", HE, {"drop_rate": 0.0}, group="regularisation")
_NO_AUGMENT = Arm(
    "no augmentation", "alexnet_cifar", HE, {"augment": "none"}, group="regularisation"
)
_NEITHER = Arm(
    "neither",
    "alexnet_cifar",
    HE,
    {"drop_rate": 0.0, "augment": "none"},
    group="regularisation",
)
_NO_LRN = Arm("no LRN", "alexnet_cifar", {**HE, "lrn": False}, group="2012-14")
_NO_OVERLAP = Arm("no overlap (2x2/2)", "alexnet_cifar", {**HE, "overlap": False}, group="2012-14")
_SMALL_EFFECT = "the paper's effect (0.4-1.4 points on ImageNet) needs the paper budget"
_add(
    Experiment(
        name="alexnet_ablations",
        claim="LRN, overlapping pooling, dropout and data augmentation each lower AlexNet's error",
        source="AlexNet, Sec. 3.3, 3.4, 4.1 and 4.2",
        paper="LRN lowers top-1/top-5 by 1.4/1.2% (and a four-layer CIFAR-10 CNN from 13% to 11% "
        "test error); overlapping pooling by 0.4/0.3%; without dropout or augmentation the network "
        "overfits substantially",
        regime="regularisation",
        arms=(_BOTH, _NO_DROPOUT, _NO_AUGMENT, _NEITHER, ALEXNET, _NO_LRN, _NO_OVERLAP),
        budgets={
            "smoke": SMOKE,
            "quick": quick_budget(
                REGULARISATION,
                "dropout and augmentation: 5,000 training images for 30 epochs, tested on "
                "5,000 test images; LRN and overlapping pooling: " + ARCH_NOTE,
                groups={"2012-14": ARCHITECTURE},
            ),
            "paper": PAPER,
        },
        metric=TEST_ERROR,
        parts=(
            Lower(_BOTH, _NO_DROPOUT),
            Lower(_BOTH, _NO_AUGMENT),
            Lower(ALEXNET, _NO_LRN, if_inconclusive=_SMALL_EFFECT),
            Lower(ALEXNET, _NO_OVERLAP, if_inconclusive=_SMALL_EFFECT),
        ),
        plot="bars",
        design="alexnet_cifar (AlexNet scaled to 32x32) on CIFAR-10 rather than ImageNet, at a "
        "quarter of its widths, He initialisation. Dropout and augmentation fight overfitting, "
        "so they are measured where the network overfits (a 5,000-image subset, 30 epochs: "
        "the train-test gap is in the table); LRN and overlapping pooling change the "
        "architecture, so they are measured on the full data. LRN with the paper's constants "
        "(k=2, n=5, alpha=1e-4, beta=0.75) on normalised inputs scales every activation by "
        "about 2^-0.75 (see the discussion); the paper's inputs were raw mean-subtracted pixels.",
    )
)

# -- 3. stacked 3x3 --------------------------------------------------------------------------

_VGG_5X5 = Arm("VGG (B): 5x5", "vgg13_cifar", {"large_kernels": True}, group="2012-14")
_add(
    Experiment(
        name="stacked_3x3",
        claim="stacked 3x3 convolutions beat one large convolution of the same receptive field, "
        "with fewer weights",
        source="VGG, Sec. 2.3 and 4.1",
        paper="configuration B with each pair of 3x3 convolutions replaced by one 5x5 has a "
        "7% higher top-1 error; two 3x3 have 18C^2 weights against 25C^2",
        regime="architecture",
        arms=(VGG_B, _VGG_5X5),
        budgets={
            "smoke": SMOKE,
            "quick": quick_budget(ARCHITECTURE, ARCH_NOTE, seeds=5),
            "paper": PAPER,
        },  # fmt: skip
        metric=TEST_ERROR,
        parts=(Fewer(VGG_B, _VGG_5X5, counts=("params",)), Lower(VGG_B, _VGG_5X5)),
        plot="bars",
        extra=lambda: _stacked_counts(),
        design="Configuration B only: D's 7x7 replacements run on 4x4 and 2x2 maps at 32x32, "
        "where they are degenerate. VGG's CIFAR variant (BN, one linear head) at a quarter "
        "of its widths; large_kernels replaces each pair of 3x3 convolutions by one 5x5. "
        "5 seeds: the effect on CIFAR is expected below 2 points.",
    )
)

# -- 4. 1x1 reductions -----------------------------------------------------------------------

_NAIVE = Arm(
    "GoogLeNet: no reductions, equal parameters",
    "googlenet_cifar",
    {"reductions": False, "width": 0.125},
)
_add(
    Experiment(
        name="one_by_one",
        claim="1x1 reductions let a 22-layer GoogLeNet have fewer parameters than AlexNet's 8 "
        "layers, without costing accuracy",
        source="GoogLeNet, Sec. 4-5 (Figure 2, Table 1); VGG configuration C vs D (Sec. 4.1)",
        paper="GoogLeNet uses 12 times fewer parameters than AlexNet while being more accurate; "
        "without the reductions the 3x3 and 5x5 convolutions become prohibitively expensive",
        regime="architecture",
        arms=(GOOGLENET, _NAIVE),
        budgets={"smoke": SMOKE, "quick": quick_budget(ARCHITECTURE, ARCH_NOTE), "paper": PAPER},
        metric=TEST_ERROR,
        parts=(
            FewerParams("googlenet_paper", "alexnet_paper", "22 layers against 8"),
            NoWorse(GOOGLENET, _NAIVE, margin=1.0),
        ),
        plot="bars",
        extra=lambda: _quiz(),
        design="Equal parameters, so that the comparison is of what the reductions buy: "
        "googlenet_cifar with its 1x1 reductions at a quarter of its widths (372,578 "
        "parameters) against the same network without reductions at an eighth (380,718). "
        "Without reductions the pool projection stays, so every block keeps Table 1's output "
        "width. No loss: the reductions' error at most 1 point above the other's (95% interval).",
    )
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
