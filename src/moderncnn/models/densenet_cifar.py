"""The CIFAR DenseNets of Huang et al. 2017, Sec. 4: three dense blocks on 32, 16 and 8 pixel
maps, basic (DenseNet) or with bottlenecks and compression (DenseNet-BC), as Table 2 lists
them, with the authors' initialisation by default.
"""

from __future__ import annotations

from typing import Any

from moderncnn.models.densenet import DenseNet, densenet, register
from moderncnn.models.registry import Builder, ReportedError


def cifar_structure(
    depth: int, growth_rate: int, bc: bool
) -> tuple[int, tuple[int, int, int], int, int | None, float, str]:
    """Sec. 4.2: three dense blocks of equal size on 32, 16, 8 pixel maps. A basic DenseNet
    of depth L has (L-4)/3 layers per block and a 16-channel stem; DenseNet-BC has (L-4)/6
    bottleneck layers per block, a 2k-channel stem and theta = 0.5. Returns
    :func:`densenet`'s structural arguments."""
    per_layer = 6 if bc else 3
    if (depth - 4) % per_layer:
        raise ValueError(
            f"CIFAR DenseNet{'-BC' if bc else ''} depth must be {per_layer}n+4, got {depth}"
        )
    n = (depth - 4) // per_layer
    if bc:
        return growth_rate, (n, n, n), 2 * growth_rate, 4, 0.5, "cifar"
    return growth_rate, (n, n, n), 16, None, 1.0, "cifar"


#: Table 2, CIFAR-10 with augmentation (C10+): name -> (L, k, BC, error %, parameters).
#: DenseNet-BC (L=40, k=12) is not in Table 2 (no error): the smallest DenseNet-BC of this
#: list, (40-4)/6 = 6 bottleneck layers a block, for experiments that train on a CPU.
CIFAR: dict[str, tuple[int, int, bool, float | None, int]] = {
    "densenet40_k12": (40, 12, False, 5.24, 1_019_722),
    "densenet_bc40_k12": (40, 12, True, None, 176_122),
    "densenet100_k12": (100, 12, False, 4.10, 6_979_642),
    "densenet100_k24": (100, 24, False, 3.74, 27_249_082),
    "densenet_bc100_k12": (100, 12, True, 4.51, 769_162),
    "densenet_bc250_k24": (250, 24, True, 3.62, 15_324_406),
    "densenet_bc190_k40": (190, 40, True, 3.46, 25_624_430),
}


def cifar_densenet(
    name: str,
    num_classes: int,
    in_chans: int,
    *,
    drop_rate: float = 0.0,
    memory_efficient: bool = False,
    init: str = "paper",
) -> DenseNet:
    """The CIFAR DenseNet registered as ``name``, its structure from :data:`CIFAR`; the
    options are :func:`densenet`'s, with the authors' init by default."""
    depth, k, bc, _, _ = CIFAR[name]
    return densenet(
        *cifar_structure(depth, k, bc), num_classes, in_chans, drop_rate=drop_rate,
        memory_efficient=memory_efficient, init=init,
    )  # fmt: skip


def register_cifar(fn: Builder) -> Builder:
    """Record a CIFAR DenseNet with its row of :data:`CIFAR`."""
    depth, k, bc, err, params = CIFAR[fn.__name__]
    in_table_2 = "." if err else (
        "; not in the paper's Table 2: the smallest DenseNet-BC here, for lecture "
        "experiments that train on a CPU."
    )  # fmt: skip
    return register(
        depth=depth,
        input_size=(3, 32, 32),
        min_input_size=4,  # two 2x2 average pools
        dataset="cifar10",
        num_classes=10,
        params=params,
        reported_error=None
        if err is None
        else ReportedError("CIFAR-10 test, with augmentation (Table 2)", top1=err),
        notes=f"DenseNet{'-BC' if bc else ''} (L={depth}, k={k}) of Sec. 4" + in_table_2,
        options_from=cifar_densenet,
    )(fn)


@register_cifar
def densenet40_k12(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet (L=40, k=12)."""
    return cifar_densenet("densenet40_k12", num_classes, in_chans, **options)


@register_cifar
def densenet_bc40_k12(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-BC (L=40, k=12)."""
    return cifar_densenet("densenet_bc40_k12", num_classes, in_chans, **options)


@register_cifar
def densenet100_k12(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet (L=100, k=12)."""
    return cifar_densenet("densenet100_k12", num_classes, in_chans, **options)


@register_cifar
def densenet100_k24(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet (L=100, k=24)."""
    return cifar_densenet("densenet100_k24", num_classes, in_chans, **options)


@register_cifar
def densenet_bc100_k12(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-BC (L=100, k=12)."""
    return cifar_densenet("densenet_bc100_k12", num_classes, in_chans, **options)


@register_cifar
def densenet_bc250_k24(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-BC (L=250, k=24)."""
    return cifar_densenet("densenet_bc250_k24", num_classes, in_chans, **options)


@register_cifar
def densenet_bc190_k40(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-BC (L=190, k=40)."""
    return cifar_densenet("densenet_bc190_k40", num_classes, in_chans, **options)
