"""moderncnn's local response normalisation against ``nn.LocalResponseNorm``: forward +
backward at AlexNet's LRN sites, runs alternating (A B A B ...), median ratio.

    .venv/bin/python benchmarks/lrn_speed.py [--runs 7]

The shapes are alexnet_cifar's two LRN inputs at width 0.25 and batch 128 (16 x 32 x 32
and 48 x 15 x 15 maps, channels_last as training has them); the constants are the paper's.
Then a whole training step of that network (forward, backward, fused SGD), with each LRN
and with ``nn.LocalResponseNorm`` in its place, and without LRN (``lrn=False``).
"""

from __future__ import annotations

import argparse
import copy
import statistics

import torch
from torch import nn

from moderncnn import create_model
from moderncnn.bench import time_alternating
from moderncnn.loss import compute_loss
from moderncnn.models.layers import paper_lrn

SHAPES = [(128, 16, 32, 32), (128, 48, 15, 15)]


def step(lrn: nn.Module, x: torch.Tensor):
    def run() -> None:
        x.grad = None
        lrn(x).sum().backward()

    return run


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)

    def run() -> None:
        opt.zero_grad(set_to_none=True)
        compute_loss(model(x), y, aux_weight=0.0)[0].backward()
        opt.step()

    return run


def pytorch_lrn(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with nn.LocalResponseNorm in place of each LRN."""
    model = copy.deepcopy(model)
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.LocalResponseNorm):
            model.set_submodule(name, nn.LocalResponseNorm(m.size, m.alpha, m.beta, m.k))
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    ours = paper_lrn()
    theirs = nn.LocalResponseNorm(ours.size, ours.alpha, ours.beta, ours.k)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for shape in SHAPES:
        x = torch.relu(torch.randn(shape)).contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)
        times = time_alternating([step(ours, x), step(theirs, x)], args.runs, x.device, 0.5)
        mine, ref = (statistics.median(t) for t in times)
        ratios = [b / a for a, b in zip(*times, strict=True)]
        print(
            f"{'x'.join(map(str, shape))}: moderncnn {1e3 * mine:.1f} ms, "
            f"nn.LocalResponseNorm {1e3 * ref:.1f} ms; ratio {ref / mine:.2f}x "
            f"(per run: {min(ratios):.2f}-{max(ratios):.2f})"
        )
    torch.manual_seed(0)
    model = create_model("alexnet_cifar", width=0.25).to(memory_format=torch.channels_last)
    plain = create_model("alexnet_cifar", width=0.25, lrn=False)
    models = [model, pytorch_lrn(model), plain.to(memory_format=torch.channels_last)]
    x = torch.randn(128, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,))
    steps = [train_step(m, x, y) for m in models]
    times = [statistics.median(t) for t in time_alternating(steps, args.runs, x.device, 0.5)]
    names = ("moderncnn LRN", "nn.LocalResponseNorm", "no LRN")
    print(
        "alexnet_cifar width 0.25, batch 128, training step: "
        + ", ".join(f"{n} {128 / t:.0f} img/s" for n, t in zip(names, times, strict=True))
    )


if __name__ == "__main__":
    main()
