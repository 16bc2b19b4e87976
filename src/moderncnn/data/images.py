"""Reading any image a user has as an RGB uint8 tensor.

Pillow opens the file; then: the EXIF orientation is applied (photos from phones), 16-bit
(and 32-bit integer) grey images are scaled to 8 bits by their range rather than clipped to
white, transparent images are composited on white, and CMYK, palette, grey and other modes
are converted to RGB. JPEG files larger than needed are decoded at a reduced scale (Pillow's
draft mode), so a 50-megapixel photo costs little when the model wants 256 pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

#: File extensions looked for when a folder is given (Pillow reads many more formats).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):  # 16/32-bit integer grey
        grey = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or grey.max() <= 65535 else grey.max()
        grey = np.clip(np.round(grey * 255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if img.mode == "F":  # 32-bit float grey: scale its range
        grey = np.asarray(img, dtype=np.float64)
        lo, hi = float(grey.min()), float(grey.max())
        grey = (grey - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(grey)
        return Image.fromarray(grey.round().astype(np.uint8), mode="L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def read_image(path: str | Path, shorter_side: int | None = None) -> torch.Tensor:
    """The image at ``path`` as a uint8 (3, H, W) RGB tensor, upright. ``shorter_side``: the
    size the caller will resize the shorter side to; JPEGs are then decoded at the smallest
    scale that keeps it. Raises whatever Pillow raises for a file that is not an image."""
    with Image.open(path) as img:
        if shorter_side and img.format == "JPEG":
            w, h = img.size
            scale = shorter_side / min(w, h)
            img.draft("RGB", (max(1, round(w * scale)), max(1, round(h * scale))))
        img = ImageOps.exif_transpose(img)
        rgb = _to_rgb(img)
        return torch.from_numpy(np.array(rgb)).permute(2, 0, 1).contiguous()


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of the image at ``path`` from its header, without decoding it."""
    with Image.open(path) as img:
        width, height = img.size
    return height, width


def image_files(paths: list[str | Path]) -> list[Path]:
    """``paths`` with every folder replaced by the image files under it (recursively, by
    extension, sorted); files named explicitly are kept whatever their extension."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = (f for f in p.rglob("*") if f.is_file())
            out.extend(sorted(f for f in found if f.suffix.lower() in IMAGE_EXTENSIONS))
        else:
            out.append(p)
    return out


def reason(error: Exception) -> str:
    """One line saying why a file could not be read: ``OSError: cannot identify image...``."""
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
