"""AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NeurIPS 2012.

Three networks:

* ``alexnet_paper``: the 2012 network of Sec. 3 / Figure 2. Five convolutions (96-256-384-
  384-256), ReLU (Sec. 3.1), the two-GPU split (Sec. 3.2) as ``groups=2`` on conv2, conv4 and
  conv5 (those layers only see the kernel maps on their own GPU; conv3 and the FC layers
  see both), LRN after the ReLU of conv1 and conv2 (Sec. 3.3), overlapping 3x3/2 max pooling
  (Sec. 3.4), dropout 0.5 in fc6 and fc7 (Sec. 4.2), and the paper's initialisation
  (Sec. 5). Input 227x227 (the paper says 224, but only 227 gives its 55x55 conv1 maps).
* ``alexnet``: torchvision's one-tower variant ("One weird trick", Krizhevsky 2014):
  64-192-384-256-256 channels, no LRN, no groups. Its state_dict loads unchanged.
* ``alexnet_cifar``: the same design scaled to 32x32 inputs (see its docstring).

Both ImageNet networks end in a 6x6 adaptive average pool, an identity at their default
input size that lets them take larger images.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from moderncnn.models.base import ConvNet
from moderncnn.models.layers import activation as make_activation
from moderncnn.models.layers import paper_lrn
from moderncnn.models.registry import register_model

_PAPER = "Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep CNNs, NeurIPS 2012"


class AlexNet(ConvNet):
    """``features`` -> ``avgpool`` -> ``classifier``: torchvision's module names."""

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

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(x), 1))


def _classifier(in_features: int, hidden: int, num_classes: int, activation: str) -> nn.Sequential:
    """fc6 / fc7 with dropout 0.5 before each (Sec. 4.2), then fc8. torchvision's layout."""
    return nn.Sequential(
        nn.Dropout(0.5),
        nn.Linear(in_features, hidden),
        make_activation(activation),
        nn.Dropout(0.5),
        nn.Linear(hidden, hidden),
        make_activation(activation),
        nn.Linear(hidden, num_classes),
    )


def _paper_init(model: AlexNet) -> None:
    """Sec. 5: weights ~ N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden FC layers
    (so that ReLUs start with positive inputs), 0 elsewhere."""
    ones = {"conv2", "conv4", "conv5"}
    for name, m in model.features.named_children():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.constant_(m.bias, 1.0 if name in ones else 0.0)
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    for i, m in enumerate(linears):
        nn.init.normal_(m.weight, 0.0, 0.01)
        nn.init.constant_(m.bias, 1.0 if i < len(linears) - 1 else 0.0)


@register_model(
    family="alexnet",
    paper=_PAPER,
    year=2012,
    depth=8,
    input_size=(3, 227, 227),
    dataset="imagenet",
    num_classes=1000,
    reported_error={"top1": 40.7, "top5": 18.2, "protocol": "ILSVRC-2012 val, 1 CNN, 10-crop"},
    notes="The 2012 network: LRN, two-GPU groups on conv2/4/5, 60,965,224 parameters.",
    options={"activation": "relu"},
)
def alexnet_paper(num_classes: int, in_chans: int, activation: str = "relu") -> AlexNet:
    """AlexNet as published (Figure 2), with the two GPUs' towers as grouped convolutions."""
    features = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(in_chans, 96, 11, stride=4),
            act1=make_activation(activation),
            norm1=paper_lrn(),
            pool1=nn.MaxPool2d(3, stride=2),
            conv2=nn.Conv2d(96, 256, 5, padding=2, groups=2),
            act2=make_activation(activation),
            norm2=paper_lrn(),
            pool2=nn.MaxPool2d(3, stride=2),
            conv3=nn.Conv2d(256, 384, 3, padding=1),
            act3=make_activation(activation),
            conv4=nn.Conv2d(384, 384, 3, padding=1, groups=2),
            act4=make_activation(activation),
            conv5=nn.Conv2d(384, 256, 3, padding=1, groups=2),
            act5=make_activation(activation),
            pool5=nn.MaxPool2d(3, stride=2),
        )
    )
    model = AlexNet(
        features, _classifier(256 * 6 * 6, 4096, num_classes, activation), num_classes, in_chans
    )
    _paper_init(model)
    return model


@register_model(
    family="alexnet",
    paper=_PAPER,
    year=2012,
    depth=8,
    input_size=(3, 224, 224),
    dataset="imagenet",
    num_classes=1000,
    reported_error={"top1": 40.7, "top5": 18.2, "protocol": "ILSVRC-2012 val, 1 CNN, 10-crop"},
    torchvision="alexnet",
    notes="torchvision's one-tower variant (Krizhevsky 2014): no LRN, no groups. "
    "Error shown is the 2012 paper's; torchvision's weights score 43.45 / 20.91 (1-crop).",
    options={"activation": "relu"},
)
def alexnet(num_classes: int, in_chans: int, activation: str = "relu") -> AlexNet:
    """torchvision's AlexNet (same modules, names and initialisation)."""
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
    return AlexNet(
        features, _classifier(256 * 6 * 6, 4096, num_classes, activation), num_classes, in_chans
    )


@register_model(
    family="alexnet",
    paper=_PAPER,
    year=2012,
    depth=8,
    input_size=(3, 32, 32),
    dataset="cifar10",
    num_classes=10,
    notes="AlexNet's design scaled to 32x32 (5x5/1 conv1, no groups, 1024-wide FC).",
    options={"activation": "relu"},
)
def alexnet_cifar(num_classes: int, in_chans: int, activation: str = "relu") -> AlexNet:
    """AlexNet for 32x32 images.

    Kept from the paper: five convolutions with AlexNet's widths after conv1, ReLU, LRN after
    the first two, overlapping 3x3/2 max pooling, two dropout-0.5 FC layers. Changed, because
    a 32x32 image has 49 times fewer pixels than 227x227: conv1 is 5x5 with stride 1 and 64
    channels (an 11x11/4 kernel would leave 6x6 maps after one layer), conv2 5x5 with 192
    channels, no two-GPU groups, and the FC layers are 1024 wide over a 3x3 map (4096-wide
    ones would hold 90% of the parameters for 10 classes). Spatial sizes: 32 -> 15 -> 7 -> 3.
    """
    features = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(in_chans, 64, 5, padding=2),
            act1=make_activation(activation),
            norm1=paper_lrn(),
            pool1=nn.MaxPool2d(3, stride=2),
            conv2=nn.Conv2d(64, 192, 5, padding=2),
            act2=make_activation(activation),
            norm2=paper_lrn(),
            pool2=nn.MaxPool2d(3, stride=2),
            conv3=nn.Conv2d(192, 384, 3, padding=1),
            act3=make_activation(activation),
            conv4=nn.Conv2d(384, 256, 3, padding=1),
            act4=make_activation(activation),
            conv5=nn.Conv2d(256, 256, 3, padding=1),
            act5=make_activation(activation),
            pool5=nn.MaxPool2d(3, stride=2),
        )
    )
    classifier = _classifier(256 * 3 * 3, 1024, num_classes, activation)
    return AlexNet(features, classifier, num_classes, in_chans, pool_size=3)
