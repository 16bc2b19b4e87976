"""Scoring a weights file on a data set (``moderncnn eval``): the centre crop or the AlexNet
paper's ten crops, with test-time augmentation, on the test split or on the held-out and
training splits of the run that wrote the weights (:func:`evaluate_weights`).

Weights trained on more classes than a data set holds (published ImageNet weights on a folder
of 100 ImageNet classes) are scored on the data's classes, mapped onto the weights' by WordNet
id or class name (:mod:`moderncnn.data.imagenet`): over all the weights' classes (a prediction
outside the data's counts as an error, as ImageNet's published errors) or over the data's
classes only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from moderncnn.data import LoaderOptions, Splits, find_dataset, load_splits, make_loader
from moderncnn.data.imagenet import ClassMap, imagenet_categories, match_classes
from moderncnn.data.sources import limit as subset
from moderncnn.data.sources import split_folder, split_folders
from moderncnn.errors import DataError
from moderncnn.models import create_model, model_info
from moderncnn.models.factory import saved_options
from moderncnn.models.pretrained import weights_cfg, weights_file
from moderncnn.models.weights import read_metadata, read_weights
from moderncnn.precision import resolve_amp
from moderncnn.train.evaluate import EvalResult, evaluate
from moderncnn.train.tta import TestTimeAugmentation
from moderncnn.validate import parse_device

log = logging.getLogger("moderncnn")


class ClassSubset(nn.Module):
    """``model``'s logits for the data's classes: output ``index[i]`` as column ``i``, then, with
    ``keep_rest``, the model's other outputs (scoring over all its classes)."""

    def __init__(self, model: nn.Module, index: list[int], outputs: int, keep_rest: bool) -> None:
        super().__init__()
        self.model = model
        rest = sorted(set(range(outputs)) - set(index)) if keep_rest else []
        self.register_buffer("order", torch.tensor(index + rest), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).index_select(1, self.order)


#: How weights trained on more classes than the data holds are scored (``--score``).
SCORES = ("all", "subset")


@dataclass
class WeightsEvaluation:
    """What :func:`evaluate_weights` measured: the result, its split and classes, the split's
    folder (ImageFolder trees; None for CIFAR) and the classifier keys left untrained.

    When the data's classes were mapped onto the weights' (``class_map``), ``score`` says over
    which classes: "all" the weights' (``weights_classes``) or the data's "subset"."""

    result: EvalResult
    split: str
    classes: list[str]
    folder: Path | None
    new_head: list[str]
    class_map: ClassMap | None = None
    score: str = "all"
    #: The classes' names taken as ImageNet-1k's for weights that carry none (a .pth file of
    #: 1000 classes for an ImageNet network).
    assumed_imagenet: bool = False

    @property
    def weights_classes(self) -> int | None:
        return self.class_map.outputs if self.class_map else None

    def scored(self) -> str:
        """Over which classes the errors are, in words ("" when the classes are the data's)."""
        if self.class_map is None:
            return ""
        k, n = len(self.classes), self.class_map.outputs
        how = f"classes matched by {self.class_map.matched_by}"
        if self.assumed_imagenet:
            how += " (the weights carry no class names: taken as ImageNet-1k's)"
        if self.score == "all":
            return (
                f"scored over all {n} classes of the weights: a prediction of a class the data "
                f"does not hold is an error (--score subset: the data's {k} only); {how}"
            )
        return (
            f"scored over the data's {k} classes only (the weights' other {n - k} logits left "
            f"out; --score all: all {n}); {how}"
        )


