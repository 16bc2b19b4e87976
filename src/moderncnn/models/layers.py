"""Small layers shared by several families."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def activation(name: str, inplace: bool = True) -> nn.Module:
    """``relu`` or ``tanh``: AlexNet Sec. 3.1 compares the two (Figure 1)."""
    try:
        cls = ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
    return cls(inplace=True) if cls is nn.ReLU and inplace else cls()


def paper_lrn(size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> nn.Module:
    """Local response normalisation with the constants as AlexNet Sec. 3.3 writes them.

    The paper divides by ``(k + alpha * sum_j a_j^2) ** beta``; PyTorch (like Caffe) divides
    by ``(k + alpha / size * sum_j a_j^2) ** beta``. So the paper's alpha is multiplied by
    ``size`` here; the paper's defaults are n=5, alpha=1e-4, beta=0.75, k=2.
    """
    return nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)
