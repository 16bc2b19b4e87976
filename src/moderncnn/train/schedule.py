"""Learning-rate schedules as a pure function of the optimizer step (plus the plateau state),
so a resumed run sets exactly the rates an uninterrupted one would."""

from __future__ import annotations

import math

from moderncnn.train.config import TrainConfig


class LRSchedule:
    """The learning rate at every step of a run.

    - step: ``lr * gamma**k`` after k milestones passed (ResNet CIFAR: /10 at 32k and 48k
      iterations, He et al. Sec. 4.2; DenseNet: at 50% and 75%, Huang et al. Sec. 4.2), and
      every ``step_every`` units if set (GoogLeNet: 4% less every 8 epochs, Szegedy et al.
      Sec. 6).
    - plateau: ``gamma`` times when the validation error has not improved for ``patience``
      epochs (AlexNet Sec. 5, VGG Sec. 3.1, ResNet ImageNet Sec. 3.4).
    - cosine: half a cosine to 0; onecycle: linear up for 25% of the steps from lr/25, then
      linear down to 0.
    - ``warmup`` iterations at lr/10 first (ResNet-110, He et al. Sec. 4.2).
    """

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> None:
        self.cfg, self.total = cfg, total_steps
        unit = {"epoch": steps_per_epoch, "iteration": 1, "fraction": total_steps}
        self.unit = unit[cfg.milestone_unit]
        self.milestones = [round(m * self.unit) for m in cfg.milestones]
        self.scale, self.best, self.bad_epochs = 1.0, math.inf, 0

    def factor(self, step: int) -> float:
        cfg = self.cfg
        if cfg.schedule == "step":
            k = sum(step >= m for m in self.milestones)
            if cfg.step_every:
                k += int(step // (cfg.step_every * self.unit))
            f = cfg.gamma**k
        elif cfg.schedule == "cosine":
            f = 0.5 * (1 + math.cos(math.pi * min(step / self.total, 1.0)))
        elif cfg.schedule == "onecycle":
            peak = max(1, round(0.25 * self.total))
            if step < peak:
                f = 1 / 25 + (1 - 1 / 25) * step / peak
            else:
                f = max(0.0, (self.total - step) / max(1, self.total - peak))
        else:  # constant, plateau
            f = self.scale
        return f * (0.1 if step < cfg.warmup else 1.0)

    def lr(self, step: int) -> float:
        return self.cfg.lr * self.factor(step)

    def epoch_end(self, val_error: float | None) -> None:
        """Plateau: divide when ``val_error`` stopped improving (1e-4 relative)."""
        if self.cfg.schedule != "plateau" or val_error is None:
            return
        if val_error < self.best * (1 - 1e-4):
            self.best, self.bad_epochs = val_error, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.cfg.patience:
            self.scale *= self.cfg.gamma
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.scale, self.best = float(state["scale"]), float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
