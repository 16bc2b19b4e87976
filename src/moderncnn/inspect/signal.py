"""How a network's signal travels at a given input: the spread of each activation layer's
output (does it vanish at initialisation?) and what each local response normalisation does
to its input (a constant scale, or a normalisation?).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

#: Quantiles :func:`lrn_scale` reports, by name.
QUANTILES = {"min": 0.0, "p1": 0.01, "median": 0.5, "p99": 0.99, "max": 1.0}
#: The most elements torch.quantile takes; larger sets are sampled evenly.
_MAX_QUANTILE = 2**24

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


def _ratio_quantiles(x: torch.Tensor, out: torch.Tensor) -> dict[str, float]:
    """Quantiles (:data:`QUANTILES`) of ``out / x`` where ``x`` is not zero."""
    x, out = x.detach().float().flatten(), out.detach().float().flatten()
    keep = x != 0
    ratio = out[keep] / x[keep]
    if ratio.numel() > _MAX_QUANTILE:
        ratio = ratio[:: math.ceil(ratio.numel() / _MAX_QUANTILE)]
    q = torch.quantile(ratio, torch.tensor(list(QUANTILES.values())))
    return dict(zip(QUANTILES, q.tolist(), strict=True))


@torch.no_grad()
def lrn_scale(model: nn.Module, x: torch.Tensor) -> dict[str, dict[str, float]]:
    """What each local response normalisation of ``model`` does on the batch ``x`` (eval
    mode): quantiles of output / input over its non-zero inputs (min, p1, median, p99, max).

    LRN divides each activation by ``(k + alpha / n * sum of squares over n neighbouring
    channels) ** beta``. Where the sum is negligible against ``k`` every ratio is ``k **
    -beta`` (2 ** -0.75 = 0.595 with AlexNet's constants): a constant scale, normalising
    nothing, as with normalised inputs of unit scale. AlexNet's inputs were raw pixels, mean
    subtracted (0-255 scale), whose activations are large enough for the sum to count."""
    was_training = model.training
    model.eval()
    try:
        with _outputs(model, (nn.LocalResponseNorm,), _ratio_quantiles) as found:
            model(x)
    finally:
        model.train(was_training)
    return found
