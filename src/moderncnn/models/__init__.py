"""The model zoo. Importing this package registers every network."""

from moderncnn.models import (  # noqa: F401  (importing registers)
    alexnet,
    densenet,
    densenet_cifar,
    googlenet,
    preact_resnet,
    resnet,
    resnet_cifar,
    vgg,
    vgg_cifar,
)
from moderncnn.models.base import ConvNet
from moderncnn.models.factory import create_model
from moderncnn.models.registry import (
    ModelInfo,
    ReportedError,
    list_models,
    model_info,
    register_model,
)

__all__ = [
    "ConvNet",
    "ModelInfo",
    "ReportedError",
    "create_model",
    "list_models",
    "model_info",
    "register_model",
]
