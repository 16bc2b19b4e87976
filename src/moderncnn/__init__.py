"""moderncnn: the modern CNNs (AlexNet, VGG, GoogLeNet, ResNet, DenseNet), exact to their
papers and to torchvision.

The model API is imported on first use (PEP 562), so that the command line's ``--help`` and
``--version`` start without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moderncnn.models import ConvNet, ModelInfo, create_model, list_models, model_info

__version__ = "0.1.0"
__all__ = ["ConvNet", "ModelInfo", "__version__", "create_model", "list_models", "model_info"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from moderncnn import models

        return getattr(models, name)
    raise AttributeError(f"module 'moderncnn' has no attribute {name!r}")
