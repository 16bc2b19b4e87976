"""AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NeurIPS 2012.

Four networks:

* ``alexnet_paper``: the 2012 network of Sec. 3 / Figure 2. Five convolutions (96-256-384-
  384-256), ReLU (Sec. 3.1), the two-GPU split (Sec. 3.2) as ``groups=2`` on conv2, conv4 and
  conv5 (those layers only see the kernel maps on their own GPU; conv3 and the FC layers
  see both), LRN after the ReLU of conv1 and conv2 (Sec. 3.3), overlapping 3x3/2 max pooling
  (Sec. 3.4), dropout 0.5 on the outputs of fc6 and fc7 (Sec. 4.2), and the paper's
  initialisation (Sec. 5). Input 227x227 (the paper says 224, but only 227 gives its 55x55
  conv1 maps).
* ``alexnet``: torchvision's one-tower variant ("One weird trick", Krizhevsky 2014):
  64-192-384-256-256 channels, no LRN, no groups, dropout on the *inputs* of fc6 and fc7, and
  PyTorch's default initialisation. Its state_dict loads unchanged.
* ``alexnet_cifar``: the paper's design scaled to 32x32 inputs (see its docstring).
* ``alexnet_fig1``: a four-layer CIFAR-10 network for Figure 1's ReLU-vs-tanh experiment,
  which the paper does not specify (ours: cuda-convnet's example, see its docstring).

``alexnet_paper`` and ``alexnet_cifar`` take ``lrn`` and ``overlap``, the LRN and
overlapping-pooling ablations of Sec. 3.3 and 3.4.

Initialisation of the CIFAR networks (``init``): "pytorch" (the default) is PyTorch's
(weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), a third of the variance that keeps a ReLU
network's signal: in ``alexnet_cifar`` at width 0.25 the spread of the activations falls
about 20-fold from conv1 to the logits, and training sits at chance for epochs); "he" is
He et al. 2015's normal init with fan_in and zero biases, under which it stays
(``tests/test_models_paper.py``; :func:`moderncnn.inspect.signal.activation_spread`).

The ImageNet networks end in a 6x6 adaptive average pool, an identity at their default input
size that lets them take larger images.

Feature stages (``feature_info``), by VGG's rule as timm has it: the map before each max pool
(conv1's and conv2's after their ReLU, or LRN, and conv5's), then pool5's output; reductions
4, 8, 16, 32 for the ImageNet networks (55, 27, 13, 6 pixels at 224: the pools round down);
``alexnet_fig1``'s before each of its max and average pools, then pool3's output.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import torch
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.layers import activation as make_activation
from moderncnn.models.layers import fc_head, init_weights, paper_lrn, pooled_stages, scaled
from moderncnn.models.registry import ReportedError, register_model

register = functools.partial(
    register_model,
    family="alexnet",
    paper="Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep CNNs, NeurIPS 2012",
    year=2012,
    depth=8,
)
_ERROR = ReportedError("ILSVRC-2012 val, 1 CNN, 10-crop (Table 1)", top1=40.7, top5=18.2)
#: ``init`` of the CIFAR networks: PyTorch's default, or He et al. 2015's
#: (:func:`moderncnn.models.layers.init_weights`).
CIFAR_INITS = ("pytorch", "he")


class AlexNet(ConvNet):
    """``features`` -> ``avgpool`` -> ``classifier`` (fc6, fc7, fc8): torchvision's names."""

    def __init__(
        self,
        features: nn.Sequential,
        classifier: nn.Sequential,
        num_classes: int,
        in_chans: int,
        pool_size: int = 6,
    ) -> None:
        super().__init__(num_classes, in_chans)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = classifier
        name, fc8 = list(classifier.named_children())[-1]
        self.classifier_widths = {f"classifier.{name}": fc8.in_features}
        self.feature_info = pooled_stages(features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.check_input(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return fc_head(self.classifier, torch.flatten(self.avgpool(x), 1), pre_logits)


def paper_features(
    conv1: nn.Conv2d,
    widths: tuple[int, int, int, int],
    groups: int,
    activation: str,
    lrn: bool = True,
    overlap: bool = True,
) -> nn.Sequential:
    """Figure 2's five convolutions from ``conv1``: ReLU after each (Sec. 3.1), LRN after the
    ReLUs of conv1 and conv2 (Sec. 3.3), overlapping 3x3/2 max pooling after them and after
    conv5 (Sec. 3.4). ``widths`` are conv2..conv5's channels; ``groups=2`` gives conv2, conv4
    and conv5 the two-GPU split of Sec. 3.2 (conv3 sees both GPUs' maps).

    The two ablations the paper reports: ``lrn=False`` leaves out ``norm1`` and ``norm2``
    (Sec. 3.3: LRN "reduces our top-1 and top-5 error rates by 1.4% and 1.2%"; LRN has no
    parameters, so the state_dict keys stay the same), and ``overlap=False`` pools 2x2/2,
    the traditional non-overlapping "s = z = 2" that Sec. 3.4 compares against (0.4% and
    0.3% worse)."""
    c2, c3, c4, c5 = widths
    layers: dict[str, nn.Module] = dict(conv1=conv1, act1=make_activation(activation))
    if lrn:
        layers["norm1"] = paper_lrn()
    layers["pool1"] = _max_pool(overlap)
    layers["conv2"] = nn.Conv2d(conv1.out_channels, c2, 5, padding=2, groups=groups)
    layers["act2"] = make_activation(activation)
    if lrn:
        layers["norm2"] = paper_lrn()
    layers |= dict(
        pool2=_max_pool(overlap),
        conv3=nn.Conv2d(c2, c3, 3, padding=1),
        act3=make_activation(activation),
        conv4=nn.Conv2d(c3, c4, 3, padding=1, groups=groups),
        act4=make_activation(activation),
        conv5=nn.Conv2d(c4, c5, 3, padding=1, groups=groups),
        act5=make_activation(activation),
        pool5=_max_pool(overlap),
    )
    return nn.Sequential(OrderedDict(layers))


def _max_pool(overlap: bool) -> nn.MaxPool2d:
    """Sec. 3.4's overlapping pooling, z = 3 and s = 2, or non-overlapping s = z = 2."""
    return nn.MaxPool2d(3, stride=2) if overlap else nn.MaxPool2d(2, stride=2)


def paper_classifier(
    in_features: int, hidden: int, num_classes: int, activation: str, drop_rate: float
) -> nn.Sequential:
    """fc6 and fc7, each ReLU then dropout on its output (Sec. 4.2: "dropout in the first two
    fully-connected layers"; bvlc_alexnet's drop6/drop7 follow relu6/relu7), then fc8."""
    return nn.Sequential(
        OrderedDict(
            fc6=nn.Linear(in_features, hidden),
            act6=make_activation(activation),
            drop6=nn.Dropout(drop_rate),
            fc7=nn.Linear(hidden, hidden),
            act7=make_activation(activation),
            drop7=nn.Dropout(drop_rate),
            fc8=nn.Linear(hidden, num_classes),
        )
    )


def _paper_init(model: AlexNet) -> None:
    """Sec. 5: weights ~ N(0, 0.01); biases 1 in conv2, conv4, conv5 and fc6, fc7 (so that
    ReLUs start with positive inputs), 0 elsewhere."""
    ones = {"conv2", "conv4", "conv5", "fc6", "fc7"}
    for name, m in [*model.features.named_children(), *model.classifier.named_children()]:
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.constant_(m.bias, 1.0 if name in ones else 0.0)


@register(
    input_size=(3, 227, 227),
    min_input_size=67,  # no conv1 padding: 67 -> 15 -> 7 -> 3 -> 1 through conv1 and 3 pools
    dataset="imagenet",
    num_classes=1000,
    params=60_965_224,
    reported_error=_ERROR,
    notes="The 2012 network: LRN, two-GPU groups on conv2/4/5, 60,965,224 parameters.",
)
def alexnet_paper(
    num_classes: int,
    in_chans: int,
    *,
    activation: str = "relu",
    drop_rate: float = 0.5,
    lrn: bool = True,
    overlap: bool = True,
) -> AlexNet:
    """AlexNet as published (Figure 2), with the two GPUs' towers as grouped convolutions.

    ``lrn=False`` and ``overlap=False`` are the ablations of Sec. 3.3 and 3.4 (see
    :func:`paper_features`); 2x2/2 pools give the same 27, 13, 6 pixel maps at 227."""
    conv1 = nn.Conv2d(in_chans, 96, 11, stride=4)
    features = paper_features(conv1, (256, 384, 384, 256), 2, activation, lrn, overlap)
    classifier = paper_classifier(256 * 6 * 6, 4096, num_classes, activation, drop_rate)
    model = AlexNet(features, classifier, num_classes, in_chans)
    _paper_init(model)
    return model


@register(
    input_size=(3, 224, 224),
    min_input_size=63,
    dataset="imagenet",
    num_classes=1000,
    params=61_100_840,
    reported_error=ReportedError(
        _ERROR.protocol, _ERROR.top1, _ERROR.top5, variant="the 2012 network (alexnet_paper)"
    ),
    torchvision="alexnet",
    notes="torchvision's one-tower variant (Krizhevsky 2014): no LRN, no groups. "
    "torchvision's weights score 43.45 / 20.91 (1-crop).",
)
def alexnet(
    num_classes: int, in_chans: int, *, activation: str = "relu", drop_rate: float = 0.5
) -> AlexNet:
    """torchvision's AlexNet (same modules, names, dropout placement and initialisation)."""
    features = nn.Sequential(
        nn.Conv2d(in_chans, 64, kernel_size=11, stride=4, padding=2),
        make_activation(activation),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        make_activation(activation),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        make_activation(activation),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        make_activation(activation),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        make_activation(activation),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    classifier = nn.Sequential(  # torchvision drops the inputs of fc6 and fc7
        nn.Dropout(drop_rate),
        nn.Linear(256 * 6 * 6, 4096),
        make_activation(activation),
        nn.Dropout(drop_rate),
        nn.Linear(4096, 4096),
        make_activation(activation),
        nn.Linear(4096, num_classes),
    )
    return AlexNet(features, classifier, num_classes, in_chans)


@register(
    input_size=(3, 32, 32),
    min_input_size=15,
    dataset="cifar10",
    num_classes=10,
    params=5_871_434,
    notes="AlexNet's design scaled to 32x32 (5x5/1 conv1, no groups, 1024-wide FC).",
)
def alexnet_cifar(
    num_classes: int,
    in_chans: int,
    *,
    activation: str = "relu",
    drop_rate: float = 0.5,
    lrn: bool = True,
    overlap: bool = True,
    width: float = 1.0,
    init: str = "pytorch",
) -> AlexNet:
    """AlexNet for 32x32 images.

    Kept from the paper: five convolutions with AlexNet's widths after conv1, ReLU, LRN after
    the first two, overlapping 3x3/2 max pooling, dropout 0.5 on the outputs of the two hidden
    FC layers. Changed, because a 32x32 image has 49 times fewer pixels than 227x227: conv1 is
    5x5 with stride 1 and 64 channels (an 11x11/4 kernel would leave 6x6 maps after one
    layer), conv2 5x5 with 192 channels, no two-GPU groups, the FC layers are 1024 wide over a
    3x3 map (4096-wide ones would hold 90% of the parameters for 10 classes), and PyTorch's
    default initialisation (the N(0, 0.01) of Sec. 5 is built into ``alexnet_paper`` only).
    Spatial sizes: 32 -> 15 -> 7 -> 3.

    Ablations (:func:`paper_features`): ``lrn=False`` without LRN (Sec. 3.3),
    ``overlap=False`` with 2x2/2 max pools (Sec. 3.4), which give 16, 8 and 4 pixel maps; the
    3x3 adaptive average pool before fc6 keeps the classifier and the parameter count.
    ``width`` multiplies the convolutions' channels (not the FC layers'), for experiments that
    must train in minutes on a CPU. ``init``: "pytorch" or "he" (module docstring).
    """
    c1, c2, c3, c4, c5 = (scaled(c, width) for c in (64, 192, 384, 256, 256))
    conv1 = nn.Conv2d(in_chans, c1, 5, padding=2)
    features = paper_features(conv1, (c2, c3, c4, c5), 1, activation, lrn, overlap)
    classifier = paper_classifier(c5 * 3 * 3, 1024, num_classes, activation, drop_rate)
    model = AlexNet(features, classifier, num_classes, in_chans, pool_size=3)
    init_weights(model, init, CIFAR_INITS)
    return model


@register(
    depth=4,
    input_size=(3, 32, 32),
    min_input_size=8,  # three 3x3/2 ceil-mode pools: 8 -> 4 -> 2 -> 1
    dataset="cifar10",
    num_classes=10,
    params=89_578,
    notes="Figure 1's four-layer CNN (ReLU vs tanh on CIFAR-10); the paper does not specify "
    "it: ours is cuda-convnet's CIFAR-10 example (3 convs, max/avg pools, one FC layer).",
)
def alexnet_fig1(
    num_classes: int, in_chans: int, *, activation: str = "relu", init: str = "pytorch"
) -> AlexNet:
    """The "four-layer convolutional neural network" of Figure 1 (Sec. 3.1: with ReLUs it
    reaches 25% training error on CIFAR-10 six times faster than with tanh units).

    The paper gives no layers; this choice is ours: the network of Krizhevsky's own
    cuda-convnet examples for CIFAR-10. conv1 32 5x5 filters, max pool 3x3/2; conv2 32 5x5,
    average pool 3x3/2; conv3 64 5x5, average pool 3x3/2; one fully connected layer over
    the 64x4x4 map. Convolutions are padded by 2, and the pools cover the edge as
    cuda-convnet's do (``ceil_mode``), so 32 -> 16 -> 8 -> 4. The conv/pool stack is the
    one shared by ``layers-80sec.cfg`` and ``layers-18pct.cfg``; the single FC layer is
    ``layers-18pct.cfg``'s (``layers-80sec.cfg`` adds a 64-unit hidden FC layer, five weight
    layers), without its two within-map response normalisations. ``activation`` follows each
    conv (after the max pool in cuda-convnet: the same, as max pooling commutes with
    monotonic functions). ``init``: "pytorch" (the default) or "he" (module docstring; its
    gain is ReLU's for either activation, so Figure 1's two arms start from the same weights).
    """
    act = functools.partial(make_activation, activation)
    features = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(in_chans, 32, 5, padding=2),
            act1=act(),
            pool1=nn.MaxPool2d(3, stride=2, ceil_mode=True),
            conv2=nn.Conv2d(32, 32, 5, padding=2),
            act2=act(),
            pool2=nn.AvgPool2d(3, stride=2, ceil_mode=True),
            conv3=nn.Conv2d(32, 64, 5, padding=2),
            act3=act(),
            pool3=nn.AvgPool2d(3, stride=2, ceil_mode=True),
        )
    )
    classifier = nn.Sequential(OrderedDict(fc4=nn.Linear(64 * 4 * 4, num_classes)))
    model = AlexNet(features, classifier, num_classes, in_chans, pool_size=4)
    init_weights(model, init, CIFAR_INITS)
    return model
