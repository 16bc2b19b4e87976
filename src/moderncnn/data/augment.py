"""Each paper's augmentation.

Small images (CIFAR) are augmented in batches on the training device by :func:`crop_flip`:
4-pixel zero padding, a random 32x32 crop and a horizontal flip (He et al. 2016, Sec. 4.2;
Huang et al. 2017, Sec. 4.1). Large images (ImageNet-style folders) go through
``torchvision.transforms.v2`` pipelines in DataLoader workers, one per paper.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from moderncnn.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Eigenvalues and eigenvectors (columns) of the RGB covariance of ImageNet pixels in [0, 1]
#: (Krizhevsky et al. 2012, Sec. 4.1; the values of fb.resnet.torch and timm).
_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
_EIGVEC = torch.tensor(
    [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]
)

#: Augmentations done on device for small images, and in workers for large ones.
TENSOR_AUGMENTS = ("cifar", "flip", "none")
FOLDER_AUGMENTS = ("alexnet", "vgg", "googlenet", "resnet_imagenet", "none")


def crop_flip(
    x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, flip: torch.Tensor, pad: int
) -> torch.Tensor:
    """Crop (N, C, H, W) images at offsets (dx, dy) of their ``pad``-padded copy, flipping
    those where ``flip``; one gather for the whole batch. The result is channels_last."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)) if pad else x
    rows = dy[:, None] + torch.arange(h, device=x.device)
    cols = dx[:, None] + torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_crop_flip_params(
    n: int, augment: str, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(dx, dy, flip, pad) for ``n`` images: ``cifar`` pads 4 and crops, ``flip`` only flips."""
    pad = 4 if augment == "cifar" else 0
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    if augment == "none":
        flip.zero_()
    return dx, dy, flip, pad


def ten_crop_params(pad: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dy, flip) of the AlexNet paper's ten patches (Sec. 4.1) for a small image padded
    by ``pad``: four corners and the centre, and their horizontal flips."""
    corners = [(0, 0), (2 * pad, 0), (0, 2 * pad), (2 * pad, 2 * pad), (pad, pad)] * 2
    dx, dy = (torch.tensor(v) for v in zip(*corners, strict=True))
    return dx, dy, torch.arange(10) >= 5


class Lighting(nn.Module):
    """AlexNet's PCA colour augmentation (Sec. 4.1): add ``eigvec @ (alpha * eigval)`` with
    alpha ~ N(0, ``std``) to every pixel of a float image in [0, 1]."""

    def __init__(self, std: float = 0.1) -> None:
        super().__init__()
        self.std = std

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        alpha = torch.randn(3) * self.std
        rgb = _EIGVEC @ (alpha * _EIGVAL)
        return img + rgb.to(img.dtype)[:, None, None]


def _finish(mean: tuple[float, ...], std: tuple[float, ...]) -> list[nn.Module]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]


def train_transform(augment: str, crop: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """The training pipeline of ``augment`` for ``crop`` x ``crop`` inputs (uint8 in).

    - alexnet: shorter side 256, centre 256x256, random crop, flip, PCA lighting 0.1 (Sec. 4.1).
    - vgg: scale jittering, shorter side S ~ U[256, 512], random crop, flip, colour shift
      (Simonyan & Zisserman 2015, Sec. 3.1).
    - googlenet: random-sized crop of 8%-100% of the area, aspect 3/4-4/3, flip
      (Szegedy et al. 2015, Sec. 6).
    - resnet_imagenet: shorter side S ~ U[256, 480], random crop, flip, PCA lighting
      (He et al. 2016, Sec. 3.4).
    """
    resize = round(crop * 256 / 224)
    flip = v2.RandomHorizontalFlip()
    pipelines = {
        "alexnet": [v2.Resize(resize), v2.CenterCrop(resize), v2.RandomCrop(crop), flip],
        "vgg": [v2.RandomResize(resize, 2 * resize + 1), v2.RandomCrop(crop), flip],
        "googlenet": [v2.RandomResizedCrop(crop, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)), flip],
        "resnet_imagenet": [
            v2.RandomResize(resize, round(crop * 480 / 224) + 1),
            v2.RandomCrop(crop),
            flip,
        ],
        "none": [v2.Resize(resize), v2.CenterCrop(crop)],
    }
    if augment not in pipelines:
        raise ConfigError(
            f"augment {augment!r} is not for large images; use one of {', '.join(pipelines)}"
        )
    lighting = [Lighting(0.1)] if augment in ("alexnet", "vgg", "resnet_imagenet") else []
    to_float, normalize = _finish(mean, std)
    return v2.Compose([*pipelines[augment], to_float, *lighting, normalize])


def eval_transform(crop: int, ten_crop: bool = False, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Shorter side resized to crop * 256/224, then the centre crop, or the ten crops of the
    AlexNet paper (Sec. 4.1) stacked into a (10, C, crop, crop) tensor."""
    resize = [v2.Resize(round(crop * 256 / 224))]
    if not ten_crop:
        return v2.Compose([*resize, v2.CenterCrop(crop), *_finish(mean, std)])
    return v2.Compose([*resize, functools.partial(_ten_crop, size=crop), *_finish(mean, std)])


def _ten_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    return torch.stack(TF.ten_crop(img, [size, size]))
