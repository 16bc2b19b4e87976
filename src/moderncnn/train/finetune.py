"""Transfer learning: which parameters train, and at which learning rate.

A network loaded with pretrained weights and a new classifier (``create_model(...,
weights=W, num_classes=N)``) is fine-tuned whole, with its pretrained layers at a fraction
of the learning rate (``backbone_lr_scale``), or only in part: ``freeze`` trains the
classifier alone, ``freeze_until`` freezes every module up to and including the one named.
Frozen BatchNorm layers keep their running statistics (they stay in eval mode).
"""

from __future__ import annotations

from torch import nn

from moderncnn.errors import ConfigError
from moderncnn.models.base import ConvNet


def _is_head(model: ConvNet, name: str) -> bool:
    return any(name.startswith(f"{path}.") for path in model.classifier_widths)


def freeze(model: ConvNet, head_only: bool = False, until: str = "") -> list[nn.Module]:
    """Stop the gradients of the frozen parameters (see the module docstring); return the
    BatchNorm layers inside the frozen part, which the trainer keeps in eval mode. One of
    ``head_only`` and ``until``: the configuration refuses both
    (:meth:`~moderncnn.train.TrainConfig.check`, before any data is read)."""
    if not head_only and not until:
        return []
    names = [n for n, _ in model.named_parameters()]
    if head_only:
        frozen = {n for n in names if not _is_head(model, n)}
    else:
        stages = [n for n, _ in model.named_modules() if n]
        if until not in stages:
            top = ", ".join(n for n, _ in model.named_children())
            raise ConfigError(
                f"{model.model_name or type(model).__name__} has no module {until!r} to freeze "
                f"up to; its top-level modules: {top} (nested ones as e.g. features.denseblock2)"
            )
        inside = [i for i, n in enumerate(names) if n == until or n.startswith(f"{until}.")]
        last = inside[-1] if inside else -1
        frozen = {n for i, n in enumerate(names) if i <= last and not _is_head(model, n)}
    for n, p in model.named_parameters():
        p.requires_grad_(n not in frozen)
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and all(not p.requires_grad for p in m.parameters())
    ]


def param_groups(model: ConvNet, backbone_lr_scale: float = 1.0) -> list[dict]:
    """The trainable parameters as optimizer groups, each with its ``lr_scale``: one group at
    the full rate, or with ``backbone_lr_scale`` below 1 the classifiers at the full rate and
    the rest scaled."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if backbone_lr_scale == 1.0:
        return [{"params": [p for _, p in trainable], "lr_scale": 1.0}]
    head = [p for n, p in trainable if _is_head(model, n)]
    body = [p for n, p in trainable if not _is_head(model, n)]
    return [{"params": head, "lr_scale": 1.0}, {"params": body, "lr_scale": backbone_lr_scale}]
