"""Decode small images once into a uint8 tensor file, keyed by the source files.

The key hashes every file's path, size and modification time, so a changed, added or removed
file makes a new cache; epochs then read one tensor and never decode a JPEG again.
Unreadable files are skipped with a warning that counts them, or are an error with ``strict``;
they are tried again whenever the cache is read (a file's permissions change neither its size
nor its time), and a cache file that is damaged or stale is named and rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
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


def examples(items: list[tuple[str, str]], n: int = 3) -> str:
    """``path (detail)`` of the first ``n`` (path, detail) items, and how many more."""
    shown = ", ".join(f"{path} ({detail})" for path, detail in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def report_bad(bad: list[tuple[str, str]], total: int, where: str, strict: bool) -> None:
    """Warn that ``bad`` (path, reason) files of ``total`` were skipped, or raise if strict."""
    if not bad:
        return
    if strict:
        raise DataError(
            f"{len(bad)} unreadable image files in {where} (--strict), e.g. {examples(bad, 1)}"
        )
    log.warning(
        "skipped %d unreadable image files of %d in %s, e.g. %s",
        len(bad),
        total,
        where,
        examples(bad),
    )


def _key(images: ImageSet) -> str:
    h = hashlib.sha256()
    for path, label in zip(images.files or [], images.labels.tolist(), strict=True):
        st = os.stat(path)
        h.update(f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{label}\n".encode())
    h.update("\0".join(images.classes).encode())
    return h.hexdigest()[:20]


def _unwritable(cache_dir: Path, error: OSError) -> DataError:
    """The error for a cache folder that cannot be written, naming the file in its way."""
    existing = next(p for p in (cache_dir, *cache_dir.parents) if p.exists())
    why = reason(error) if existing.is_dir() else f"{str(existing)!r} is a file"
    return DataError(
        f"cannot write the decode cache in {str(cache_dir)!r}: {why}; give --cache-dir "
        "(or $MODERNCNN_CACHE) a writable folder"
    )


def _read_cache(path: Path, images: ImageSet) -> dict | None:
    """The decoded images cached at ``path`` for ``images``' files; None when there are none,
    or when the file is damaged or stale (said, to be rebuilt)."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, weights_only=True)
        out, labels, bad = blob["images"], blob["labels"], blob["bad"]
        unreadable = {f for f, _ in bad}
        keep = [i for i, f in enumerate(images.files or []) if f not in unreadable]
        valid = (
            out.dtype == torch.uint8
            and out.dim() == 4
            and len(out) == len(keep)
            and torch.equal(labels, images.labels[keep])
            and isinstance(blob["resized"], list)
        )
    except Exception as e:  # a truncated or foreign file: whatever torch.load raises
        log.warning("decode cache %s is unreadable (%s); rebuilding it", path, reason(e))
        return None
    if not valid:
        log.warning(
            "decode cache %s does not match its files (%d readable of %d); rebuilding it",
            path,
            len(keep),
            len(images),
        )
        return None
    readable = [f for f, _ in bad if not isinstance(try_decode(f), str)]
    if readable:
        log.warning(
            "decode cache %s is stale: %d of the files it records as unreadable can now be "
            "read, e.g. %s; rebuilding it",
            path,
            len(readable),
            readable[0],
        )
        return None
    log.info("read %d decoded images from %s", len(out), path)
    return blob


def _decode(images: ImageSet, name: str, workers: int, progress: bool) -> dict:
    """Decode every file; images of another size than most are resized to theirs."""
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
    keep = [i for i, d in enumerate(decoded) if not isinstance(d, str)]
    if not keep:
        raise DataError(f"no readable image in {name} ({len(files)} files)")
    sizes = {i: tuple(decoded[i].shape[-2:]) for i in keep}
    size = Counter(sizes.values()).most_common(1)[0][0]
    resized = [(files[i], f"{w}x{h}") for i, (h, w) in sizes.items() if (h, w) != size]
    out = torch.stack(
        [decoded[i] if sizes[i] == size else TF.resize(decoded[i], list(size)) for i in keep]
    )
    return {"images": out, "labels": images.labels[keep], "bad": bad, "resized": resized}


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

    Images take the most common size of the split; the others are resized to it, with a
    warning naming them. ``progress`` shows a bar while decoding.
    """
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(cache_dir, e) from None
    path = cache_dir / f"{name}-{len(images)}-{_key(images)}.pt"
    blob = _read_cache(path, images)
    if blob is None:
        blob = _decode(images, name, workers, progress)
        try:
            atomic_write(path, lambda tmp: torch.save(blob, tmp))
        except OSError as e:
            raise _unwritable(cache_dir, e) from None
        log.info("decoded %d images into %s", len(blob["images"]), path)
    report_bad(blob["bad"], len(images), name, strict)
    out, resized = blob["images"], blob["resized"]
    if resized:
        log.warning(
            "resized %d of %d images in %s to %dx%d (their size differs), e.g. %s",
            len(resized),
            len(out),
            name,
            out.shape[3],
            out.shape[2],
            examples(resized),
        )
    return ImageSet(images.classes, blob["labels"], images=out)
