"""DenseNet: Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017 (arXiv 2016).

Each layer of a dense block sees the concatenation of all earlier feature maps in the block
(Sec. 3, Eq. 2) and adds ``growth_rate`` (k) new ones. DenseNet-B puts a 1x1 "bottleneck"
conv with 4k filters before each 3x3; DenseNet-C compresses channels by theta = 0.5 in each
transition (BN -> 1x1 conv -> 2x2 average pool). The ImageNet networks are DenseNet-BC,
torchvision's module for module (its checkpoints load, including the old key format).
The CIFAR networks of Sec. 4 (three dense blocks on 32, 16 and 8 pixel maps,
:mod:`moderncnn.models.densenet_cifar`) use the same classes. ``memory_efficient=True``
recomputes each layer's concatenation -> BN -> ReLU -> 1x1 conv in the backward pass (Pleiss
et al., "Memory-Efficient Implementation of DenseNets", 2017) instead of storing it: the same
outputs and gradients in less memory.

Initialisation (``init``): "paper" is the authors' code (liuzhuang13/DenseNet, from
fb.resnet.torch; Sec. 4.2 cites He et al. 2015): conv weights N(0, 2 / fan_out), BN weight 1
and bias 0, classifier bias 0 and Torch's default U(+-1/sqrt(fan_in)) weights (PyTorch's
default too). "torchvision" is the same with fan_in for the convs. Variants torchvision ships
default to "torchvision", the others (DenseNet-264, the CIFAR networks) to "paper".
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.layers import check_drop_rate
from moderncnn.models.registry import Builder, ReportedError, register_model

register = functools.partial(
    register_model,
    family="densenet",
    paper="Huang, Liu, van der Maaten & Weinberger, Densely Connected Convolutional Networks, "
    "CVPR 2017",
    year=2016,
)
INITS = ("torchvision", "paper")


class DenseLayer(nn.Module):
    """BN-ReLU-Conv(1x1, bn_size*k)-BN-ReLU-Conv(3x3, k) (DenseNet-B), or with
    ``bn_size=None`` the basic BN-ReLU-Conv(3x3, k) layer. ``conv1`` is always the conv
    applied to the concatenated input: the part ``memory_efficient`` recomputes."""

    def __init__(
        self,
        num_input_features: int,
        growth_rate: int,
        bn_size: int | None = 4,
        drop_rate: float = 0.0,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        first_out = growth_rate if bn_size is None else bn_size * growth_rate
        kernel = 3 if bn_size is None else 1
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(
            num_input_features, first_out, kernel, padding=kernel // 2, bias=False
        )
        if bn_size is not None:
            self.norm2 = nn.BatchNorm2d(first_out)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(first_out, growth_rate, 3, padding=1, bias=False)
        self.bottleneck = bn_size is not None
        self.drop_rate = check_drop_rate(float(drop_rate))
        self.memory_efficient = memory_efficient

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        # Dropout after each conv, as the paper's code does; torchvision drops after conv2 only.
        return F.dropout(x, p=self.drop_rate, training=self.training) if self.drop_rate else x

    def bn_function(self, inputs: list[torch.Tensor], update_stats: bool = True) -> torch.Tensor:
        """concat -> BN -> ReLU -> conv1. ``update_stats=False`` (the backward recomputation)
        normalises with the same batch statistics but leaves the running averages alone, so
        they are updated once per step, exactly as without recomputation."""
        x = torch.cat(inputs, 1)
        n = self.norm1
        if update_stats or not self.training:
            x = n(x)
        else:
            # Throw-away copies of the running statistics: the op (and what autograd saves)
            # is the same as in the first pass, the module's statistics stay untouched.
            stats = (n.running_mean.clone(), n.running_var.clone())
            x = F.batch_norm(x, *stats, n.weight, n.bias, True, 0.0, n.eps)
        return self.conv1(self.relu1(x))

    def _checkpointed(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        calls = []

        def closure(*xs: torch.Tensor) -> torch.Tensor:
            calls.append(None)  # the first call is the forward, later ones recompute
            return self.bn_function(list(xs), update_stats=len(calls) == 1)

        return cp.checkpoint(closure, *inputs, use_reentrant=False)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        inputs = [x] if isinstance(x, torch.Tensor) else x
        # Tested in this order so that symbolic tracing (torch.fx) never asks a traced tensor
        # for requires_grad unless memory_efficient asks for recomputation.
        if (
            self.memory_efficient
            and torch.is_grad_enabled()
            and any(t.requires_grad for t in inputs)
        ):
            out = self._checkpointed(inputs)
        else:
            out = self.bn_function(inputs)
        if self.bottleneck:
            out = self.conv2(self.relu2(self.norm2(self._dropout(out))))
        return self._dropout(out)


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (``denselayer1``...); returns all maps concatenated."""

    def __init__(
        self,
        num_layers: int,
        num_input_features: int,
        growth_rate: int,
        bn_size: int | None = 4,
        drop_rate: float = 0.0,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(
                num_input_features + i * growth_rate,
                growth_rate,
                bn_size,
                drop_rate,
                memory_efficient,
            )
            self.add_module(f"denselayer{i + 1}", layer)
        self.out_channels = num_input_features + num_layers * growth_rate

    def forward(self, init_features: torch.Tensor) -> torch.Tensor:
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN -> ReLU -> 1x1 conv (to ``num_output_features``) -> 2x2 average pool (Sec. 3)."""

    def __init__(
        self, num_input_features: int, num_output_features: int, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, 1, bias=False)
        if drop_rate:
            self.drop = nn.Dropout(drop_rate)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(ConvNet):
    """Stem, dense blocks joined by transitions, BN, ReLU, global average pool, linear.

    Args:
        growth_rate: k, channels each layer adds.
        block_config: layers per dense block.
        num_init_features: channels of the stem conv (2k for DenseNet-BC, 16 otherwise).
        bn_size: bottleneck width factor (4 in the paper), or None for no bottleneck.
        compression: theta, the fraction of channels a transition keeps.
        drop_rate: dropout after each conv (the paper uses 0.2 on CIFAR without augmentation).
        stem: "imagenet" (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or "cifar" (one 3x3 conv).
        memory_efficient: recompute concatenation-BN-ReLU-conv in backward.
        init: "torchvision" or "paper" (module docstring).
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int | None = 4,
        compression: float = 0.5,
        stem: str = "imagenet",
        *,
        num_classes: int,
        in_chans: int,
        drop_rate: float,
        memory_efficient: bool,
        init: str,
    ) -> None:
        super().__init__(num_classes, in_chans)
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        imagenet = stem == "imagenet"
        if imagenet:
            self.features = nn.Sequential(
                OrderedDict(
                    conv0=nn.Conv2d(
                        in_chans, num_init_features, 7, stride=2, padding=3, bias=False
                    ),
                    norm0=nn.BatchNorm2d(num_init_features),
                    relu0=nn.ReLU(inplace=True),
                    pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
                )
            )
        else:
            self.features = nn.Sequential(
                OrderedDict(
                    conv0=nn.Conv2d(in_chans, num_init_features, 3, padding=1, bias=False),
                )
            )
        # Feature stages (timm's): the stem after its ReLU (CIFAR's: the conv), each dense
        # block but the last (before its transition), the final BN-ReLU.
        channels = num_init_features
        stem_map = "features.relu0" if imagenet else "features.conv0"
        self.feature_info = [
            dict(num_chs=channels, reduction=2 if imagenet else 1, module=stem_map)
        ]
        reduction = 4 if imagenet else 1
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(
                num_layers, channels, growth_rate, bn_size, drop_rate, memory_efficient
            )
            name = f"denseblock{i + 1}"
            self.features.add_module(name, block)
            channels = block.out_channels
            if i != len(block_config) - 1:
                stage = dict(num_chs=channels, reduction=reduction, module=f"features.{name}")
                self.feature_info.append(stage)
                out = int(channels * compression)
                self.features.add_module(f"transition{i + 1}", Transition(channels, out, drop_rate))
                channels = out
                reduction *= 2
        self.features.add_module(f"norm{len(block_config) + 1}", nn.BatchNorm2d(channels))
        self.final_act = nn.ReLU(inplace=True)  # torchvision's F.relu after ``features``
        self.feature_info.append(dict(num_chs=channels, reduction=reduction, module="final_act"))
        self.classifier = nn.Linear(channels, num_classes)
        self.classifier_widths = {"classifier": channels}
        fan = "fan_out" if init == "paper" else "fan_in"
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode=fan, nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_act(self.features(self.check_input(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return x if pre_logits else self.classifier(x)


def densenet(
    growth_rate: int,
    block_config: Sequence[int],
    num_init_features: int,
    bn_size: int | None,
    compression: float,
    stem: str,
    num_classes: int,
    in_chans: int,
    *,
    drop_rate: float = 0.0,
    memory_efficient: bool = False,
    init: str = "torchvision",
) -> DenseNet:
    """The builder of every registered DenseNet: the tables below bind the structure
    (Table 1 for ImageNet, Sec. 4.2 for CIFAR), the rest are the model's options."""
    return DenseNet(
        growth_rate, block_config, num_init_features, bn_size, compression, stem,
        num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate,
        memory_efficient=memory_efficient, init=init,
    )  # fmt: skip


# ----------------------------------------------------------------------------- ImageNet
_T3 = "ILSVRC-2012 val, single crop (Table 3)"
#: Table 1: name -> (depth, k, layers per dense block, stem channels), parameters, Table 3's
#: top-1/top-5: what :func:`imagenet_densenet` builds and :func:`register_imagenet` records.
#: DenseNet-161 (k=48) is from the authors' code and torchvision, not the paper's tables;
#: Table 1's DenseNet-264 counts 265 weight layers (2 x 130 + stem + 3 transitions +
#: classifier); the paper's name is kept.
IMAGENET = {
    "densenet121": (121, 32, (6, 12, 24, 16), 64, 7_978_856, (25.02, 7.71)),
    "densenet161": (161, 48, (6, 12, 36, 24), 96, 28_681_000, None),
    "densenet169": (169, 32, (6, 12, 32, 32), 64, 14_149_480, (23.80, 6.85)),
    "densenet201": (201, 32, (6, 12, 48, 32), 64, 20_013_928, (22.58, 6.34)),
    "densenet264": (264, 32, (6, 12, 64, 48), 64, 33_337_704, (22.15, 6.12)),
}
#: The variants torchvision ships (their init defaults to torchvision's).
TORCHVISION = ("densenet121", "densenet161", "densenet169", "densenet201")


def register_imagenet(fn: Builder) -> Builder:
    """Record an ImageNet DenseNet with its row of :data:`IMAGENET`."""
    depth, k, _, _, params, err = IMAGENET[fn.__name__]
    return register(
        depth=depth,
        input_size=(3, 224, 224),
        min_input_size=29,  # stem conv 7x7/2 and max pool 3x3/2, then three 2x2 pools
        dataset="imagenet",
        num_classes=1000,
        params=params,
        reported_error=None if err is None else ReportedError(_T3, *err),
        torchvision=fn.__name__ if fn.__name__ in TORCHVISION else None,
        notes=f"DenseNet-BC (k={k}, 4k bottleneck, compression 0.5)"
        + ("" if err else "; from the authors' code, not in the paper's Table 3"),
        options_from=densenet,
    )(fn)


def imagenet_densenet(name: str, num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """The DenseNet-BC registered as ``name`` (4k bottlenecks, compression 0.5), its
    structure from :data:`IMAGENET`."""
    _, k, blocks, stem, _, _ = IMAGENET[name]
    return densenet(k, blocks, stem, 4, 0.5, "imagenet", num_classes, in_chans, **options)


@register_imagenet
def densenet121(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-121 (k=32)."""
    return imagenet_densenet("densenet121", num_classes, in_chans, **options)


@register_imagenet
def densenet161(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-161 (k=48, from the authors' code)."""
    return imagenet_densenet("densenet161", num_classes, in_chans, **options)


@register_imagenet
def densenet169(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-169 (k=32)."""
    return imagenet_densenet("densenet169", num_classes, in_chans, **options)


@register_imagenet
def densenet201(num_classes: int, in_chans: int, **options: Any) -> DenseNet:
    """DenseNet-201 (k=32)."""
    return imagenet_densenet("densenet201", num_classes, in_chans, **options)


@register_imagenet
def densenet264(
    num_classes: int, in_chans: int, *, init: str = "paper", **options: Any
) -> DenseNet:
    """DenseNet-264 (k=32): not a torchvision network, so the authors' init by default."""
    return imagenet_densenet("densenet264", num_classes, in_chans, init=init, **options)
