"""The budgets of the lecture's experiments (:mod:`moderncnn.experiments.catalog`): the width
policy, the regimes' training settings at each level, and the arms that several experiments
share (one network, one run)."""

from __future__ import annotations

from typing import Any

from moderncnn.experiments.spec import Arm, Budget

#: One width policy for every experiment at smoke and quick: the CIFAR versions of the three
#: ImageNet-era families keep ImageNet's channel counts (AlexNet 5.9M, VGG-13 9.4M, GoogLeNet 5.9M
#: parameters), so they train at a quarter of their widths; ResNet-20 and DenseNet-BC-40 are
#: CIFAR networks as their papers define them and train as they are.
NARROW: dict[str, dict[str, Any]] = {
    "alexnet_cifar": {"width": 0.25},
    "vgg13_cifar": {"width": 0.25},
    "googlenet_cifar": {"width": 0.25},
}
#: He et al. 2015 initialisation for ReLU networks without BN: with PyTorch's default the
#: activations of alexnet_cifar shrink 2-3x a layer (tests/test_signal.py) and training sat
#: at chance for epochs (issue 18's measurement); the report names it.
HE = {"init": "he"}

SMOKE = Budget(
    train={"limit": 80, "val_size": 16, "iterations": 3, "batch_size": 16, "tensorboard": False},
    seeds=1,
    options=NARROW,
    note="3 steps of 16 images: the machinery only, numbers mean nothing, no verdict",
)
PAPER = Budget(train={}, note="the papers' recipes unchanged (full data and schedules)")

#: Every quick run: all 50,000 training images (no held-out split: the last weights are
#: tested on the full 10,000-image test set), batch 128, no TensorBoard.
FULL_DATA: dict[str, Any] = {"limit": 0, "val_size": 0, "batch_size": 128, "tensorboard": False}
#: One-cycle (warm-up over the first quarter, linear decay to zero): the schedule that fits a
#: short budget; the recipes' step milestones do not apply.
ONECYCLE: dict[str, Any] = {"schedule": "onecycle", "milestones": []}
#: Iterations of every architecture arm at quick (equal for all arms of all architecture
#: experiments, so that the families comparison reuses their runs): about one pass over the
#: 50,000 images. The set's 3-hour bound on a 2-core CPU sets it: GoogLeNet (width 0.25) and
#: DenseNet-BC-40 train at about 100-120 images/s there, and 1,200 iterations made the set
#: 10.6 hours (``moderncnn experiment cost all --budget quick``).
ARCH_ITERATIONS = 400
ARCHITECTURE = {**FULL_DATA, **ONECYCLE, "iterations": ARCH_ITERATIONS, "epochs": 0}
#: Iterations of the optimisation arms of the ResNet paper (plain and residual, BN); equal
#: to the architecture arms', so that ResNet-20 is one run for both.
OPT_ITERATIONS = ARCH_ITERATIONS
OPTIMISATION = {**FULL_DATA, **ONECYCLE, "iterations": OPT_ITERATIONS, "epochs": 0}
#: The regularisation regime: a subset small enough to overfit, trained long.
REGULARISATION = {
    **FULL_DATA,
    **ONECYCLE,
    "limit": 5000,
    "epochs": 30,
    "iterations": 0,
}


def quick_budget(train: dict[str, Any], note: str, seeds: int = 3, **kw: Any) -> Budget:
    return Budget(train=train, seeds=seeds, options=NARROW, note=note, **kw)


ARCH_NOTE = (
    f"all 50,000 training images, {ARCH_ITERATIONS:,} iterations of 128 for every arm, "
    "one-cycle schedule, the full test set"
)

# -- the arms, shared between experiments where the claim is the same network ---------------

ALEXNET = Arm("AlexNet", "alexnet_cifar", HE, group="2012-14")
VGG_B = Arm("VGG (B): 3x3 pairs", "vgg13_cifar", group="2012-14")
GOOGLENET = Arm("GoogLeNet: 1x1 reductions", "googlenet_cifar", group="2012-14")
RESNET20 = Arm("ResNet-20", "resnet20", group="2015-17", paper="8.75% (CIFAR-10, Table 6)")
DENSENET = Arm("DenseNet-BC-40", "densenet_bc40_k12", group="2015-17")
