"""One training loop for every network.

Auxiliary classifiers are handled generically (a tuple output is main logits then auxiliary
logits, weighted by ``aux_weight``), metrics stay on the device until once a second, and
every epoch ends with validation on the held-out split, a metrics row and an atomic
checkpoint. The test split is evaluated once, at the end, with the weights validation chose.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from moderncnn.errors import CheckpointError, DivergedError, Interrupted
from moderncnn.io import atomic_write, to_json
from moderncnn.loss import compute_loss
from moderncnn.models.weights import load_weights, save_weights
from moderncnn.progress import progress
from moderncnn.train import build, distributed
from moderncnn.train.config import TrainConfig, record_changes
from moderncnn.train.divergence import diverged, not_finite
from moderncnn.train.evaluate import EvalResult, autocast, evaluate
from moderncnn.train.graphs import WARMUP_STEPS, GraphedStep, graph_blocker
from moderncnn.train.metrics import Meter, MetricsLog, TrainResult
from moderncnn.train.schedule import LRSchedule
from moderncnn.train.state import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from moderncnn.train.tta import TestTimeAugmentation

log = logging.getLogger("moderncnn")


class Trainer:
    """The training loop's state (timm's ``train.py``): the pieces :mod:`moderncnn.train.build`
    makes from a :class:`TrainConfig`, and where the loop is (epoch, step, best error).

    ``raw_model`` is the network itself (nanoGPT's name), ``net`` the same network as it
    trains (under DDP and ``torch.compile`` where asked) and ``ema`` its moving average or
    None; the moving average, where there is one, is what is validated, tested and saved."""

    def __init__(
        self,
        cfg: TrainConfig,
        env: distributed.DistEnv,
        resume: bool = False,
        overwrite: bool = False,
        on_epoch_end: Callable[[Trainer], None] | None = None,
    ) -> None:
        self.env = env
        self.on_epoch_end = on_epoch_end
        run = build.start_run(cfg, env, resume, overwrite)
        self.cfg = cfg = run.cfg
        self.run_dir, self.changes = run.run_dir, run.changes
        self.splits = build.build_data(run, env, self._progress)
        self.num_classes = len(self.splits.classes)
        self.raw_model, self.frozen_norms = build.build_model(run, self.splits)
        self.raw_model.to(env.device, memory_format=self._memory_format)
        self.loaders, self.steps_per_epoch = build.build_loaders(
            cfg, env, self.splits, build.input_size(run)
        )
        self.epochs = cfg.resolved_epochs(self.steps_per_epoch)
        self.total_steps = cfg.iterations or self.epochs * self.steps_per_epoch
        self.schedule = LRSchedule.from_config(cfg, self.steps_per_epoch, self.total_steps)
        self.optimizer = build.build_optimizer(cfg, self.raw_model)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" else None
        self.net = build.wrap(self.raw_model, cfg, env)
        self.ema = build.build_ema(cfg, self.raw_model)
        self.meter = Meter(env.device, self.num_classes)  # one tensor, also inside a graph
        self.epoch, self.step, self.best_err, self.best_epoch = 0, 0, math.inf, 0
        self.last_checkpoint: Path | None = None
        self.finishing = False  # in the final evaluation
        if run.resume_from:
            self._resume(run.resume_from)
        elif env.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(self.run_dir / "config.toml", lambda p: p.write_text(cfg.to_toml()))
        self.graphed = self._graphed_step()  # captures the optimizer's state: after resuming
        self.metrics = MetricsLog(self.run_dir, cfg.tensorboard, self.epoch) if env.main else None
        if env.main:  # once every option is checked: an error is the only line it prints
            log.info("precision: %s", run.precision)

    @property
    def _progress(self) -> bool:
        """Progress output: asked for, and this is rank 0."""
        return self.cfg.progress and self.env.main

    @property
    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.cfg.channels_last else torch.contiguous_format

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
                self.run_dir, self.epoch, self.raw_model, state, step=self.step, **self._metadata()
            )
        distributed.barrier()

    def _resume(self, folder: Path) -> None:
        state = load_checkpoint(folder, self.raw_model)
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
        return diverged(what, self.cfg, self.epoch, self.step, self.last_checkpoint)

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
                    self.ema.update_parameters(self.raw_model)
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
            # fine-tuning scales the backbone's rate; checkpoints older than the groups' scale
            # have none, so 1
            group["lr"] = lr * group.get("lr_scale", 1.0)
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
        self.schedule.observe_error(self.step, 100 * (1 - hits / n))

    @property
    def eval_model(self) -> nn.Module:
        """The network validated, tested and saved (``best.safetensors``): the moving
        average where there is one, else ``raw_model``."""
        return self.ema.module if self.ema else self.raw_model

    def evaluate_split(self, split: str, tta: bool = False) -> EvalResult:
        """``split`` ("val" or "test", where the run has it) with the weights as they are now,
        with the run's test-time augmentation where ``tta``."""
        # without a moving average, through ``net``: under DDP its forward gives every rank
        # rank 0's BatchNorm statistics, and a compiled network evaluates faster
        net = self.eval_model if self.ema else self.net
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

    @property
    def train_time_s(self) -> float:
        """Seconds of this :meth:`fit` so far, less those spent in ``on_epoch_end``."""
        return time.perf_counter() - self._fit_start - self._hook_s

    def _fit(self) -> TrainResult:
        self._fit_start, self._hook_s = time.perf_counter(), 0.0
        throughput = []
        while (
            self.epoch < self.epochs
            and self.step < self.total_steps
            and self.schedule.stopped_at is None
        ):
            lr = self.schedule.lr(self.step)
            train, elapsed, images = self._train_epoch()
            val = self.evaluate_split("val") if "val" in self.loaders else None
            if problem := not_finite(self.raw_model, val, self.env.device):
                raise self._diverged(problem)
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
            if self.metrics:  # rank 0
                self.metrics.write(row, self.epochs)
            err = val.top1_err if val else train["top1_err"]
            if err < self.best_err or val is None:
                self.best_err, self.best_epoch = err, self.epoch
                if self.env.main:
                    save_weights(
                        self.eval_model,
                        self.run_dir / "best.safetensors",
                        epoch=self.epoch,
                        **self._metadata(),
                    )
            self._save()
            if self.on_epoch_end:
                hook = time.perf_counter()
                self.on_epoch_end(self)
                self._hook_s += time.perf_counter() - hook
        if self.metrics:
            self.metrics.close()
        return self._finish(self.train_time_s, throughput)

    def _finish(self, wall_time: float, throughput: list[float]) -> TrainResult:
        self.finishing = True
        best = self.run_dir / "best.safetensors"
        distributed.barrier()
        if self.best_epoch and self.best_epoch != self.epoch:
            load_weights(self.eval_model, best, new_head=False)
        val = self.evaluate_split("val", tta=True).to_dict() if "val" in self.loaders else None
        test = self.evaluate_split("test", tta=True).to_dict() if "test" in self.loaders else None
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


def train(
    cfg: TrainConfig,
    resume: bool = False,
    overwrite: bool = False,
    on_epoch_end: Callable[[Trainer], None] | None = None,
) -> TrainResult:
    """Train ``cfg.model`` as ``cfg`` says (``resume``: continue the run in ``cfg.output``;
    ``overwrite``: remove the run there first, which is an error otherwise; ``on_epoch_end``:
    called with the trainer after each epoch's checkpoint, e.g. to test every epoch as
    ``benchmarks/time_to_accuracy.py`` does).

    Under ``torchrun`` this joins the process group; rank 0 alone logs and saves.
    """
    env = distributed.setup(cfg.device)
    try:
        return Trainer(cfg, env, resume, overwrite, on_epoch_end).fit()
    finally:
        distributed.teardown()
