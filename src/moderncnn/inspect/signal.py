"""How a network's signal travels at a given input: the spread of each activation layer's
output (does it vanish at initialisation?).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

#: Elementwise non-linearities whose outputs :func:`activation_spread` measures.
ACTIVATION_LAYERS = (nn.ReLU, nn.Tanh, nn.GELU, nn.SiLU, nn.Sigmoid)


@contextmanager
def _outputs(
    model: nn.Module, kinds: tuple[type[nn.Module], ...], measure
) -> Iterator[dict[str, object]]:
    """``measure(input, output)`` of every call of a module of ``kinds``, by module name
    (``name#2`` for its second call in one forward, as a block's shared ReLU)."""
    found: dict[str, object] = {}

    def hook(name: str):
        def record(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
            calls = sum(k == name or k.startswith(f"{name}#") for k in found)
            found[name if not calls else f"{name}#{calls + 1}"] = measure(args[0], out)

        return record

    handles = [
        m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, kinds)
    ]
    try:
        yield found
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def activation_spread(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """The standard deviation of every activation layer's output (:data:`ACTIVATION_LAYERS`,
    the signal each next layer receives), in the order they run, then of the logits
    (``"logits"``), for the batch ``x`` in eval mode (no dropout). A spread that falls layer
    after layer is a signal vanishing at initialisation: the gradients vanish with it."""
    was_training = model.training
    model.eval()
    try:
        with _outputs(model, ACTIVATION_LAYERS, lambda i, o: o.float().std().item()) as found:
            out = model(x)
    finally:
        model.train(was_training)
    logits = out[0] if isinstance(out, tuple) else out
    return {**found, "logits": logits.float().std().item()}
