"""The pieces of a training run, each built from a :class:`TrainConfig` by one function, as
timm's ``train.py`` builds them: the run (its directory, precision and what resuming keeps,
all checked before any data is read), the data, the model, the loaders, the optimizer, and
the network as it trains (DDP, ``torch.compile``) with its moving average.
:class:`~moderncnn.train.engine.Trainer` calls them in this order and holds the loop's state.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from moderncnn.data import LoaderOptions, Splits, load_splits, make_loader
from moderncnn.errors import CheckpointError, ConfigError
from moderncnn.models import ConvNet, create_model, model_info
from moderncnn.models.factory import check_options
from moderncnn.models.pretrained import DataConfig, PretrainedCfg, weights_cfg
from moderncnn.models.probe import min_input_size
from moderncnn.models.weights import read_metadata
from moderncnn.precision import describe, resolve_amp
from moderncnn.train import distributed
from moderncnn.train.config import TrainConfig, load_run_config, resume_changes
from moderncnn.train.finetune import freeze, param_groups
from moderncnn.train.state import latest_checkpoint, open_run_dir
from moderncnn.train.whiten import whiten_first_conv

log = logging.getLogger("moderncnn")


@dataclass(frozen=True)
class Run:
    """A run as :func:`start_run` found it, before any data is read.

    ``cfg`` is the configuration as the run uses it (data folder resolved, ``output`` and
    ``amp`` as chosen); ``resume_from`` the checkpoint folder it continues from (None: a
    new run), ``changes`` what resuming changes in its config.toml, ``expect`` the digest its
    training split must have (a resumed run keeps its data), ``weights`` the weights to start
    from (never a resumed run's: those come from its checkpoint) and ``pretrained`` their
    configuration."""

    cfg: TrainConfig
    run_dir: Path
    precision: str
    options: dict[str, object]
    resume_from: Path | None = None
    changes: dict[str, object] = dataclasses.field(default_factory=dict)
    expect: tuple[str, str] | None = None
    weights: str | None = None
    pretrained: PretrainedCfg | None = None


def start_run(
    cfg: TrainConfig, env: distributed.DistEnv, resume: bool = False, overwrite: bool = False
) -> Run:
    """Check everything a run can fail on before its data is read (minutes, for a large data
    set): what resuming may change, the model's options, the run directory, the checkpoint
    and its length, the weights; seed the RNGs and choose the precision."""
    given_data = cfg.data_dir  # stored resolved: a run resumes from any folder
    cfg = dataclasses.replace(cfg, data_dir=_resolved(cfg.data_dir))
    # What resuming may change, checked first: a flag it refuses is the error
    changes = resume_changes(load_run_config(cfg.output), cfg) if resume else {}
    options = model_options(cfg)
    _configure_determinism(cfg)
    torch.manual_seed(cfg.seed)
    run_dir = Path(distributed.broadcast(cfg.output or str(default_run_dir(cfg))))
    if env.main:
        open_run_dir(run_dir, resume, overwrite)
    amp, precision = _precision(cfg, run_dir, env.device, resume)
    cfg = dataclasses.replace(cfg, output=str(run_dir), amp=amp)
    resume_from = latest_checkpoint(run_dir) if resume else None
    if resume and resume_from is None:
        raise CheckpointError(f"{str(run_dir)!r} has no checkpoint to resume from")
    recorded = read_metadata(resume_from / "model.safetensors") if resume_from else {}
    expect = None
    if "split_digest" in recorded:  # the same images moved elsewhere will do
        expect = (str(recorded["split_digest"]), "the run resumed (a resumed run keeps its data)")
    if resume_from:
        _check_length(cfg, run_dir, int(recorded["epoch"]), int(recorded["step"]))
    if given_data != cfg.data_dir:
        log.info("data: %s (given as %s)", cfg.data_dir, given_data)
    _say_distributed(cfg, env)
    weights = cfg.weights if cfg.weights and not resume_from else None
    pretrained = None
    if weights or cfg.preprocess == "weights":  # a missing file or wrong name fails now
        pretrained = weights_cfg(cfg.model, cfg.weights)
    return Run(cfg, run_dir, precision, options, resume_from, changes, expect, weights,
               pretrained)  # fmt: skip


def model_options(cfg: TrainConfig) -> dict[str, object]:
    """The model options ``cfg`` sets, checked (:func:`check_options`): ``model_kwargs``,
    and ``drop_rate`` (timm's name) when given."""
    given = {**cfg.model_kwargs, **({"drop_rate": cfg.drop_rate} if cfg.drop_rate >= 0 else {})}
    check_options(cfg.model, given)
    return given


def default_run_dir(cfg: TrainConfig) -> Path:
    return Path("runs") / f"{cfg.model}-{Path(cfg.recipe).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _resolved(data_dir: str) -> str:
    return str(Path(data_dir).expanduser().resolve()) if data_dir else data_dir


def _configure_determinism(cfg: TrainConfig) -> None:
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(cfg.deterministic)
    torch.backends.cudnn.benchmark = not cfg.deterministic


def _precision(
    cfg: TrainConfig, run_dir: Path, device: torch.device, resume: bool
) -> tuple[str, str]:
    """``cfg.amp`` resolved on ``device`` (:func:`moderncnn.precision.resolve_amp`) and its
    description. A resumed run keeps the precision its config.toml recorded, unless another
    one is asked for: a run keeps its identity on another machine."""
    saved = run_dir / "config.toml"
    started = load_run_config(run_dir).amp if resume and saved.is_file() else None
    kept = started is not None and cfg.amp in ("auto", started)
    amp = resolve_amp(started if kept else cfg.amp, device)
    return amp, describe(amp, cfg.amp, device, kept)


def _check_length(cfg: TrainConfig, run_dir: Path, epoch: int, step: int) -> None:
    """Refuse to resume a run at ``epoch`` (``step``) that is finished, or past the length
    asked for."""
    done, asked = (step, cfg.iterations) if cfg.iterations else (epoch, cfg.epochs)
    unit = "iterations" if cfg.iterations else "epochs"
    if done > asked:
        raise ConfigError(
            f"{str(run_dir)!r} has trained {done} {unit} already, more than the {asked} asked for"
        )
    if done == asked and (run_dir / "results.json").exists():
        blocker = cfg.extension_blocker()
        longer = (
            f"it cannot be trained longer: {blocker}"
            if blocker
            else f"to train it longer, resume with --{unit} N beyond {done}"
        )
        raise ConfigError(
            f"{str(run_dir)!r} is finished ({done} {unit}, results in results.json); {longer}"
        )


def _say_distributed(cfg: TrainConfig, env: distributed.DistEnv) -> None:
    """Whether the run is distributed, and what that means for BatchNorm."""
    if env.world == 1:
        if cfg.sync_bn:
            log.warning("--sync-bn has no effect in a single process (nothing to sync)")
        return
    if cfg.batch_size % (env.world * cfg.accum_steps):  # accum_steps alone: TrainConfig.check
        raise ConfigError(
            f"batch_size {cfg.batch_size} does not split into {cfg.accum_steps} micro-batches "
            f"over {env.world} processes; make it a multiple of {env.world * cfg.accum_steps}"
        )
    if cfg.sync_bn and env.device.type == "cpu":
        raise ConfigError("--sync-bn needs GPUs (torch's SyncBatchNorm does not run on the CPU)")
    norm = "synchronised" if cfg.sync_bn else "of each process's own images (--sync-bn: of all)"
    log.info(
        "distributed: %d processes on %s, %d images a step (%d each); BatchNorm statistics %s",
        env.world,
        env.device.type,
        cfg.batch_size,
        cfg.batch_size // env.world,
        norm,
    )


def build_data(run: Run, env: distributed.DistEnv, progress: bool) -> Splits:
    """The run's splits, normalised as its weights were where ``preprocess`` says so.
    Rank 0 decodes and caches the images first; the other ranks read its cache."""
    cfg = run.cfg
    if not env.main:
        distributed.barrier()
    splits = load_splits(
        cfg.data_dir,
        val_size=cfg.val_size,
        limit=cfg.limit,
        test=cfg.test,
        cache_dir=cfg.cache_dir or None,
        strict=cfg.strict,
        workers=cfg.workers,
        download=cfg.download,
        progress=progress,
        expect=run.expect,
        normalisation=(data.mean, data.std) if (data := _weights_data(run)) else None,
    )
    if env.main:
        distributed.barrier()
    return splits


def _weights_data(run: Run) -> DataConfig | None:
    """How the run's weights were preprocessed, where the run preprocesses as they were."""
    return run.pretrained.data if run.cfg.preprocess == "weights" else None


def input_size(run: Run) -> int:
    """The side of the images the network trains on: its own, or its weights' crop."""
    data = _weights_data(run)
    return data.crop if data else model_info(run.cfg.model).input_size[-1]


def build_model(run: Run, splits: Splits) -> tuple[ConvNet, list[nn.Module]]:
    """The network for the data's classes, from the run's weights where it starts from
    some, with its frozen part (returned: the BatchNorm layers it holds, kept in eval mode).
    Checks that its training-only parts fit the images."""
    cfg = run.cfg
    classes = len(splits.classes)
    model = create_model(cfg.model, num_classes=classes, weights=run.weights, **run.options)
    if run.weights:
        _new_head(model, splits.classes)
    frozen_norms = freeze(model, cfg.freeze, cfg.freeze_until)
    if cfg.whiten:  # a resumed run's checkpoint then loads the same filters
        whiten_first_conv(model, splits)
    _check_training_size(model, cfg, splits, run.options)
    return model, frozen_norms


def _new_head(model: ConvNet, classes: list[str]) -> None:
    """A fresh classifier for the data's classes when the weights' are others of the same
    number (names or order differ). Another number of classes already got one, with a
    message; published weights' class names are not folder names, so their classifier is
    kept for 1000-class data (ImageNet)."""
    cfg = model.pretrained_cfg
    if cfg is None or cfg.url is not None or cfg.classes is None:
        return
    trained = cfg.classes
    if len(trained) != len(classes) or trained == classes:
        return
    model.reset_classifier(len(classes))
    log.warning(
        "%s: new classifier for the data's classes (%s); the weights' is for theirs (%s)",
        model.model_name,
        ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else ""),
        ", ".join(trained[:5]) + (", ..." if len(trained) > 5 else ""),
    )


def _check_training_size(
    model: ConvNet, cfg: TrainConfig, splits: Splits, options: dict[str, object]
) -> None:
    """Training-only parts may need larger inputs than the network proper (the aux heads of
    googlenet_paper: 79 pixels): say so now, not in the first step."""
    if all(getattr(model, part, None) is None for part in model.aux_parts):
        return
    size = splits.train.images.shape[-1] if splits.small else model_info(cfg.model).input_size[-1]
    smallest = min_input_size(cfg.model, model.in_chans, training=True, **options)
    if size < smallest:
        raise ConfigError(
            f"{cfg.model}'s auxiliary heads need training images of at least "
            f"{smallest}x{smallest} pixels, these are {size}x{size}; train a network made "
            "for them (e.g. googlenet_cifar for 32x32 images)"
        )


def build_loaders(
    cfg: TrainConfig, env: distributed.DistEnv, splits: Splits, crop: int
) -> tuple[dict[str, object], int]:
    """The loaders of the splits there are (train in mini-batches of ``batch_size``, val and
    test in micro-batches), and the optimizer steps an epoch takes."""
    options = LoaderOptions(
        crop=crop,
        seed=cfg.seed,
        rank=env.rank,
        world=env.world,
        workers=cfg.workers,
        strict=cfg.strict,
        channels_last=cfg.channels_last,
    )
    loaders = {
        "train": make_loader(
            splits, splits.train, cfg.batch_size, env.device, options, train=True,
            augment=cfg.augment, accum=cfg.accum_steps,
        )
    }  # fmt: skip
    micro = cfg.batch_size // cfg.accum_steps
    for name in ("val", "test"):
        images = getattr(splits, name)
        if images is not None:
            loaders[name] = make_loader(splits, images, micro, env.device, options)
    steps_per_epoch = len(loaders["train"]) // cfg.accum_steps
    if steps_per_epoch == 0:
        raise ConfigError(
            f"{len(splits.train)} training images do not fill one batch of {cfg.batch_size}; "
            "lower --batch-size"
        )
    return loaders, steps_per_epoch


def build_optimizer(cfg: TrainConfig, model: ConvNet) -> torch.optim.SGD:
    """SGD over the trainable parameters, the backbone's rate scaled when fine-tuning."""
    return torch.optim.SGD(
        param_groups(model, cfg.backbone_lr_scale if cfg.weights else 1.0),
        lr=cfg.peak_lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
        fused=True,
    )


def wrap(model: nn.Module, cfg: TrainConfig, env: distributed.DistEnv) -> nn.Module:
    """``model`` as it trains: under DDP across processes (SyncBatchNorm where asked) and
    compiled where asked."""
    net: nn.Module = model
    if env.world > 1:
        if cfg.sync_bn:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        ids = [env.device.index] if env.device.type == "cuda" else None
        net = DistributedDataParallel(net, device_ids=ids)
    return torch.compile(net, mode=cfg.compile_mode) if cfg.compile else net


def build_ema(cfg: TrainConfig, model: nn.Module) -> AveragedModel | None:
    """Polyak averaging of the weights for evaluation (``ema_decay``), or None. Its counter
    stays on the CPU, so an update never waits for the GPU."""
    if not cfg.ema_decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
