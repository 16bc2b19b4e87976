"""The model zoo. Importing this package registers every network."""

from moderncnn.models import alexnet, densenet, googlenet, resnet, vgg  # noqa: F401  (register)
from moderncnn.models.base import ConvNet
from moderncnn.models.registry import (
    ModelInfo,
    create_model,
    list_models,
    min_input_size,
    model_info,
    register_model,
)

__all__ = [
    "ConvNet",
    "ModelInfo",
    "create_model",
    "list_models",
    "min_input_size",
    "model_info",
    "register_model",
]