def evaluate_weights(
    model_name: str,
    weights: str | Path,
    data_dir: str | Path,
    *,
    split: str = "test",
    ten_crop: bool = False,
    tta: str = "none",
    batch_size: int = 256,
    limit: int = 0,
    device: str = "",
    amp: str = "auto",
    cache_dir: str | Path | None = None,
    workers: int = 2,
    allow_new_head: bool = False,
    score: str = "all",
    progress: bool = True,
) -> WeightsEvaluation:
    """Evaluate a weights file on ``split``: 'test' (an ImageFolder tree's ``test/``, else
    ``val/``: a tree holding only one of them will do), or 'val' / 'train' (the held-out split
    and the rest of ``train/``, as the run that wrote the weights made them).

    The classifier must be for the data's classes: one for another number is an error, or
    with ``allow_new_head`` is replaced by a random one (named in ``new_head``); a moderncnn
    file's class names must be the data's, in the same order. Normalisation and validation
    size come from the file's metadata when it has them (moderncnn training writes them);
    ``weights`` may also name published weights (``IMAGENET1K_V1``, ``DEFAULT``...), which
    bring their own normalisation and input size. ``tta`` ('flip', 'flip-translate')
    averages logits over views of each image (:mod:`moderncnn.train.tta`).

    Weights for more classes than the data holds, or for the same classes in another order,
    are scored on the data's classes mapped onto theirs (:func:`match_classes`: by WordNet id
    for ImageNet-1k's classes, else by class name), ``score`` "all" (over every class of the
    weights; the default) or "subset" (over the data's classes only). The weights' class names
    are their categories (published weights, a torchvision file under its published name, a
    moderncnn file's ``classes``); a file without them whose classifier has 1000 classes, for an
    ImageNet network, is taken to have ImageNet-1k's.
    """
    if ten_crop and tta != "none":
        raise DataError("--ten-crop already averages over flips and crops; drop --tta")
    if score not in SCORES:
        raise DataError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
    dev = parse_device(device)
    amp = resolve_amp(amp, dev)
    cfg = weights_cfg(model_name, weights)  # published weights: from their enum, no download
    weights = weights_file(model_name, weights)
    state, _ = read_weights(weights)  # a missing or unreadable file fails before the data
    meta = read_metadata(weights)
    source = find_dataset(data_dir)
    if split != "test" and source.kind == "folder" and "train" not in split_folders(source):
        raise DataError(
            f"--split {split} reads the images of train/ (val: those held out from it), and "
            f"{str(source.root)!r} has no train/ folder; its test split is "
            f"{split_folder(source, 'test')}: evaluate that with --split test (the default)"
        )
    known = cfg.url is not None or "mean" in meta  # the weights' normalisation, where known
    held = split != "test"  # the run's own split, rebuilt as it made it (run_split)
    val_size, run_limit, expect, val_from = run_split(weights, meta) if held else (0, 0, None, "")
    splits = load_splits(
        data_dir,
        val_size=val_size,
        limit=run_limit if held else limit,
        train=held,
        test=not held,
        cache_dir=cache_dir,
        workers=workers,
        progress=progress,
        expect=expect,
        val_from=val_from,
        normalisation=(cfg.data.mean, cfg.data.std) if known else None,
    )
    trained = meta.get("classes")
    if trained and len(trained) == len(splits.classes):  # another count: load_weights says so
        _check_class_names(weights, trained, splits)
    options = saved_options(weights)
    outputs = _classifier_outputs(model_name, state, options)
    categories, assumed = _categories(model_name, cfg.classes, outputs)
    class_map = None
    if categories is not None and outputs is not None and trained != splits.classes:
        class_map = _class_map(weights, splits.classes, categories, outputs, allow_new_head)
    crop = cfg.data.crop
    images = getattr(splits, split)
    if images is None:
        raise DataError(f"no {split} split (val needs a held-out size > 0)")
    if held:  # a fixed random subset of the run's split, not another split
        images = subset(images, limit)
    k = len(splits.classes)
    classes = outputs if class_map else len(splits.classes)
    model = create_model(
        model_name, weights=weights, num_classes=classes, progress=progress,
        new_head=allow_new_head and not class_map,
    )  # fmt: skip
    # a file's classifier for another number of classes stays untrained (allow_new_head)
    heads = model.classifier_keys() if outputs not in (None, classes) else set()
    new_head = [k for k in model.state_dict() if k in heads]
    scored: nn.Module = model
    if class_map is not None:
        scored = ClassSubset(model, class_map.index, class_map.outputs, score == "all")
    scored.to(dev, memory_format=torch.channels_last)
    options = LoaderOptions(crop=crop, resize=cfg.data.resize, workers=workers)
    loader = make_loader(splits, images, batch_size, dev, options, ten_crop=ten_crop)
    net = TestTimeAugmentation(scored, tta) if tta != "none" else scored
    result = evaluate(
        net, loader, k, dev, amp, progress=progress, desc=f"evaluating {split}",
        outputs=class_map.outputs if class_map and score == "all" else None,
    )  # fmt: skip
    folder = None
    if source.kind == "folder":
        folder = split_folder(source, "test" if split == "test" else "train")
    assumed = assumed and class_map is not None
    return WeightsEvaluation(
        result, split, splits.classes, folder, new_head, class_map, score, assumed
    )


