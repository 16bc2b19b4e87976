"""The one interface every moderncnn network shares (timm's split and head API, torchvision's
module names).

``forward(x) = forward_head(forward_features(x))``: features are the last spatial map, the
head pools and classifies. ``forward_features`` first checks the input, so a wrong shape fails
with a message naming the model, what it got and what works, instead of deep inside a conv.
The check is plain Python on the shape, costs nothing on good input, and is recorded as one
call by ``torch.fx`` (it is wrapped), so symbolic tracing and torchvision's
``create_feature_extractor`` see through every model.

Each family also declares its feature stages once, in ``feature_info`` (timm's format): where
the map of each stage is (a module whose output it is) with its channels and reduction
(input size / map size). :meth:`ConvNet.forward_intermediates` and ``create_model(...,
features_only=True)`` (:mod:`moderncnn.models.features`) read the maps with forward hooks on
those modules, so no forward pass is written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.fx
from torch import nn

from moderncnn.errors import FeatureIndexError, InputShapeError, ModernCNNError

if TYPE_CHECKING:
    from moderncnn.models.pretrained import PretrainedCfg


@torch.fx.wrap
def check_input(x: torch.Tensor, in_chans: int, min_size: int | None, name: str) -> torch.Tensor:
    """Return ``x`` if it is an (N, ``in_chans``, H, W) batch with H and W at least ``min_size``
    (when known); else raise :class:`InputShapeError` saying what works."""
    if x.dim() != 4:
        raise InputShapeError(
            f"{name} expects a 4-D batch (N, {in_chans}, H, W), got shape {tuple(x.shape)}"
        )
    if x.shape[1] != in_chans:
        raise InputShapeError(
            f"{name} expects {in_chans} input channels, got {x.shape[1]} "
            f"(shape {tuple(x.shape)}); create it with in_chans={x.shape[1]} to accept this"
        )
    h, w = x.shape[-2:]
    if min_size is not None and min(h, w) < min_size:
        raise InputShapeError(
            f"{name} needs inputs of at least {min_size}x{min_size} pixels, got {h}x{w}"
        )
    return x


#: Feature stages to take: all (None), the last n (an int), or these (negative: from the end).
Indices = int | Sequence[int] | None


class _LastStageReached(Exception):
    """Raised by the hook on the last stage wanted, to end the forward pass there."""


class ConvNet(nn.Module):
    """Base class: ``num_classes``, ``in_chans``, the input check, timm's head and feature API.

    Each family declares its classifiers in ``classifier_widths`` (module path -> input
    width, the main classifier first; ``head_hidden_size`` is the main one's); checkpoint
    loading, the fast path and :meth:`reset_classifier` use these instead of guessing.
    ``feature_info`` lists the feature stages, one ``dict(num_chs=..., reduction=...,
    module=...)`` each, in forward order; the last one's map is what ``forward_features``
    returns, and its channels are ``num_features``.
    """

    #: Registered name, set by :func:`moderncnn.create_model` (empty when built by hand).
    model_name: str = ""
    #: The options ``create_model`` built it with (saved in weights files to rebuild it).
    model_kwargs: dict[str, Any] = {}  # replaced by create_model, never mutated
    #: Smallest height/width accepted, set by ``create_model`` from the registry (None: the
    #: size is not checked and a too-small input fails inside torch).
    min_input_size: int | None = None
    #: Top-level parts that run in training only and that a model may be built without
    #: (GoogLeNet's ``aux1``/``aux2``): not counted as the inference network's parameters,
    #: and their tensors in a weights file are dropped with a message when absent.
    aux_parts: tuple[str, ...] = ()
    #: timm's ``pretrained_cfg``: what the weights came with (their name, class names, input
    #: data config), or for freshly initialised weights the model's own default (its input
    #: size and the statistics of the data it was designed for); set by ``create_model``.
    #: None only for a network built by hand.
    pretrained_cfg: PretrainedCfg | None = None

    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.classifier_widths: dict[str, int] = {}
        self.feature_info: list[dict[str, Any]] = []

    @property
    def num_features(self) -> int:
        """Channels of the map ``forward_features`` returns (timm's meaning): the last feature
        stage's. Pooled, they are what a new linear layer on ``forward_features`` reads."""
        if self.feature_info:
            return self.feature_info[-1]["num_chs"]
        return self.head_hidden_size

    @property
    def head_hidden_size(self) -> int:
        """Width of ``forward_head(x, pre_logits=True)`` (timm's name): the features the main
        classifier reads. ``num_features`` for a single linear classifier; for AlexNet's and
        VGG's fully connected stacks, fc7's output (4096; 1024 for ``alexnet_cifar``).
        0 when the model declares no classifier."""
        return next(iter(self.classifier_widths.values()), 0)

    @property
    def first_conv(self) -> str:
        """Module path of the convolution that reads the input (timm's ``first_conv``): the
        layer whose weights are adapted when weights for other input channels load."""
        return next(name for name, m in self.named_modules() if isinstance(m, nn.Conv2d))

    @property
    def _name(self) -> str:
        return self.model_name or type(self).__name__

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` if this network can take it, else :class:`InputShapeError`."""
        return check_input(x, self.in_chans, self.min_input_size, self._name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, ``num_classes``): the head on the features. Written once here; a family
        overrides it only to return more (GoogLeNet's auxiliary outputs in training)."""
        return self.forward_head(self.forward_features(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (N, ``num_features``, h, w), after checking ``x``."""
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool and classify a feature map; ``pre_logits``: stop before the last linear layer
        and return the (N, ``head_hidden_size``) features it reads."""
        raise NotImplementedError

    # -- timm's feature API ---------------------------------------------------------------

    def feature_indices(self, indices: Indices = None) -> list[int]:
        """The stages ``indices`` names, as indices from 0 (timm's ``feature_take_indices``):
        all for None, the last n for an int n, else each index (negative: from the end).
        Raises :class:`FeatureIndexError` listing the stages for anything else."""
        n = len(self.feature_info)
        stages = ", ".join(f"{i} {s['module']}" for i, s in enumerate(self.feature_info))
        if not n:
            raise FeatureIndexError(f"{self._name} declares no feature stages (feature_info)")
        if indices is None:
            return list(range(n))
        if isinstance(indices, int):
            if not 0 < indices <= n:
                raise FeatureIndexError(
                    f"{self._name}: an int takes the last n of its {n} feature stages, so it "
                    f"must be 1..{n}, got {indices}"
                )
            return list(range(n - indices, n))
        bad = [i for i in indices if not isinstance(i, int) or not -n <= i < n]
        if bad or not indices:
            got = f"has no feature stage {bad[0]!r}" if bad else "was asked for no stage"
            raise FeatureIndexError(
                f"{self._name} {got}; its feature stages are {stages} "
                f"(negative indices count from the end)"
            )
        return [i % n for i in indices]

    @property
    def cam_layer(self) -> str:
        """The module whose output class-activation maps weight by default (Grad-CAM's
        target layer): the last feature stage, which each family declares above as its last
        stage's output (ResNet's ``layer4``, or the final BN-ReLU of pre-activation ones;
        GoogLeNet's ``inception5b``; DenseNet's final norm and its ReLU; the last pool of
        VGG and AlexNet). A family whose best target differs overrides this."""
        if not self.feature_info:
            raise FeatureIndexError(f"{self._name} declares no feature stages (feature_info)")
        return self.feature_info[-1]["module"]

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Indices = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's ``forward_intermediates``, with its signature: ``(features, [map of each
        stage in indices])``, or only the list with ``intermediates_only``.

        The maps are the outputs of the stages' modules (``feature_info``), caught by forward
        hooks during ``forward_features``. ``stop_early`` ends the pass at the last stage
        wanted (its hook raises): later stages do not run, and ``features`` is that map.
        ``output_fmt``: "NCHW" (timm's CNNs take only this) or "NHWC" (the maps permuted;
        ``features`` stays NCHW, as ``forward_features`` returns it). ``norm`` is accepted for
        timm's signature and changes nothing: the networks with a final norm (pre-activation
        ResNets, DenseNet) declare their last stage after it, so that map is normalised
        already (timm's resnetv2 applies its final norm to the last map only when asked).
        """
        if output_fmt not in ("NCHW", "NHWC"):
            raise ModernCNNError(
                f"{self._name}: output_fmt must be 'NCHW' or 'NHWC', got {output_fmt!r}"
            )
        take = self.feature_indices(indices)
        last = max(take)
        maps: dict[int, torch.Tensor] = {}

        def keeper(i: int) -> Callable[..., None]:
            def hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> None:
                maps.setdefault(i, out)  # a module's first call
                if stop_early and i == last:
                    raise _LastStageReached

            return hook

        handles = [
            self.get_submodule(self.feature_info[i]["module"]).register_forward_hook(keeper(i))
            for i in set(take)
        ]
        try:
            features = self.forward_features(x)
        except _LastStageReached:
            features = maps[last]
        finally:
            for handle in handles:
                handle.remove()
        intermediates = [maps[i] for i in take]
        if output_fmt == "NHWC":
            intermediates = [m.permute(0, 2, 3, 1) for m in intermediates]
        return intermediates if intermediates_only else (features, intermediates)

    # -- timm's head API -----------------------------------------------------------------

    def get_classifier(self) -> nn.Module:
        """The main classifier: the layer that produces the logits."""
        return self.get_submodule(next(iter(self.classifier_widths)))

    def reset_classifier(self, num_classes: int) -> None:
        """New, freshly initialised classifiers (auxiliary ones too) for ``num_classes``
        classes; ``0`` replaces them with ``nn.Identity`` so that ``forward`` returns
        ``forward_head(x, pre_logits=True)``, (N, ``head_hidden_size``) (timm's convention)."""
        like = next(self.parameters())  # the new layers' device and dtype
        for path, width in self.classifier_widths.items():
            new = (
                nn.Linear(width, num_classes, device=like.device, dtype=like.dtype)
                if num_classes
                else nn.Identity()
            )
            self.set_submodule(path, new)
        self.num_classes = num_classes

    def classifier_keys(self) -> set[str]:
        """State-dict keys of every classifier (they change size with ``num_classes``)."""
        prefixes = tuple(f"{path}." for path in self.classifier_widths)
        return {k for k in self.state_dict() if k.startswith(prefixes)}

    def num_params(self, aux: bool = False) -> int:
        """Parameters of the inference network, or (``aux=True``) of the training-only
        auxiliary heads alone."""
        return sum(
            p.numel()
            for name, p in self.named_parameters()
            if (name.split(".")[0] in self.aux_parts) == aux
        )
