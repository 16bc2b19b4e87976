"""The CIFAR-10 ResNets of He et al. 2015, Sec. 4.2: 6n+2 layers (a 3x3 conv, three stages
of n basic blocks at 16, 32 and 64 filters, global average pool, FC), with option A
shortcuts, and their plain counterparts (the same layers, no shortcuts) of Figure 6.
"""

from __future__ import annotations

from typing import Any

from moderncnn.models.layers import init_weights
from moderncnn.models.registry import Builder, ReportedError
from moderncnn.models.resnet import BasicBlock, Bottleneck, ResNet, register, resnet_or_preact
from moderncnn.models.resnet_base import ResNetBase, cifar_stages


def cifar_resnet(
    depth: int,
    num_classes: int,
    in_chans: int,
    *,
    shortcut: str = "A",
    preact: bool = False,
    zero_init_residual: bool = False,
    bottleneck: bool = False,
) -> ResNetBase:
    """The 6n+2-layer CIFAR network of Sec. 4.2: a 3x3 conv, three stages of n basic blocks
    at 16, 32 and 64 filters on 32, 16 and 8 pixel maps, global average pool, FC.

    ``bottleneck=True`` builds the stages from the bottleneck blocks of Sec. 4.1 ("Deeper
    Bottleneck Architectures", Figure 5 right): 1x1-3x3-1x1 convs of 16, 32 and 64 planes with
    64, 128 and 256 outputs, three layers a block, so the same depth is 9n+2 layers (n blocks
    a stage: 2 for ResNet-20, 6 for ResNet-56, 12 for ResNet-110). The first block changes 16
    to 64 channels, so it has a shortcut of the kind ``shortcut`` picks (A pads zeros)."""
    if bottleneck and (depth - 2) % 9:
        valid = ", ".join(name for name, (d, *_) in CIFAR.items() if (d - 2) % 9 == 0)
        raise ValueError(
            f"bottleneck=True needs depth 9n+2 (three layers a block), got {depth}; "
            f"the CIFAR ResNets of such depths are {valid}"
        )
    block, per_block = (Bottleneck, 9) if bottleneck else (BasicBlock, 6)
    return resnet_or_preact(
        block, cifar_stages(depth, per_block), num_classes, in_chans, preact, widths=(16, 32, 64),
        stem="cifar", shortcut=shortcut, zero_init_residual=zero_init_residual,
    )  # fmt: skip


#: ``init`` of the plain networks: torchvision's ResNet init (that of
#: :mod:`~moderncnn.models.resnet_base`), or He et al. 2015's fan_in mode for every layer
#: (:func:`moderncnn.models.layers.init_weights`).
PLAIN_INITS = ("torchvision", "he")


def plain_cifar(
    depth: int, num_classes: int, in_chans: int, *, batch_norm: bool = True,
    init: str = "torchvision",
) -> ResNet:  # fmt: skip
    """The plain 6n+2-layer network of Sec. 4.2: the same layers as ``cifar_resnet``, no
    shortcuts. ``batch_norm=False`` also leaves out the BN that Sec. 3.4 adopts "right after
    each convolution and before activation" (Ioffe & Szegedy 2015), stem's and blocks'; the
    convs then have biases (zero at init, He init for the weights). ``init="he"`` takes He
    et al.'s fan_in mode, which keeps the forward signal's variance (fan_out keeps the
    gradient's), for the classifier too: what a network without BN needs to start."""
    model = ResNet(
        BasicBlock, cifar_stages(depth, 6), num_classes, in_chans, widths=(16, 32, 64),
        stem="cifar", shortcut="A", zero_init_residual=False, residual=False,
        batch_norm=batch_norm,
    )  # fmt: skip
    init_weights(model, init, PLAIN_INITS)
    return model


#: Sec. 4.2 / Table 6: depth, CIFAR-10 test error (%) and parameters. The plain networks
#: (``plain20`` for ``resnet20``, ...) have the same parameters (option A adds none); their
#: errors are only plotted (Figure 6).
CIFAR = {
    "resnet20": (20, 8.75, 269_722),
    "resnet32": (32, 7.51, 464_154),
    "resnet44": (44, 7.17, 658_586),
    "resnet56": (56, 6.97, 853_018),
    "resnet110": (110, 6.43, 1_727_962),
    "resnet1202": (1202, 7.93, 19_421_274),
}


def register_cifar(fn: Builder) -> Builder:
    """Record a CIFAR ResNet with its row of :data:`CIFAR`."""
    depth, error, params = CIFAR[fn.__name__]
    best_of_5 = "; best of 5 runs" if depth == 110 else ""
    return register(
        depth=depth, input_size=(3, 32, 32), dataset="cifar10", num_classes=10, params=params,
        reported_error=ReportedError(f"CIFAR-10 test (Table 6{best_of_5})", top1=error),
        notes=f"CIFAR Sec. 4.2, option A, 6n+2 = {depth} layers.", options_from=cifar_resnet,
    )(fn)  # fmt: skip


def register_plain(fn: Builder) -> Builder:
    """Record a plain CIFAR network with its ResNet's depth and parameters."""
    depth, _, params = CIFAR[fn.__name__.replace("plain", "resnet")]
    return register(
        depth=depth, input_size=(3, 32, 32), dataset="cifar10", num_classes=10, params=params,
        notes=f"CIFAR plain network (no shortcuts), Sec. 4.2, {depth} layers.",
        options_from=plain_cifar,
    )(fn)  # fmt: skip


@register_cifar
def resnet20(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-20: n = 3 basic blocks a stage."""
    return cifar_resnet(20, num_classes, in_chans, **options)


@register_cifar
def resnet32(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-32: n = 5 basic blocks a stage."""
    return cifar_resnet(32, num_classes, in_chans, **options)


@register_cifar
def resnet44(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-44: n = 7 basic blocks a stage."""
    return cifar_resnet(44, num_classes, in_chans, **options)


@register_cifar
def resnet56(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-56: n = 9 basic blocks a stage."""
    return cifar_resnet(56, num_classes, in_chans, **options)


@register_cifar
def resnet110(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-110: n = 18 basic blocks a stage."""
    return cifar_resnet(110, num_classes, in_chans, **options)


@register_cifar
def resnet1202(num_classes: int, in_chans: int, **options: Any) -> ResNetBase:
    """ResNet-1202: n = 200 basic blocks a stage."""
    return cifar_resnet(1202, num_classes, in_chans, **options)


@register_plain
def plain20(num_classes: int, in_chans: int, **options: Any) -> ResNet:
    """The plain 20-layer network: n = 3 blocks a stage, no shortcuts."""
    return plain_cifar(20, num_classes, in_chans, **options)


@register_plain
def plain32(num_classes: int, in_chans: int, **options: Any) -> ResNet:
    """The plain 32-layer network: n = 5 blocks a stage, no shortcuts."""
    return plain_cifar(32, num_classes, in_chans, **options)


@register_plain
def plain44(num_classes: int, in_chans: int, **options: Any) -> ResNet:
    """The plain 44-layer network: n = 7 blocks a stage, no shortcuts."""
    return plain_cifar(44, num_classes, in_chans, **options)


@register_plain
def plain56(num_classes: int, in_chans: int, **options: Any) -> ResNet:
    """The plain 56-layer network: n = 9 blocks a stage, no shortcuts."""
    return plain_cifar(56, num_classes, in_chans, **options)


@register_plain
def plain110(num_classes: int, in_chans: int, **options: Any) -> ResNet:
    """The plain 110-layer network: n = 18 blocks a stage, no shortcuts."""
    return plain_cifar(110, num_classes, in_chans, **options)