def _classifier_outputs(
    model_name: str, state: dict[str, torch.Tensor], options: dict
) -> int | None:
    """Classes of the main classifier in ``state`` (None when it has none)."""
    with torch.device("meta"):
        path = next(iter(create_model(model_name, **options).classifier_widths), None)
    found = state.get(f"{path}.weight", state.get(f"module.{path}.weight"))
    return int(found.shape[0]) if found is not None else None


def _categories(
    model_name: str, classes: list[str] | None, outputs: int | None
) -> tuple[list[str] | None, bool]:
    """The weights' class names, and whether they are assumed: ImageNet-1k's for a 1000-class
    classifier of an ImageNet network that carries no names."""
    if classes is not None:
        return (classes, False) if len(classes) == outputs else (None, False)
    if outputs == 1000 and model_info(model_name).dataset == "imagenet":
        return imagenet_categories(), True
    return None, False


def _class_map(
    weights: str | Path,
    data: list[str],
    categories: list[str],
    outputs: int,
    allow_new_head: bool,
) -> ClassMap | None:
    """The data's classes mapped onto the weights' when their count or order differs; None
    where they are the same (or, with ``allow_new_head``, do not map: a new head is scored)."""
    try:
        found = match_classes(data, categories)
    except DataError as e:
        if len(data) == outputs:
            return None  # the same number: scored in folder order, as before any mapping
        if allow_new_head:
            return None
        raise DataError(
            f"{str(weights)!r} holds a classifier for {outputs} classes and the data has "
            f"{len(data)}, which cannot be mapped onto them: {e}. To check a pipeline rather "
            "than the weights, score a new, untrained classifier (--allow-new-head)"
        ) from None
    return None if found.identity else found


def run_split(
    weights: str | Path, meta: dict[str, object]
) -> tuple[int, int, tuple[str, str] | None, str]:
    """How the run that wrote ``weights`` split its training images: (val_size, limit, the
    digest its images must have and whose it is, where val_size came from), from the
    file's metadata (moderncnn training records them); without it, the default hold-out
    of all the images, which cannot be checked."""
    if "val_size" not in meta:
        log.warning(
            "%s records no training split: --split val and train hold out the default 5000 "
            "images of all of them, which may not be the split the weights were trained on",
            weights,
        )
        return 5000, 0, None, "the default val_size (the weights record none)"
    digest = meta.get("split_digest")
    expect = (str(digest), f"the run of {str(weights)!r}") if digest else None
    val_from = f"the val_size of the run of {str(weights)!r}"
    return int(meta["val_size"]), int(meta.get("limit") or 0), expect, val_from


def _check_class_names(weights: str | Path, trained: list[str], splits: Splits) -> None:
    """Raise unless the weights were trained on the data's class names, in the same order."""
    data = splits.classes
    if trained == data:
        return
    only_trained = [c for c in trained if c not in data]
    only_data = [c for c in data if c not in trained]
    if only_trained or only_data:
        detail = f"only in the weights: {_some(only_trained)}; only in the data: {_some(only_data)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(trained, data, strict=True)) if a != b)
        detail = (
            f"the same classes in another order: class {i} is {trained[i]!r} in the weights, "
            f"{data[i]!r} in the data"
        )
    raise DataError(
        f"{str(weights)!r} was trained on other classes than {str(splits.source.root)!r} holds "
        f"({detail}); evaluate it on the classes it was trained on"
    )


def _some(names: list[str], n: int = 5) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return (", ".join(names[:n]) or "none") + more
