"""The lecture's claims about the 2015-2017 networks (ResNet, DenseNet) and the five
families side by side, declared as in :mod:`moderncnn.experiments.catalog`."""

from __future__ import annotations

from moderncnn.experiments.budgets import (
    ALEXNET,
    ARCH_NOTE,
    ARCHITECTURE,
    DENSENET,
    GOOGLENET,
    HE,
    OPT_ITERATIONS,
    OPTIMISATION,
    PAPER,
    RESNET20,
    SMOKE,
    VGG_B,
    quick_budget,
)
from moderncnn.experiments.measures import (
    EFFECTIVE_FIELD,
    SMOOTHNESS,
    TEST_ERROR,
    TRAIN_ERROR,
    initial_effective_size,
    initial_smoothness,
)
from moderncnn.experiments.spec import Arm, Experiment
from moderncnn.experiments.verdicts import (
    Below,
    Equivalent,
    Fewer,
    Lower,
    NoWorse,
    Trained,
)

CLAIMS: list[Experiment] = []
_add = CLAIMS.append

# -- 5. degradation --------------------------------------------------------------------------

_PLAIN20 = Arm("plain-20", "plain20", group="plain")
_PLAIN56 = Arm("plain-56", "plain56", group="plain")
_RES20_OPT = Arm("ResNet-20", "resnet20", group="residual", paper="8.75% test error")
_RES56_OPT = Arm("ResNet-56", "resnet56", group="residual", paper="6.97% test error")
_OPT_NOTE = f"all 50,000 training images, {OPT_ITERATIONS:,} iterations of 128, one-cycle schedule"
_add(
    Experiment(
        name="degradation",
        claim="a deeper plain network trains worse than a shallower one; a deeper residual "
        "network trains better",
        source="ResNet, Figure 1 and Figure 6 (Sec. 4.2)",
        paper="plain-56 has higher training (and test) error than plain-20 throughout training; "
        "ResNet-56 has lower error than ResNet-20 (test 6.97% against 8.75%, Table 6)",
        regime="optimisation",
        arms=(_PLAIN20, _PLAIN56, _RES20_OPT, _RES56_OPT),
        budgets={"smoke": SMOKE, "quick": quick_budget(OPTIMISATION, _OPT_NOTE), "paper": PAPER},
        metric=TRAIN_ERROR,
        parts=(Lower(_PLAIN20, _PLAIN56), Lower(_RES56_OPT, _RES20_OPT)),
        plot="curves",
        design="Training error of the last epoch (the paper's Figure 1 is about training error). "
        "The residual pair at this budget is far from the paper's 64,000 iterations: how far "
        "is in the table (test error beside the paper's 8.75 and 6.97).",
    )
)

# -- 6. residual options ---------------------------------------------------------------------

_A = RESNET20
_B = Arm("B: projections where shapes change", "resnet20", {"shortcut": "B"})
_C = Arm("C: all projections", "resnet20", {"shortcut": "C"})
_PREACT = Arm("pre-activation", "resnet20", {"preact": True}, group="paper budget")
_BOTTLENECK = Arm("bottleneck (B)", "resnet20", {"bottleneck": True, "shortcut": "B"})
_add(
    Experiment(
        name="residual_options",
        claim="projection shortcuts are not essential (A, B and C are close), bottlenecks "
        "give depth for less compute, pre-activation helps",
        source="ResNet, Table 3 and Sec. 3.3, 4.1; Identity Mappings, Table 3",
        paper="ResNet-34 top-1 (10-crop) 25.03 (A), 24.52 (B), 24.19 (C): 'projections are not "
        "essential'; bottleneck ResNet-50 22.85 at similar FLOPs to ResNet-34; ResNet-110 on "
        "CIFAR-10 6.61 (original) vs 6.37 (full pre-activation)",
        regime="architecture",
        arms=(_A, _B, _C, _BOTTLENECK, _PREACT),
        budgets={
            "smoke": SMOKE,
            "quick": quick_budget(ARCHITECTURE, ARCH_NOTE, skip=("paper budget",)),
            "paper": PAPER,
        },
        metric=TEST_ERROR,
        parts=(
            Equivalent(_A, _B, margin=1.0),
            Equivalent(_B, _C, margin=1.0),
            Fewer(_BOTTLENECK, _B),
            NoWorse(_BOTTLENECK, _B, margin=1.0),
            Lower(_PREACT, _A),
        ),
        plot="bars",
        design="All on ResNet-20 (CIFAR). A/B/C: equivalence within 1 point (the paper's "
        "differences are 0.3-0.5 points). Bottleneck: two 1x1-3x3-1x1 units a stage (9n+2 = "
        "20 layers, 4x wider outputs) at 0.83x the MACs of the basic network, no loss within "
        "1 point; the deeper bottleneck network at equal MACs (ResNet-56 with bottlenecks, "
        "87M MACs) costs 3 times this budget. Pre-activation (0.24 points at 110 layers) is "
        "trained at the paper budget only.",
    )
)

