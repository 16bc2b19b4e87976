"""Each paper's augmentation, named in one table, :data:`AUGMENTATIONS`.

Small images (CIFAR) are augmented in batches on the training device by :func:`crop_flip`:
4-pixel zero padding, a random 32x32 crop and a horizontal flip (He et al. 2016, Sec. 4.2;
Huang et al. 2017, Sec. 4.1). Large images (ImageNet-style folders) go through
``torchvision.transforms.v2`` pipelines in DataLoader workers, one per paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

from moderncnn.errors import ConfigError
from moderncnn.models.pretrained import IMAGENET_MEAN, IMAGENET_STD

#: Eigenvalues and eigenvectors (columns) of the RGB covariance of ImageNet pixels in [0, 1]
#: (Krizhevsky et al. 2012, Sec. 4.1; the values of fb.resnet.torch and timm).
_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
_EIGVEC = torch.tensor(
    [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]
)


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
    n: int, augment: str, generator: torch.Generator, alternated: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(dx, dy, flip, pad) for ``n`` small images, as ``AUGMENTATIONS[augment]`` says; with
    alternating flips, ``flip`` is ``alternated``, these images' flips in this epoch (see
    :func:`alternating_flips`). The random draws are the same either way."""
    a = augmentation(augment, small=True)
    dx = torch.randint(0, 2 * a.pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * a.pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    if not a.flip:
        flip.zero_()
    elif a.alternate:
        flip = alternated
    return dx, dy, flip, a.pad


def alternating_flips(n: int, seed: int, epoch: int) -> torch.Tensor:
    """Whether each of ``n`` images is flipped in ``epoch`` (1-based) under alternating flips:
    a fixed random half in odd epochs, the other half in even ones."""
    first = torch.rand(n, generator=torch.Generator().manual_seed(seed)) < 0.5
    return first ^ (epoch % 2 == 0)


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


def _resize(crop: int) -> int:
    """The shorter side before a centre crop: 256 for 224 crops."""
    return round(crop * 256 / 224)


def _centre(crop: int) -> list[nn.Module]:
    """Shorter side 256, the centre crop."""
    return [v2.Resize(_resize(crop)), v2.CenterCrop(crop)]


def _alexnet(crop: int) -> list[nn.Module]:
    """Shorter side 256, the centre 256x256, a random 224 crop, a flip."""
    size = _resize(crop)
    return [v2.Resize(size), v2.CenterCrop(size), v2.RandomCrop(crop), v2.RandomHorizontalFlip()]


def _scale_jitter(largest: int) -> Callable[[int], list[nn.Module]]:
    """Shorter side S ~ U[256, ``largest``] (for 224 crops), a random crop, a flip."""

    def steps(crop: int) -> list[nn.Module]:
        top = round(crop * largest / 224)
        flip = v2.RandomHorizontalFlip()
        return [v2.RandomResize(_resize(crop), top + 1), v2.RandomCrop(crop), flip]

    return steps


def _random_sized(interpolation: v2.InterpolationMode) -> Callable[[int], list[nn.Module]]:
    """A crop of 8%-100% of the area with aspect ratio in [3/4, 4/3], resized, a flip."""

    def steps(crop: int) -> list[nn.Module]:
        sized = v2.RandomResizedCrop(
            crop, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation=interpolation
        )
        return [sized, v2.RandomHorizontalFlip()]

    return steps


@dataclass(frozen=True)
class Augmentation:
    """An augmentation: the paper it follows, and how it runs on small images (in batches on
    the training device) and on large ones (``transforms.v2`` in DataLoader workers)."""

    paper: str  #: the paper and section
    #: small images: zero padding before a random crop of the image's size (None: not for them)
    pad: int | None = None
    flip: bool = False  #: small images: random horizontal flips
    #: small images: each image's flip alternates from epoch to epoch, random in the first
    #: (Jordan 2024, airbench: every image is seen both ways in any two epochs in a row)
    alternate: bool = False
    #: large images: the steps on the uint8 image for a crop size (None: not for them)
    steps: Callable[[int], list[nn.Module]] | None = None
    jitter: float = 0.0  #: large images: brightness, contrast and saturation jitter
    lighting: float = 0.0  #: large images: std of AlexNet's PCA lighting (0: none)

    @property
    def small(self) -> bool:
        return self.pad is not None

    @property
    def large(self) -> bool:
        return self.steps is not None


#: Every augmentation by name: the ``augment`` choices of training, checked by the loaders.
AUGMENTATIONS: dict[str, Augmentation] = {
    # small images: 4-pixel zero padding, a random crop of the image's size, a flip
    "cifar": Augmentation(
        "He et al. 2016, Sec. 4.2; Huang et al. 2017, Sec. 4.1", pad=4, flip=True
    ),
    "cifar_altflip": Augmentation(
        "He et al. 2016, Sec. 4.2, with Jordan 2024's alternating flips",
        pad=4,
        flip=True,
        alternate=True,
    ),
    # airbench94's: 2-pixel translations (zero-padded here, reflected there), alternating flips
    "airbench": Augmentation("Jordan 2024 (airbench94)", pad=2, flip=True, alternate=True),
    "flip": Augmentation("flips only", pad=0, flip=True),
    "none": Augmentation("no augmentation; large images: the centre crop", pad=0, steps=_centre),
    # shorter side 256, a random 224 crop of the centre 256x256, a flip; PCA lighting
    "alexnet": Augmentation("Krizhevsky et al. 2012, Sec. 4.1", steps=_alexnet, lighting=0.1),
    # scale jittering: shorter side S ~ U[256, 512], a random crop, a flip; AlexNet's colour
    # shift
    "vgg": Augmentation(
        "Simonyan & Zisserman 2015, Sec. 3.1", steps=_scale_jitter(512), lighting=0.1
    ),
    # a random crop of 8%-100% of the area, aspect ratio in [3/4, 4/3], resized; a flip
    "googlenet": Augmentation(
        "Szegedy et al. 2015, Sec. 6", steps=_random_sized(v2.InterpolationMode.BILINEAR)
    ),
    # shorter side S ~ U[256, 480], a random crop, a flip; PCA lighting
    "resnet_imagenet": Augmentation(
        "He et al. 2016, Sec. 3.4", steps=_scale_jitter(480), lighting=0.1
    ),
    # fb.resnet.torch's datasets/imagenet.lua, the augmentation DenseNet adopts:
    # RandomSizedCrop(224) (bicubic), ColorJitter(brightness, contrast, saturation 0.4, in
    # random order), Lighting(0.1), HorizontalFlip(0.5). Unlike it, torchvision draws the
    # aspect ratio log-uniformly (fb.resnet.torch: uniformly) and clips jittered colours to
    # [0, 1].
    "fb_resnet": Augmentation(
        "Huang et al. 2017, Sec. 4.1 (fb.resnet.torch)",
        steps=_random_sized(v2.InterpolationMode.BICUBIC),
        jitter=0.4,
        lighting=0.1,
    ),
    # fine-tuning (the finetune recipe), on either kind of image: torchvision's
    # transfer-learning tutorial for large ones (RandomResizedCrop, flip), CIFAR's for small
    "finetune": Augmentation(
        "common practice, not a paper",
        pad=4,
        flip=True,
        steps=_random_sized(v2.InterpolationMode.BILINEAR),
    ),  # fmt: skip
}


def augmentation(name: str, small: bool) -> Augmentation:
    """``AUGMENTATIONS[name]``, which must be for ``small`` images (else for large ones)."""
    found = AUGMENTATIONS.get(name)
    if found is None or not (found.small if small else found.large):
        names = [n for n, a in AUGMENTATIONS.items() if (a.small if small else a.large)]
        where = "small images (on the device)" if small else "large images (in workers)"
        raise ConfigError(f"augment {name!r} is not for {where}; use one of {', '.join(names)}")
    return found


def train_transform(augment: str, crop: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """The training pipeline of ``AUGMENTATIONS[augment]`` for ``crop`` x ``crop`` inputs
    (uint8 in): its steps, then to float in [0, 1], colour jitter and PCA lighting (in
    fb.resnet.torch's order), normalisation."""
    a = augmentation(augment, small=False)
    to_float, normalize = _finish(mean, std)
    colour = [v2.ColorJitter(a.jitter, a.jitter, a.jitter)] if a.jitter else []
    colour += [Lighting(a.lighting)] if a.lighting else []
    return v2.Compose([*a.steps(crop), to_float, *colour, normalize])
