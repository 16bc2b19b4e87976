"""Decode small images once into a uint8 tensor file, keyed by the source files.

The key hashes every file's path, size and modification time, so a changed, added or removed
file makes a new cache; epochs then read one tensor and never decode a JPEG again.
Unreadable files are skipped with a warning that counts them, or are an error with ``strict``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torchvision.transforms.v2 import functional as TF

from moderncnn.data.images import read_image, reason
from moderncnn.data.sources import ImageSet
from moderncnn.errors import DataError
from moderncnn.io import atomic_write
from moderncnn.progress import progress as show_progress

log = logging.getLogger("moderncnn")


def default_cache_dir() -> Path:
    """``$MODERNCNN_CACHE``, else ``$XDG_CACHE_HOME/moderncnn``, else ``~/.cache/moderncnn``."""
    if os.environ.get("MODERNCNN_CACHE"):
        return Path(os.environ["MODERNCNN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "moderncnn"


def try_decode(path: str) -> torch.Tensor | str:
    try:
        return read_image(path)
    except Exception as e:  # Pillow raises OSError / ValueError / SyntaxError, and more
        return reason(e)


def report_bad(bad: list[tuple[str, str]], total: int, where: str, strict: bool) -> None:
    """Warn that ``bad`` (path, reason) files of ``total`` were skipped, or raise if strict."""
    if not bad:
        return
    first = f"{bad[0][0]} ({bad[0][1]})"
    if strict:
        raise DataError(f"{len(bad)} unreadable image files in {where} (--strict), e.g. {first}")
    log.warning(
        "skipped %d unreadable image files of %d in %s, e.g. %s", len(bad), total, where, first
    )


def _key(images: ImageSet) -> str:
    h = hashlib.sha256()
    for path, label in zip(images.files or [], images.labels.tolist(), strict=True):
        st = os.stat(path)
        h.update(f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{label}\n".encode())
    h.update("\0".join(images.classes).encode())
    return h.hexdigest()[:20]


def cached_decode(
    images: ImageSet,
    name: str,
    cache_dir: str | Path,
    *,
    strict: bool = False,
    workers: int = 2,
    progress: bool = True,
) -> ImageSet:
    """Decode ``images.files`` into a uint8 (N, 3, H, W) tensor, or read it from the cache.

    Every image takes the size of the first readable one (resized if it differs);
    ``progress`` shows a bar while decoding.
    """
    path = Path(cache_dir) / f"{name}-{len(images)}-{_key(images)}.pt"
    if path.is_file():
        blob = torch.load(path, weights_only=True)
        log.info("read %d decoded images from %s", len(blob["labels"]), path)
        report_bad(blob["bad"], len(images), name, strict)
        return ImageSet(images.classes, blob["labels"], images=blob["images"])
    files = images.files or []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        decoded = list(
            show_progress(
                pool.map(try_decode, files),
                total=len(files),
                desc=f"decoding {name}",
                unit="img",
                enabled=progress,
            )
        )
    bad = [(f, d) for f, d in zip(files, decoded, strict=True) if isinstance(d, str)]
    report_bad(bad, len(files), name, strict)
    keep = [i for i, d in enumerate(decoded) if not isinstance(d, str)]
    if not keep:
        raise DataError(f"no readable image in {name} ({len(files)} files)")
    size = list(decoded[keep[0]].shape[-2:])
    tensors = [decoded[i] for i in keep]
    out = torch.stack([t if list(t.shape[-2:]) == size else TF.resize(t, size) for t in tensors])
    labels = images.labels[keep]
    blob = {"images": out, "labels": labels, "bad": bad}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))
    log.info("decoded %d images into %s", len(out), path)
    return ImageSet(images.classes, labels, images=out)