# -- 7. batch norm ---------------------------------------------------------------------------

_NO_BN = Arm("no BN, lr 0.1", "plain20", {"batch_norm": False, **HE}, group="plain")
_NO_BN_SLOW = Arm(
    "no BN, lr 0.01", "plain20", {"batch_norm": False, **HE}, {"lr": 0.01}, group="plain"
)
_add(
    Experiment(
        name="batch_norm",
        claim="BN after each convolution is what lets a deep plain network train at the "
        "recipe's learning rate",
        source="the lecture; ResNet Sec. 3.4 (BN after each convolution); Ioffe & Szegedy 2015",
        paper="ResNet trains its plain networks with BN at lr 0.1; BN 'allows much higher "
        "learning rates' (Ioffe & Szegedy)",
        regime="optimisation",
        arms=(_PLAIN20, _NO_BN, _NO_BN_SLOW),
        budgets={"smoke": SMOKE, "quick": quick_budget(OPTIMISATION, _OPT_NOTE), "paper": PAPER},
        metric=TRAIN_ERROR,
        parts=(Lower(_PLAIN20, _NO_BN), Lower(_PLAIN20, _NO_BN_SLOW)),
        plot="curves",
        design="plain-20 (the degradation experiment's run) against plain-20 without BN, He "
        "initialisation, at the recipe's lr 0.1 and at 0.01. A diverged run counts as chance "
        "(90% error).",
    )
)

# -- 8. dense vs residual --------------------------------------------------------------------

_RES32 = Arm("ResNet-32", "resnet32", group="ResNet", paper="7.51% test error")
_add(
    Experiment(
        name="dense_vs_residual",
        claim="dense connections are more parameter-efficient than residual ones",
        source="DenseNet, Figure 4 and Table 2",
        paper="DenseNet-BC-100 (0.8M parameters) 4.51% test error on CIFAR-10+ against ResNet-110 "
        "(1.7M) 6.41%; DenseNet-BC reaches ResNet's error with about a third of the parameters",
        regime="architecture",
        arms=(DENSENET, RESNET20, _RES32),
        budgets={"smoke": SMOKE, "quick": quick_budget(ARCHITECTURE, ARCH_NOTE), "paper": PAPER},
        metric=TEST_ERROR,
        parts=(
            Fewer(DENSENET, RESNET20, counts=("params",)),
            NoWorse(DENSENET, RESNET20, margin=1.0),
            NoWorse(DENSENET, _RES32, margin=1.0),
        ),
        plot="scatter",
        design="DenseNet-BC-40 (176,122 parameters) against ResNet-20 (1.5x its parameters) "
        "and ResNet-32 (2.6x), with equal batch and iterations. Parameter-efficient: no worse "
        "than either within 1 point with fewer parameters.",
    )
)

# -- 9. the families -------------------------------------------------------------------------

