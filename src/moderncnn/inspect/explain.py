"""The lecture's worked examples, each computed by building the modules and counting them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from moderncnn.inspect.summary import Summary, summarize
from moderncnn.models.googlenet import GoogLeNet
from moderncnn.models.probe import InputSize, build_meta

#: The map the two convolution examples run on: 128 channels, 28x28 pixels.
EXAMPLE_INPUT = (128, 28, 28)


@dataclass(frozen=True)
class Option:
    """One side of an example, measured: parameters, MACs and receptive field."""

    label: str
    summary: Summary

    def to_dict(self) -> dict[str, Any]:
        s = self.summary.to_dict()
        return {"label": self.label, **{k: s[k] for k in ("params", "macs", "receptive_field")}}


@dataclass(frozen=True)
class Example:
    title: str
    input: InputSize
    options: list[Option]
    note: str

    @property
    def saving(self) -> float:
        """Parameters the second option (the lecture's design) saves over the first, as a
        fraction of the first."""
        first, second = (o.summary.params for o in self.options)
        return 1 - second / first

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "input": list(self.input),
            "options": [o.to_dict() for o in self.options],
            "saving": round(self.saving, 4),
            "note": self.note,
        }


#: A bias-free 'same' convolution (the lecture counts weights only): in, out channels, kernel.
Conv = tuple[int, int, int]


def _stack(convs: list[Conv]) -> tuple[str, nn.Module]:
    """Convolutions with ReLUs between them, and their label."""
    layers: list[nn.Module] = []
    for cin, cout, k in convs:
        layers += [nn.ReLU()] if layers else []
        layers.append(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False))
    label = ", ReLU, ".join(f"conv {k}x{k} {cin}->{cout}" for cin, cout, k in convs)
    return label, nn.Sequential(*layers)


def _example(title: str, size: InputSize, options: dict[str, nn.Module], note: str) -> Example:
    """Measure each module (label -> module, the lecture's design last) at ``size``."""
    measured = [Option(label, summarize(m.eval(), size, depth=0)) for label, m in options.items()]
    return Example(title, size, measured, note)


def _conv_example(title: str, stacks: list[list[Conv]], note: str) -> Example:
    with torch.device("meta"):
        options = dict(_stack(convs) for convs in stacks)
    return _example(title, EXAMPLE_INPUT, options, note)


def stacked_3x3() -> Example:
    """VGG Sec. 2.3: two stacked 3x3 convolutions see 5x5 with fewer weights than one 5x5
    (2 * 9 C^2 against 25 C^2) and add a non-linearity between them."""
    return _conv_example(
        "Two stacked 3x3 convolutions against one 5x5 (VGG, Sec. 2.3)",
        [[(128, 128, 5)], [(128, 128, 3), (128, 128, 3)]],
        "Same 5x5 receptive field, fewer weights, one more ReLU. Biases excluded.",
    )


def reduction_1x1() -> Example:
    """GoogLeNet Sec. 4: a 1x1 convolution reduces the channels a 3x3 sees."""
    return _conv_example(
        "A 1x1 reduction before a 3x3 convolution (GoogLeNet, Sec. 4)",
        [[(128, 128, 3)], [(128, 32, 1), (32, 128, 3)]],
        "Same 3x3 receptive field and output width. Biases excluded.",
    )


def googlenet_reductions() -> Example:
    """The paper's GoogLeNet with and without its 1x1 reductions (Sec. 4, Table 1)."""
    name = "googlenet_paper"
    with_red, size = build_meta(name, None, aux_logits=False)
    with torch.device("meta"):  # Figure 2(a)'s blocks, the pool projection kept
        naive = GoogLeNet("paper", 1000, 3, aux_logits=False, drop_rate=0.4, reductions=False)
    return _example(
        "GoogLeNet with and without its 1x1 reductions (Sec. 4, Table 1)",
        size,
        {
            f"{name} without reductions (3x3, 5x5 fed the full input)": naive.eval(),
            f"{name} as published": with_red,
        },
        "Whole networks without auxiliary heads: all parameters, biases included.",
    )


def worked_examples() -> list[Example]:
    return [stacked_3x3(), reduction_1x1(), googlenet_reductions()]
