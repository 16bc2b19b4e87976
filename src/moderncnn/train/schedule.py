"""Learning-rate schedules as a pure function of the optimizer step (plus the plateau and
warm-up state, saved in checkpoints), so a resumed run sets exactly the rates an
uninterrupted one would."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from moderncnn.train.options import WARMUP_WINDOW, TrainConfig

log = logging.getLogger("moderncnn")


class LRSchedule:
    """The learning rate at every step of a run.

    - step: ``lr * gamma**k`` after k ``milestones`` (in steps) passed (ResNet CIFAR: /10 at
      32k and 48k iterations, He et al. Sec. 4.2; DenseNet: at 50% and 75%, Huang et al.
      Sec. 4.2), and every ``step_every`` steps if set (GoogLeNet: 4% less every 8 epochs,
      Szegedy et al. Sec. 6).
    - plateau: ``gamma`` times when the validation error has not improved for ``patience``
      epochs (AlexNet Sec. 5, VGG Sec. 3.1, ResNet ImageNet Sec. 3.4).
    - cosine: half a cosine to 0; onecycle: linear up for 25% of the steps from lr/25, then
      linear down to 0.
    - ``stop_error`` (%): training ends once the training top-1 error of the last
      :data:`WARMUP_WINDOW` mini-batches is below it (iterations to a threshold, AlexNet
      Fig. 1: no steps are spent after the threshold is reached).
    - warm-up at lr/10 first, for at most ``warmup`` steps; with ``warmup_error`` (%) it ends
      as soon as the training top-1 error of the last :data:`WARMUP_WINDOW` mini-batches is
      below it (ResNet-110: "0.01 to warm up the training until the training error is below
      80% (about 400 iterations)", He et al. Sec. 4.2). ``warmup_mode='linear'`` instead ramps
      the rate linearly over ``warmup`` steps, to lr at the last ("gradual warmup", Goyal et
      al. 2017, Sec. 2.2, for large batches and the linear scaling rule).

    ``schedule`` and ``warmup_mode`` are names of :data:`~moderncnn.train.options.SCHEDULES`
    and :data:`~moderncnn.train.options.WARMUP_MODES`: checked where they enter, in the
    configuration (:meth:`~moderncnn.train.TrainConfig.check`, before any data is read).
    """

    def __init__(
        self,
        lr: float,
        schedule: str,
        total_steps: int,
        *,
        milestones: Sequence[int] = (),
        gamma: float = 0.1,
        step_every: float = 0.0,
        patience: int = 3,
        warmup: int = 0,
        warmup_error: float = 0.0,
        warmup_mode: str = "constant",
        stop_error: float = 0.0,
    ) -> None:
        self.base_lr, self.schedule, self.total = lr, schedule, total_steps
        self.milestones, self.gamma, self.step_every = list(milestones), gamma, step_every
        self.patience, self.warmup, self.warmup_error = patience, warmup, warmup_error
        self.warmup_mode, self.stop_error = warmup_mode, stop_error
        # state, saved by state_dict()
        self.scale, self.best, self.bad_epochs = 1.0, math.inf, 0
        self.warmup_end: int | None = None  #: the step warm-up by error ended at
        self.recent_errors: list[float] = []  #: training errors of the last mini-batches
        self.stopped_at: int | None = None  #: the step training ended at by stop_error

    @classmethod
    def from_config(cls, cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> LRSchedule:
        """The schedule ``cfg`` describes, its milestones and ``step_every`` (in epochs,
        iterations or fractions of the run) converted to steps."""
        unit = {"epoch": steps_per_epoch, "iteration": 1, "fraction": total_steps}
        steps = unit[cfg.milestone_unit]
        return cls(
            cfg.peak_lr,
            cfg.schedule,
            total_steps,
            milestones=[round(m * steps) for m in cfg.milestones],
            gamma=cfg.gamma,
            step_every=cfg.step_every * steps,
            patience=cfg.patience,
            warmup=cfg.warmup,
            warmup_error=cfg.warmup_error,
            warmup_mode=cfg.warmup_mode,
            stop_error=cfg.stop_error,
        )

    def factor(self, step: int) -> float:
        """The multiplier of the peak rate at ``step`` (0-based)."""
        if self.schedule == "step":
            k = sum(step >= m for m in self.milestones)
            if self.step_every:
                k += int(step // self.step_every)
            f = self.gamma**k
        elif self.schedule == "cosine":
            f = 0.5 * (1 + math.cos(math.pi * min(step / self.total, 1.0)))
        elif self.schedule == "onecycle":
            peak = max(1, round(0.25 * self.total))
            if step < peak:
                f = 1 / 25 + (1 - 1 / 25) * step / peak
            else:
                f = max(0.0, (self.total - step) / max(1, self.total - peak))
        else:  # constant, plateau
            f = self.scale
        if not self.warming_up(step):
            return f
        return f * ((step + 1) / self.warmup if self.warmup_mode == "linear" else 0.1)

    def lr(self, step: int) -> float:
        return self.base_lr * self.factor(step)

    def warming_up(self, step: int) -> bool:
        """Whether ``step`` (0-based) runs at lr/10."""
        return step < (self.warmup if self.warmup_end is None else self.warmup_end)

    def needs_error(self, step: int) -> bool:
        """Whether the training error of ``step``'s mini-batch may end warm-up or training:
        the caller then passes it to :meth:`observe_error` (a host sync it need not make
        otherwise)."""
        warming = self.warmup_error > 0 and self.warming_up(step)
        return warming or (self.stop_error > 0 and self.stopped_at is None)

    def observe_error(self, steps_done: int, top1_err: float) -> None:
        """``top1_err`` (%): the training error of the mini-batch of the step just taken.
        Warm-up ends, so step ``steps_done`` on runs at the full rate, once the mean error of
        the last :data:`WARMUP_WINDOW` mini-batches is below ``warmup_error``; training ends
        once it is below ``stop_error``. Each end is logged, with the error that decided it."""
        warming = self.warming_up(steps_done - 1)
        self.recent_errors = [*self.recent_errors, top1_err][-WARMUP_WINDOW:]
        window = self.recent_errors
        mean = sum(window) / len(window)
        if len(window) == WARMUP_WINDOW:
            if self.warmup_error > 0 and warming and mean < self.warmup_error:
                self.warmup_end = steps_done
            if self.stop_error > 0 and self.stopped_at is None and mean < self.stop_error:
                self.stopped_at = steps_done
                log.info(
                    "training ended after step %d: training error %.1f%% over the last %d "
                    "mini-batches, below %g%%",
                    steps_done, mean, len(window), self.stop_error,
                )  # fmt: skip
        if self.warmup_error and warming and not self.warming_up(steps_done):
            by_error = self.warmup_end == steps_done
            log.info(
                "warm-up at lr/10 ended after step %d%s: training error %.1f%% over the last %d "
                "mini-batches, %s %g%%",
                steps_done, "" if by_error else ", its upper bound", mean, len(window),
                "below" if by_error else "not below", self.warmup_error,
            )  # fmt: skip

    def epoch_end(self, val_error: float | None) -> None:
        """Plateau: divide when ``val_error`` stopped improving (1e-4 relative)."""
        if self.schedule != "plateau" or val_error is None:
            return
        if val_error < self.best * (1 - 1e-4):
            self.best, self.bad_epochs = val_error, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.scale *= self.gamma
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, object]:
        return {
            "scale": self.scale,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "warmup_end": self.warmup_end,
            "recent_errors": list(self.recent_errors),
            "stopped_at": self.stopped_at,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.scale, self.best = float(state["scale"]), float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
        # checkpoints written before warm-up by error have neither key
        end = state.get("warmup_end")
        self.warmup_end = None if end is None else int(end)
        self.recent_errors = [float(e) for e in state.get("recent_errors", [])]
        stopped = state.get("stopped_at")
        self.stopped_at = None if stopped is None else int(stopped)
