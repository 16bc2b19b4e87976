"""moderncnn: the modern CNNs (AlexNet, VGG, GoogLeNet, ResNet, DenseNet), exact to their
papers and to torchvision."""

from moderncnn.models import ConvNet, ModelInfo, create_model, list_models, model_info

__version__ = "0.1.0"
__all__ = ["ConvNet", "ModelInfo", "create_model", "list_models", "model_info", "__version__"]
