"""One training loop for every network.

Auxiliary classifiers are handled generically (a tuple output is main logits then auxiliary
logits, weighted by ``aux_weight``), metrics stay on the device until once a second, and
every epoch ends with validation on the held-out split, a metrics row and an atomic
checkpoint. The test split is evaluated once, at the end, with the weights validation chose.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from moderncnn.checkpoint import load_weights, read_metadata, save_weights
from moderncnn.data import LoaderOptions, load_splits, make_loader
from moderncnn.errors import CheckpointError, ConfigError, DivergedError, Interrupted
from moderncnn.inspect.probe import min_input_size
from moderncnn.io import atomic_write, to_json
from moderncnn.loss import compute_loss
from moderncnn.models import create_model, model_info
from moderncnn.models.pretrained import DataConfig, weights_cfg
from moderncnn.precision import describe, resolve_amp
from moderncnn.progress import progress
from moderncnn.train import distributed
from moderncnn.train.config import (
    TrainConfig,
    load_run_config,
    record_changes,
    resume_changes,
)
from moderncnn.train.evaluate import EvalResult, autocast, evaluate
from moderncnn.train.finetune import freeze, param_groups
from moderncnn.train.graphs import WARMUP_STEPS, GraphedStep, graph_blocker
from moderncnn.train.metrics import Meter, MetricsLog
from moderncnn.train.schedule import LRSchedule
from moderncnn.train.state import (
    latest_checkpoint,
    load_checkpoint,
    non_finite,
    open_run_dir,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from moderncnn.train.tta import TestTimeAugmentation

log = logging.getLogger("moderncnn")


@dataclass
class TrainResult:
    """What a run produced: where, the chosen epoch and its validation / test errors."""

    run_dir: Path
    epochs: int
    best_epoch: int
    val: dict[str, float] | None
    test: dict[str, float] | None
    wall_time_s: float
    images_per_s: float
    amp: str  #: the precision it computed in: 'none' (fp32), 'bf16' or 'fp16' autocast
    stopped_at: int | None = None  #: the step ``stop_error`` ended training at


def _resolved(data_dir: str) -> str:
    return str(Path(data_dir).expanduser().resolve()) if data_dir else data_dir


def default_run_dir(cfg: TrainConfig) -> Path:
    return Path("runs") / f"{cfg.model}-{Path(cfg.recipe).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _configure_determinism(cfg: TrainConfig) -> None:
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(cfg.deterministic)
    torch.backends.cudnn.benchmark = not cfg.deterministic


def _model_options(cfg: TrainConfig) -> dict[str, object]:
    """Builder options the configuration sets: ``model_kwargs`` and ``drop_rate`` (timm's
    name) when given, each checked against the model's options and their defaults' types."""
    given = {**cfg.model_kwargs, **({"drop_rate": cfg.drop_rate} if cfg.drop_rate >= 0 else {})}
    options = model_info(cfg.model).options
    for key, value in given.items():
        if key not in options:
            if key == "drop_rate":
                raise ConfigError(
                    f"{cfg.model} takes no drop_rate option (no dropout to set); "
                    "leave --drop-rate unset"
                )
            allowed = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "none"
            raise ConfigError(f"{cfg.model} has no option {key!r}; its options: {allowed}")
        default = options[key]
        kind = (int, float) if type(default) is float else type(default)
        if not isinstance(value, kind) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(
                f"{cfg.model}'s option {key} takes a {type(default).__name__} "
                f"(default {default!r}), got {value!r}"
            )
    return given


class Trainer:
    """Builds data, model, optimizer and schedule from a :class:`TrainConfig` and runs them."""

    def __init__(
        self,
        cfg: TrainConfig,
        env: distributed.DistEnv,
        resume: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.env = env
        given_data = cfg.data_dir  # stored resolved: a run resumes from any folder
        cfg = dataclasses.replace(cfg, data_dir=_resolved(cfg.data_dir))
        # What resuming may change, checked first: a flag it refuses is the error
        self.changes = resume_changes(load_run_config(cfg.output), cfg) if resume else {}
        options = _model_options(cfg)  # bad options fail before data is read
        _configure_determinism(cfg)
        torch.manual_seed(cfg.seed)
        self.run_dir = Path(distributed.broadcast(cfg.output or str(default_run_dir(cfg))))
        if env.main:  # checked before the data is read (minutes, for a large data set)
            open_run_dir(self.run_dir, resume, overwrite)
        amp = self._precision(cfg, resume)  # config.toml records what 'auto' chose
        self.cfg = cfg = dataclasses.replace(cfg, output=str(self.run_dir), amp=amp)
        resume_from = latest_checkpoint(self.run_dir) if resume else None
        if resume and resume_from is None:
            raise CheckpointError(f"{str(self.run_dir)!r} has no checkpoint to resume from")
        # The split's digest the checkpoint recorded: a resumed run keeps its data (the
        # same images moved elsewhere will do).
        recorded = read_metadata(resume_from / "model.safetensors") if resume_from else {}
        self.expect = None
        if "split_digest" in recorded:
            digest = recorded["split_digest"]
            self.expect = (digest, "the run resumed (a resumed run keeps its data)")
        if resume_from:
            self._check_length(int(recorded["epoch"]), int(recorded["step"]))
        if given_data != cfg.data_dir:
            log.info("data: %s (given as %s)", cfg.data_dir, given_data)
        self._say_distributed()
        # A resumed run's weights come from its checkpoint, not from --weights again.
        weights = cfg.weights if cfg.weights and not resume_from else None
        pretrained = None
        if weights or cfg.preprocess == "weights":  # a missing file or wrong name fails now
            pretrained = weights_cfg(cfg.model, cfg.weights)
        weights_data = pretrained.data if cfg.preprocess == "weights" else None
        self.splits = self._load_data(weights_data)
        self.num_classes = len(self.splits.classes)
        self.model = create_model(
            cfg.model, num_classes=self.num_classes, weights=weights, **options
        )
        if weights:
            self._new_head()
        self.input_size = model_info(cfg.model).input_size[-1]
        if weights_data:  # size inputs as the weights were (they are normalised so: above)
            self.input_size = weights_data.crop
        self.frozen_norms = freeze(self.model, cfg.freeze, cfg.freeze_until)
        self._check_training_size(options)
        self.model.to(env.device, memory_format=self._memory_format)
        self.loaders = self._make_loaders()
        self.steps_per_epoch = len(self.loaders["train"]) // cfg.accum_steps
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"{len(self.splits.train)} training images do not fill one batch of "
                f"{cfg.batch_size}; lower --batch-size"
            )
        self.epochs = cfg.resolved_epochs(self.steps_per_epoch)
        self.total_steps = cfg.iterations or self.epochs * self.steps_per_epoch
        self.schedule = LRSchedule.from_config(cfg, self.steps_per_epoch, self.total_steps)
        self.optimizer = torch.optim.SGD(
            param_groups(self.model, cfg.backbone_lr_scale if cfg.weights else 1.0),
            lr=cfg.peak_lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
            fused=True,
        )
        self.scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" else None
        self.net = self._wrap(self.model)
        # Polyak averaging of the weights for evaluation; its counter stays on the CPU, so
        # an update never waits for the GPU (torch.optim.swa_utils.AveragedModel).
        self.ema = (
            AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True
            )
            if cfg.ema_decay
            else None
        )
        self.meter = Meter(env.device, self.num_classes)  # one tensor, also inside a graph
        self.epoch, self.step, self.best_err, self.best_epoch = 0, 0, math.inf, 0
        self.last_checkpoint: Path | None = None
        self.finishing = False  # in the final evaluation
        if resume_from:
            self._resume(resume_from)
        elif env.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(self.run_dir / "config.toml", lambda p: p.write_text(cfg.to_toml()))
        self.graphed = self._graphed_step()  # after the optimizer's state is loaded
        self.metrics = MetricsLog(self.run_dir, cfg.tensorboard, self.epoch) if env.main else None
        if env.main:  # once every option is checked: an error is the only line it prints
            log.info("precision: %s", self.precision)

    def _precision(self, cfg: TrainConfig, resume: bool) -> str:
        """``cfg.amp`` resolved on this device (:func:`moderncnn.precision.resolve_amp`),
        described in ``self.precision``. A resumed run keeps the precision its config.toml
        recorded, unless another one is asked for: a run keeps its identity on another
        machine."""
        saved = self.run_dir / "config.toml"
        started = load_run_config(self.run_dir).amp if resume and saved.is_file() else None
        kept = started is not None and cfg.amp in ("auto", started)
        amp = resolve_amp(started if kept else cfg.amp, self.env.device)
        self.precision = describe(amp, cfg.amp, self.env.device, kept)
        return amp

    def _check_length(self, epoch: int, step: int) -> None:
        """Refuse to resume a run at ``epoch`` (``step``) that is finished, or past the
        length asked for, before its data is read."""
        cfg = self.cfg
        done, asked = (step, cfg.iterations) if cfg.iterations else (epoch, cfg.epochs)
        unit = "iterations" if cfg.iterations else "epochs"
        if done > asked:
            raise ConfigError(
                f"{str(self.run_dir)!r} has trained {done} {unit} already, more than the "
                f"{asked} asked for"
            )
        if done == asked and (self.run_dir / "results.json").exists():
            blocker = cfg.extension_blocker()
            longer = (
                f"it cannot be trained longer: {blocker}"
                if blocker
                else f"to train it longer, resume with --{unit} N beyond {done}"
            )
            raise ConfigError(
                f"{str(self.run_dir)!r} is finished ({done} {unit}, results in results.json); "
                f"{longer}"
            )

    def _say_distributed(self) -> None:
        """Whether the run is distributed, and what that means for BatchNorm."""
        world, cfg = self.env.world, self.cfg
        if world == 1:
            if cfg.sync_bn:
                log.warning("--sync-bn has no effect in a single process (nothing to sync)")
            return
        if cfg.sync_bn and self.env.device.type == "cpu":
            raise ConfigError(
                "--sync-bn needs GPUs (torch's SyncBatchNorm does not run on the CPU)"
            )
        norm = "synchronised" if cfg.sync_bn else "of each process's own images (--sync-bn: of all)"
        log.info(
            "distributed: %d processes on %s, %d images a step (%d each); BatchNorm statistics %s",
            world,
            self.env.device.type,
            cfg.batch_size,
            cfg.batch_size // world,
            norm,
        )

    def _new_head(self) -> None:
        """Fine-tuning from a run's weights trained on other classes of the same number: a
        fresh classifier (class names differ, or their order). Another number of classes
        already got one, with a message; published weights' class names are not folder names,
        so their classifier is kept for 1000-class data (ImageNet)."""
        cfg = self.model.pretrained_cfg
        if cfg is None or cfg.url is not None or cfg.classes is None:
            return
        trained, classes = cfg.classes, self.splits.classes
        if len(trained) != len(classes) or trained == classes:
            return
        self.model.reset_classifier(self.num_classes)
        log.warning(
            "%s: new classifier for the data's classes (%s); the weights' is for theirs (%s)",
            self.cfg.model,
            ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else ""),
            ", ".join(trained[:5]) + (", ..." if len(trained) > 5 else ""),
        )

    def _check_training_size(self, options: dict[str, object]) -> None:
        """Training-only parts may need larger inputs than the network proper (the aux heads
        of googlenet_paper: 79 pixels): say so now, not in the first step."""
        if all(getattr(self.model, part, None) is None for part in self.model.aux_parts):
            return
        s = self.splits
        size = s.train.images.shape[-1] if s.small else model_info(self.cfg.model).input_size[-1]
        smallest = min_input_size(self.cfg.model, self.model.in_chans, training=True, **options)
        if size < smallest:
            raise ConfigError(
                f"{self.cfg.model}'s auxiliary heads need training images of at least "
                f"{smallest}x{smallest} pixels, these are {size}x{size}; train a network made "
                "for them (e.g. googlenet_cifar for 32x32 images)"
            )

    @property
    def _progress(self) -> bool:
        """Progress output: asked for, and this is rank 0."""
        return self.cfg.progress and self.env.main

    @property
    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.cfg.channels_last else torch.contiguous_format

    def _load_data(self, weights_data: DataConfig | None):
        """The splits, normalised as ``weights_data`` (the weights' preprocessing) where given."""
        cfg = self.cfg
        kwargs = dict(
            val_size=cfg.val_size,
            limit=cfg.limit,
            test=cfg.test,
            cache_dir=cfg.cache_dir or None,
            strict=cfg.strict,
            workers=cfg.workers,
            download=cfg.download,
            progress=self._progress,
            expect=self.expect,
            normalisation=(weights_data.mean, weights_data.std) if weights_data else None,
        )
        if not self.env.main:  # rank 0 decodes and caches first; the others read its cache
            distributed.barrier()
        splits = load_splits(cfg.data_dir, **kwargs)
        if self.env.main:
            distributed.barrier()
        return splits

    def _make_loaders(self) -> dict[str, object]:
        cfg, env = self.cfg, self.env
        options = LoaderOptions(
            crop=self.input_size,
            seed=cfg.seed,
            rank=env.rank,
            world=env.world,
            workers=cfg.workers,
            strict=cfg.strict,
            channels_last=cfg.channels_last,
        )
        micro = cfg.batch_size // cfg.accum_steps
        loaders = {
            "train": make_loader(
                self.splits,
                self.splits.train,
                cfg.batch_size,
                env.device,
                options,
                train=True,
                augment=cfg.augment,
                accum=cfg.accum_steps,
            )
        }
        for name in ("val", "test"):
            images = getattr(self.splits, name)
            if images is not None:
                loaders[name] = make_loader(self.splits, images, micro, env.device, options)
        return loaders

    def _wrap(self, model: nn.Module) -> nn.Module:
        net: nn.Module = model
        if self.env.world > 1:
            if self.cfg.sync_bn:
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            ids = [self.env.device.index] if self.env.device.type == "cuda" else None
            net = DistributedDataParallel(net, device_ids=ids)
        return torch.compile(net, mode=self.cfg.compile_mode) if self.cfg.compile else net

    def _graphed_step(self) -> GraphedStep | None:
        """The whole training step as one CUDA graph (:mod:`moderncnn.train.graphs`), when
        asked for and possible; else None, saying why where it was asked for."""
        why = graph_blocker(self.cfg, self.env)
        if why is None:
            log.info("training step: one CUDA graph, captured after %d eager steps", WARMUP_STEPS)
            return GraphedStep(self._graph_step, self.optimizer, self.env.device)
        if self.cfg.cuda_graphs:
            log.warning("--cuda-graphs: training eagerly, CUDA graphs cannot be used with %s", why)
        return None

    def _graph_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self._forward_backward(x, y, cache=False)
        self.optimizer.step()

    # -- checkpoints ---------------------------------------------------------------------

    def _metadata(self) -> dict[str, object]:
        s = self.splits
        return {
            "classes": s.classes,
            "mean": list(s.mean),
            "std": list(s.std),
            "dataset": s.source.name,
            "val_size": self.cfg.val_size,
            "limit": self.cfg.limit,
            "split_digest": s.digest,
        }

    def _save(self) -> None:
        state = {
            "epoch": self.epoch,
            "step": self.step,
            "best_err": self.best_err,
            "best_epoch": self.best_epoch,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "rng": rng_state(),
            "ema": self.ema.state_dict() if self.ema else {},
        }
        if self.env.main:
            self.last_checkpoint = save_checkpoint(
                self.run_dir, self.epoch, self.model, state, step=self.step, **self._metadata()
            )
        distributed.barrier()

    def _resume(self, folder: Path) -> None:
        state = load_checkpoint(folder, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        if self.ema:
            if not state.get("ema"):
                raise CheckpointError(f"{str(folder)!r} holds no moving average (ema_decay)")
            self.ema.load_state_dict(state["ema"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best_err, self.best_epoch = float(state["best_err"]), int(state["best_epoch"])
        self.last_checkpoint = folder
        if self.changes and self.env.main:
            path = self.run_dir / "config.toml"
            text = record_changes(path.read_text(), self.cfg, self.changes, self.epoch + 1)
            atomic_write(path, lambda p: p.write_text(text))
        log.info("resumed %s from epoch %d (step %d)", self.run_dir, self.epoch, self.step)

    # -- the loop ------------------------------------------------------------------------

    def _diverged(self, what: float | str) -> DivergedError:
        """``what``: the training loss, or what else is not finite."""
        problem = f"loss is {what}" if isinstance(what, float) else what
        where = self.last_checkpoint or "none (no epoch finished)"
        hint = "; or try --amp none" if self.cfg.amp != "none" else ""
        return DivergedError(
            f"{problem} in epoch {self.epoch + 1} near step {self.step}: training diverged. "
            f"Last good checkpoint: {where}. Lower --lr (now {self.cfg.lr}){hint}"
        )

    def _check_finite(self, val: EvalResult | None) -> None:
        """Divergence the training loss misses (BatchNorm normalises with batch statistics in
        training): weights or running statistics that hold NaN or inf, and the validation
        metrics they give. Every process takes the same decision."""
        bad = non_finite(self.model)
        if distributed.all_reduce(torch.tensor(len(bad), device=self.env.device)).item():
            stats = bad and all(k.endswith(("running_mean", "running_var")) for k in bad)
            kind = "BatchNorm statistics" if stats else "weights or BatchNorm statistics"
            names = ", ".join(bad[:3]) + (f", ... ({len(bad)} in all)" if len(bad) > 3 else "")
            raise self._diverged(f"{kind} ({names or 'on another rank'}) hold NaN or inf")
        for name, value in (val.to_dict() if val else {}).items():
            if not math.isfinite(value):
                raise self._diverged(f"validation {name} is {value}")

    def _train_epoch(self) -> tuple[dict[str, float], float, int]:
        cfg, net, loader = self.cfg, self.net, self.loaders["train"]
        net.train()
        for norm in self.frozen_norms:  # frozen layers keep their running statistics
            norm.eval()
        loader.set_epoch(self.epoch + 1)
        meter = self.meter
        meter.reset()
        micro_batches = self.steps_per_epoch * cfg.accum_steps
        bar = progress(
            total=micro_batches,
            desc=f"epoch {self.epoch + 1}/{self.epochs}",
            unit="batch",
            enabled=self._progress,
        )
        images, start = 0, time.perf_counter()
        shown, counted = start, meter.top1_counts()
        for i, (x, y) in enumerate(itertools.islice(loader, micro_batches)):
            boundary = (i + 1) % cfg.accum_steps == 0
            if boundary:
                watch = self.schedule.needs_error(self.step)
            if self.graphed:
                self.graphed.set_lr(self.schedule.lr(self.step))
                self.graphed(x, y)
            else:
                no_sync = isinstance(net, DistributedDataParallel) and not boundary
                with net.no_sync() if no_sync else contextlib.nullcontext():
                    self._forward_backward(x, y)
                if boundary:
                    self._optimizer_step()
            images += len(y) * self.env.world
            if boundary:
                self.step += 1
                if self.ema and self.step % cfg.ema_every == 0:
                    self.ema.update_parameters(self.model)
                if watch:
                    counts = meter.top1_counts()
                    self._observe_error(counts - counted)
                    counted = counts
            bar.update()
            now = time.perf_counter()
            if now - shown > 1.0:  # one host sync a second for the bar and the NaN check
                shown = now
                r = meter.result()
                if not math.isfinite(r["loss"]):
                    raise self._diverged(r["loss"])
                bar.set_postfix(
                    loss=f"{r['loss']:.3f}",
                    acc=f"{100 - r['top1_err']:.1f}%",
                    img_s=f"{images / (now - start):.0f}",
                )
            if self.step >= self.total_steps or self.schedule.stopped_at is not None:
                break
        bar.close()
        meter.all_reduce()
        elapsed = time.perf_counter() - start
        result = meter.result()
        if not math.isfinite(result["loss"]):
            raise self._diverged(result["loss"])
        return result, elapsed, images

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor, cache: bool = True) -> None:
        """Forward, loss (auxiliary heads included) and backward of a micro-batch, added to
        the epoch's metrics on the device."""
        cfg = self.cfg
        with autocast(self.env.device, cfg.amp, cache):
            out = self.net(x)
        loss, logits = compute_loss(out, y, cfg.aux_weight, cfg.label_smoothing)
        scaled = loss / cfg.accum_steps
        (self.scaler.scale(scaled) if self.scaler else scaled).backward()
        self.meter.update(loss.detach(), logits.detach(), y)

    def _optimizer_step(self) -> None:
        lr = self.schedule.lr(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # checkpoints before groups: none
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _observe_error(self, counts: torch.Tensor) -> None:
        """Warm-up by error (He et al. Sec. 4.2) and the end by error (``stop_error``): give
        the schedule the training top-1 error of the step just taken, from its (top-1 hits,
        images) on this rank, summed over ranks so that all take the same decision. A host
        sync, made only while the schedule watches the error."""
        hits, n = distributed.all_reduce(counts).tolist()
        schedule = self.schedule
        warming = schedule.warming_up(self.step - 1)
        schedule.observe_error(self.step, 100 * (1 - hits / n))
        errors = schedule.recent_errors
        mean = sum(errors) / len(errors)
        if schedule.stopped_at == self.step:
            log.info(
                "training ended after step %d: training error %.1f%% over the last %d "
                "mini-batches, below %g%%",
                self.step,
                mean,
                len(errors),
                schedule.stop_error,
            )
        if not schedule.warmup_error or not warming or schedule.warming_up(self.step):
            return
        by_error = schedule.warmup_end == self.step
        log.info(
            "warm-up at lr/10 ended after step %d%s: training error %.1f%% over the last %d "
            "mini-batches, %s %g%%",
            self.step,
            "" if by_error else ", its upper bound",
            mean,
            len(errors),
            "below" if by_error else "not below",
            schedule.warmup_error,
        )

    @property
    def _weights(self) -> nn.Module:
        """The weights validated, tested and saved as ``best.safetensors``: the moving
        average when there is one, else the model's."""
        return self.ema.module if self.ema else self.model

    def _evaluate(self, split: str, tta: bool = False) -> EvalResult:
        net = self.ema.module if self.ema else self.net
        if tta and self.cfg.tta != "none":
            net = TestTimeAugmentation(net, self.cfg.tta)
        return evaluate(
            net,
            self.loaders[split],
            self.num_classes,
            self.env.device,
            self.cfg.amp,
            progress=self._progress,
            desc=f"evaluating {split}",
        )

    def fit(self) -> TrainResult:
        """Train from the current epoch to the end, then test the chosen weights once."""
        try:
            return self._fit()
        except KeyboardInterrupt:
            if self.last_checkpoint is None:
                then = f"start it again with --overwrite --output {self.run_dir}"
            else:
                then = f"resume with `moderncnn train --resume {self.run_dir}`"
            done = int(self.last_checkpoint.name.split("-")[1]) if self.last_checkpoint else 0
            where = "the final evaluation" if self.finishing else f"epoch {done + 1}"
            raise Interrupted(f"interrupted in {where}; {then}") from None

    def _fit(self) -> TrainResult:
        wall = time.perf_counter()
        throughput = []
        while (
            self.epoch < self.epochs
            and self.step < self.total_steps
            and self.schedule.stopped_at is None
        ):
            lr = self.schedule.lr(self.step)
            train, elapsed, images = self._train_epoch()
            val = self._evaluate("val") if "val" in self.loaders else None
            self._check_finite(val)
            self.epoch += 1
            throughput.append(images / elapsed)
            self.schedule.epoch_end(val.top1_err if val else None)
            row = {
                "epoch": self.epoch,
                "step": self.step,
                "lr": lr,
                "images_per_s": images / elapsed,
            }
            row |= {f"train_{k}": v for k, v in train.items()}
            row |= {f"val_{k}": v for k, v in (val.to_dict() if val else {}).items() if k != "n"}
            row["epoch_time_s"] = elapsed
            self._log_epoch(row)
            err = val.top1_err if val else train["top1_err"]
            if err < self.best_err or val is None:
                self.best_err, self.best_epoch = err, self.epoch
                if self.env.main:
                    save_weights(
                        self._weights,
                        self.run_dir / "best.safetensors",
                        epoch=self.epoch,
                        **self._metadata(),
                    )
            self._save()
        if self.metrics:
            self.metrics.close()
        return self._finish(time.perf_counter() - wall, throughput)

    def _log_epoch(self, row: dict[str, float]) -> None:
        if not self.env.main:
            return
        self.metrics.write(row)
        val = (
            f"  val loss {row['val_loss']:.3f} err {row['val_top1_err']:.2f}%"
            if "val_loss" in row
            else ""
        )
        log.info(
            "epoch %d/%d  lr %.4g  train loss %.3f err %.2f%%%s  %.0f img/s  %.1f s",
            row["epoch"],
            self.epochs,
            row["lr"],
            row["train_loss"],
            row["train_top1_err"],
            val,
            row["images_per_s"],
            row["epoch_time_s"],
        )

    def _finish(self, wall_time: float, throughput: list[float]) -> TrainResult:
        self.finishing = True
        best = self.run_dir / "best.safetensors"
        distributed.barrier()
        if self.best_epoch and self.best_epoch != self.epoch:
            load_weights(self._weights, best, new_head=False)
        val = self._evaluate("val", tta=True).to_dict() if "val" in self.loaders else None
        test = self._evaluate("test", tta=True).to_dict() if "test" in self.loaders else None
        result = TrainResult(
            self.run_dir,
            self.epoch,
            self.best_epoch,
            val,
            test,
            wall_time,
            sum(throughput) / len(throughput) if throughput else 0.0,
            self.cfg.amp,
            self.schedule.stopped_at,
        )
        if self.env.main:
            summary = {k: str(v) if isinstance(v, Path) else v for k, v in vars(result).items()}
            summary["selected_by"] = "validation" if val else "last epoch"
            text = to_json(summary, indent=2) + "\n"
            atomic_write(self.run_dir / "results.json", lambda p: p.write_text(text))
        return result


def train(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> TrainResult:
    """Train ``cfg.model`` as ``cfg`` says (``resume``: continue the run in ``cfg.output``;
    ``overwrite``: remove the run there first, which is an error otherwise).

    Under ``torchrun`` this joins the process group; rank 0 alone logs and saves.
    """
    env = distributed.setup(cfg.device)
    try:
        return Trainer(cfg, env, resume, overwrite).fit()
    finally:
        distributed.teardown()
