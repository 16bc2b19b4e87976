"""Classify image files: top-k class names and probabilities per image, in batches.

Any file Pillow reads works (see :func:`moderncnn.data.images.read_image`); a file that cannot
be read is reported with its reason and the others are classified. Images are decoded in
threads while the model runs, and prepared with the model's own data config (its weights',
see :func:`moderncnn.data.resolve_data_config`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from moderncnn.data.folder_loader import far_from, warn_far
from moderncnn.data.images import read_image, reason
from moderncnn.data.transforms import eval_transform, resolve_data_config
from moderncnn.models.base import ConvNet
from moderncnn.validate import integer


@dataclass
class Prediction:
    """One image: its top classes (name, index, probability), best first, or why it failed."""

    path: str
    classes: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def class_names(model: ConvNet) -> list[str]:
    """The model's class names: its weights' categories, else ``class 0``, ``class 1``..."""
    cfg = model.pretrained_cfg
    if cfg is not None and cfg.classes and len(cfg.classes) == model.num_classes:
        return list(cfg.classes)
    return [f"class {i}" for i in range(model.num_classes)]


def _load(path: Path, transform, shorter_side: int, crop: int) -> tuple[torch.Tensor | str, str]:
    """The image prepared for the model, or why it cannot be read; and its size when it is
    far from the crop (:func:`moderncnn.data.folder_loader.far_from`)."""
    try:
        if path.is_file() and path.stat().st_size == 0:
            return "it is empty (0 bytes)", ""
        image = read_image(path, shorter_side)
        return transform(image), far_from(image, crop)
    except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError and more
        return reason(e), ""


def predict(
    model: ConvNet,
    files: Sequence[str | Path],
    topk: int = 5,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    workers: int = 2,
) -> Iterator[Prediction]:
    """Yield a :class:`Prediction` for each of ``files``, in order."""
    integer(topk, "topk", minimum=1)
    integer(batch_size, "batch_size", minimum=1)
    names = class_names(model)
    k = min(topk, len(names))
    cfg = resolve_data_config(model)
    transform = eval_transform(cfg)
    model = model.eval().to(device)
    far = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(files), batch_size):
            chunk = [Path(f) for f in files[start : start + batch_size]]
            done = list(pool.map(lambda p: _load(p, transform, cfg.resize, cfg.crop), chunk))
            loaded = [x for x, _ in done]
            far += [(str(p), size) for p, (_, size) in zip(chunk, done, strict=True) if size]
            good = [x for x in loaded if isinstance(x, torch.Tensor)]
            if good:
                with torch.inference_mode():
                    probs = model(torch.stack(good).to(device)).float().softmax(1)
                    top = probs.topk(k, dim=1)
                values, indices = top.values.tolist(), top.indices.tolist()
            row = 0
            for path, x in zip(chunk, loaded, strict=True):
                if isinstance(x, str):
                    yield Prediction(str(path), error=x)
                    continue
                idx = indices[row]
                yield Prediction(str(path), [names[i] for i in idx], idx, values[row])
                row += 1
    warn_far(far, len(files), "the files given", cfg.crop)