_add(
    Experiment(
        name="families",
        claim="each family reached lower error with fewer parameters than the one before",
        source="the lecture's comparison of the five families",
        paper="ImageNet top-5: AlexNet 18.2% (61M), VGG-16 7.3% (138M), GoogLeNet 6.7% (7M), "
        "ResNet-152 3.6% (60M) in ILSVRC; DenseNet matches ResNet with fewer parameters",
        regime="architecture",
        arms=(ALEXNET, VGG_B, GOOGLENET, RESNET20, DENSENET),
        budgets={"smoke": SMOKE, "quick": quick_budget(ARCHITECTURE, ARCH_NOTE), "paper": PAPER},
        metric=TEST_ERROR,
        parts=tuple(
            Lower(new, old) for new in (RESNET20, DENSENET) for old in (ALEXNET, VGG_B, GOOGLENET)
        ),
        plot="bubble",
        latency=True,
        design="The runs of the other architecture experiments (one budget, so one run each). "
        "Width policy: the three ImageNet-era families at a quarter of their widths, ResNet-20 "
        "and DenseNet-BC-40 as their papers define them (see NARROW). Each later network "
        "against each earlier one; latency is batch 1 on this CPU, eval mode, median of 10.",
    )
)

# -- 10. filters -----------------------------------------------------------------------------

_add(
    Experiment(
        name="filters",
        claim="the first layer learns oriented edges and colour blobs",
        source="AlexNet, Figure 3 and Sec. 6.1",
        paper="96 convolutional kernels of size 11x11x3 learned by the first layer: frequency- and "
        "orientation-selective kernels and coloured blobs",
        regime="architecture",
        arms=(ALEXNET,),
        budgets={"smoke": SMOKE, "quick": quick_budget(ARCHITECTURE, ARCH_NOTE), "paper": PAPER},
        metric=SMOOTHNESS,
        parts=(Trained(ALEXNET, initial_smoothness),),
        plot="filters",
        design="The AlexNet of the families comparison (full data). Structure is measured as "
        "the correlation of adjacent weights of the 5x5 first-layer filters: about 0 for random "
        "filters, high for smooth edges and colour blobs; the claim is that training raises it "
        "above the same seed's initialisation (no fixed threshold). For an ImageNet network's "
        "11x11 filters: moderncnn filters DEFAULT --model alexnet -o filters.png.",
    )
)


# -- 11. the effective receptive field ------------------------------------------------------

#: The theoretical receptive field of ResNet-20's last map (px), recounted by the tests.
RESNET20_FIELD = 81
_add(
    Experiment(
        name="effective_field",
        claim="a unit's effective receptive field is much smaller than its theoretical one, "
        "and grows with training",
        source="Luo, Li, Urtasun & Zemel 2016, Sec. 2-5",
        paper="the effective receptive field is Gaussian-shaped and occupies a fraction of the "
        "theoretical one (it grows as the square root of depth, the theoretical one linearly); "
        "it grows during training (Fig. 4: CIFAR-10, before and after)",
        regime="architecture",
        arms=(RESNET20,),
        budgets={"smoke": SMOKE, "quick": quick_budget(ARCHITECTURE, ARCH_NOTE), "paper": PAPER},
        metric=EFFECTIVE_FIELD,
        parts=(
            Below(RESNET20, RESNET20_FIELD / 2**0.5, "half the theoretical field's area"),
            Trained(RESNET20, initial_effective_size),
        ),
        plot="erf",
        design="The ResNet-20 of the architecture experiments. The effective field of the last "
        "map's centre unit: the mean |gradient| over 32 random N(0, 1) inputs of 3x96x96 "
        "(larger than the 81-px theoretical field, all of which is then seen), summarised as "
        "the side of the square around the unit holding 95% of it (moderncnn erf). Much "
        "smaller: under half the theoretical field's area (side 81 / sqrt 2 = 57 px); grows: "
        "trained minus the same seed's fresh network, per seed.",
    )
)
