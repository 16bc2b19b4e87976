"""The training options: :class:`TrainConfig`, one field an option with its help and
choices (from which the ``moderncnn train`` flags are made), and the checks of their values.
Where the values come from (defaults, a recipe, flags, a run's config.toml): :mod:`.config`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field, fields
from itertools import pairwise
from typing import Any

import tomli_w

from moderncnn.data.augment import AUGMENTATIONS
from moderncnn.errors import ConfigError
from moderncnn.precision import AMP_CHOICES
from moderncnn.train.tta import TTA_MODES
from moderncnn.validate import fraction, integer, number, parse_device

#: The learning-rate schedules and warm-ups that :class:`~moderncnn.train.schedule.LRSchedule`
#: computes, named here with the options that choose them: the schedule depends on the options
#: (it is made from a TrainConfig), not the options on the schedule.
SCHEDULES = ("step", "plateau", "cosine", "onecycle", "constant")
WARMUP_MODES = ("constant", "linear")

#: Mini-batches whose mean training error ends a warm-up by error. One batch of 128 images
#: measures an error near 80% to +-3.5% (one standard deviation, sqrt(0.8 * 0.2 / 128)), 20
#: batches (2,560 images) to +-0.8%, so a lucky batch cannot end warm-up; and 20 is 5% of the
#: paper's "about 400 iterations", so the window lags the error by about 10 steps.
WARMUP_WINDOW = 20


def _opt(help: str, choices: tuple[str, ...] = (), **kw: Any) -> Any:
    return field(metadata={"help": help, "choices": choices}, **kw)


@dataclass
class TrainConfig:
    """Every training option; field names are the recipe keys, ``--dashed-names`` the flags."""

    model: str = _opt("registered model name", default="")
    recipe: str = _opt("recipe name in recipes/ or a TOML file", default="")
    data_dir: str = _opt(
        "CIFAR python folder or ImageFolder tree (train/, test/ or val/)", default=""
    )
    output: str = _opt("run directory (default runs/MODEL-RECIPE-TIME)", default="")
    download: str = _opt(
        "fetch this data set into --data-dir when missing", ("", "cifar10", "cifar100"), default=""
    )
    weights: str = _opt(
        "initial weights: a .pth/.safetensors file or published weights (DEFAULT, "
        "IMAGENET1K_V1...); the classifier is re-sized to the data's classes",
        default="",
    )
    freeze: bool = _opt("train the classifier only (the rest of --weights stays)", default=False)
    freeze_until: str = _opt(
        "freeze every module up to and including this one, e.g. layer2", default=""
    )
    backbone_lr_scale: float = _opt(
        "learning rate of all but the classifier, as a fraction of lr", default=1.0
    )
    preprocess: str = _opt(
        "normalise with the data's statistics or the weights' own (mean, std, input size)",
        ("data", "weights"),
        default="data",
    )
    # data
    augment: str = _opt(
        "augmentation (moderncnn.data.augment.AUGMENTATIONS)", tuple(AUGMENTATIONS), default="cifar"
    )
    val_size: int = _opt("training images held out for validation (0: none)", default=5000)
    limit: int = _opt("use a fixed random subset of this many images per split (0: all)", default=0)
    cache_dir: str = _opt("where decoded small images are cached", default="")
    workers: int = _opt("DataLoader workers (large images) / decoding threads", default=2)
    strict: bool = _opt("fail on unreadable image files instead of skipping them", default=False)
    # optimisation
    epochs: int = _opt("epochs (when --iterations is 0)", default=0)
    iterations: int = _opt("optimizer steps to train for (0: use --epochs)", default=0)
    batch_size: int = _opt("images per optimizer step, over all processes", default=128)
    accum_steps: int = _opt("micro-batches per optimizer step (gradient accumulation)", default=1)
    lr: float = _opt("peak learning rate", default=0.1)
    momentum: float = _opt("SGD momentum", default=0.9)
    nesterov: bool = _opt("Nesterov momentum", default=False)
    weight_decay: float = _opt("L2 weight decay", default=1e-4)
    schedule: str = _opt("learning-rate schedule", SCHEDULES, default="step")
    milestones: list[float] = _opt(
        "step schedule: where lr is multiplied by gamma", default_factory=list
    )
    milestone_unit: str = _opt(
        "unit of milestones/step_every", ("epoch", "iteration", "fraction"), default="epoch"
    )
    step_every: float = _opt(
        "step schedule: also multiply by gamma every this many units", default=0.0
    )
    gamma: float = _opt("step / plateau factor", default=0.1)
    patience: int = _opt("plateau: epochs without a better validation error", default=3)
    warmup: int = _opt(
        "iterations of warm-up first; with warmup_error, the most (He et al. Sec. 4.2)", default=0
    )
    warmup_mode: str = _opt(
        "warm-up at lr/10 (He et al. 2016, Sec. 4.2) or a linear ramp to lr (Goyal et al. 2017)",
        WARMUP_MODES,
        default="constant",
    )
    lr_base_size: int = _opt(
        "linear scaling rule: lr is the rate of batches of this size and scales with "
        "batch_size (Goyal et al. 2017, Sec. 2.1; 0: lr as given)",
        default=0,
    )
    warmup_error: float = _opt(
        f"end warm-up once the training top-1 error of the last {WARMUP_WINDOW} mini-batches "
        "is below this many percent (ResNet-110: 80, He et al. Sec. 4.2; 0: off)",
        default=0.0,
    )
    stop_error: float = _opt(
        f"end training once the training top-1 error of the last {WARMUP_WINDOW} mini-batches "
        "is below this many percent (iterations to a threshold, AlexNet Fig. 1; 0: off)",
        default=0.0,
    )
    label_smoothing: float = _opt("cross-entropy label smoothing", default=0.0)
    aux_weight: float = _opt("weight of auxiliary classifiers' losses", default=0.3)
    drop_rate: float = _opt("the model's dropout rate (-1: the model's default)", default=-1.0)
    ema_decay: float = _opt(
        "validate and test an exponential moving average of the weights, with this decay per "
        "update (0: off; e.g. 0.99)",
        default=0.0,
    )
    ema_every: int = _opt("optimizer steps between updates of the moving average", default=1)
    tta: str = _opt(
        "test-time augmentation of the final validation and test: mean logits of the image and "
        "its mirror image (flip), and of both shifted by a pixel (flip-translate)",
        TTA_MODES,
        default="none",
    )
    whiten: bool = _opt(
        "make the first conv a frozen patch-whitening layer from 5,000 training images "
        "(airbench; small images)",
        default=False,
    )
    model_kwargs: dict[str, Any] = _opt(
        "the model's other options (`moderncnn models NAME --json` or `moderncnn summary NAME` "
        "list them), e.g. lrn=false "
        "width=0.5; a recipe's table {lrn = false}",
        default_factory=dict,
    )
    # engine
    amp: str = _opt(
        "autocast dtype; auto: bf16 where the device has native bf16, else none (fp32); a run "
        "records what auto chose",
        AMP_CHOICES,
        default="auto",
    )
    channels_last: bool = _opt("channels_last memory format", default=True)
    compile: bool = _opt("torch.compile the model", default=False)
    compile_mode: str = _opt(
        "torch.compile's mode", ("default", "reduce-overhead", "max-autotune"), default="default"
    )
    cuda_graphs: bool = _opt(
        "capture the whole training step in one CUDA graph and replay it (GPU; experimental)",
        default=False,
    )
    seed: int = _opt("random seed", default=0)
    deterministic: bool = _opt("deterministic algorithms (exact resume and repeat)", default=False)
    sync_bn: bool = _opt("SyncBatchNorm across processes (GPU)", default=False)
    device: str = _opt("device (default: cuda if available, else cpu)", default="")
    test: bool = _opt("evaluate the test split once at the end", default=True)
    progress: bool = _opt("show a progress bar", default=True)
    tensorboard: bool = _opt("also log to TensorBoard (RUN_DIR/tb)", default=True)

    @property
    def peak_lr(self) -> float:
        """``lr``, scaled by ``batch_size / lr_base_size`` when set (the linear scaling rule:
        "when the minibatch size is multiplied by k, multiply the learning rate by k", Goyal
        et al. 2017, Sec. 2.1)."""
        return self.lr * self.batch_size / self.lr_base_size if self.lr_base_size else self.lr

    def resolved_epochs(self, steps_per_epoch: int) -> int:
        """Epochs to run: ``epochs``, or enough to reach ``iterations`` optimizer steps."""
        if self.iterations:
            return math.ceil(self.iterations / steps_per_epoch)
        return self.epochs

    def check(self) -> None:
        """Raise :class:`ConfigError` on values out of range or that contradict each other."""
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ConfigError(
                    f"{f.name} must be one of {', '.join(choices)}, not {getattr(self, f.name)!r}"
                )
        if not self.model:
            raise ConfigError("no model given")
        if not self.data_dir:
            raise ConfigError(
                "no data given: pass --data-dir (a CIFAR python folder or an ImageFolder tree)"
            )
        counts = ("epochs", "iterations", "val_size", "limit", "workers", "patience", "warmup")
        for name in (*counts, "lr_base_size"):
            integer(getattr(self, name), name)
        for name, most in MAX_LENGTH.items():
            if getattr(self, name) > most:
                raise ConfigError(
                    f"{name} must be at most {most:,} (the papers' longest runs: 300 epochs, "
                    f"600,000 iterations), got {getattr(self, name):,}"
                )
        for name in ("batch_size", "accum_steps", "ema_every"):
            integer(getattr(self, name), name, minimum=1)
        for name in ("lr", "gamma"):
            number(getattr(self, name), name, inclusive=False)
        for name in ("weight_decay", "aux_weight", "step_every"):
            number(getattr(self, name), name)
        for name in ("momentum", "label_smoothing", "ema_decay"):
            fraction(getattr(self, name), name)
        parse_device(self.device, here=False)  # whether it is here: when training starts
        if (self.epochs > 0) == (self.iterations > 0):
            raise ConfigError(
                f"give one of epochs and iterations, got {self.epochs} and {self.iterations}"
            )
        if self.nesterov and not self.momentum:
            raise ConfigError("nesterov needs momentum > 0 (Nesterov's look-ahead is along it)")
        self._check_milestones()
        if self.batch_size % self.accum_steps:
            raise ConfigError(
                f"batch_size {self.batch_size} is not a multiple of accum_steps {self.accum_steps}"
            )
        if self.drop_rate >= 1:
            raise ConfigError(
                f"drop_rate must be below 1 (-1: the model's default), got {self.drop_rate}"
            )
        if "drop_rate" in self.model_kwargs:
            raise ConfigError("set the dropout rate with drop_rate (--drop-rate), not model_kwargs")
        for name in ("warmup_error", "stop_error"):
            if not 0 <= getattr(self, name) < 100:
                raise ConfigError(f"{name} must be in [0, 100) %, got {getattr(self, name)}")
        if self.warmup_error and self.warmup_mode != "constant":
            raise ConfigError("warmup_error ends a constant warm-up (warmup_mode = 'constant')")
        if self.warmup_error and not self.warmup:
            raise ConfigError(
                "warmup_error needs warmup > 0: the iterations warm-up may last at most"
            )
        if self.preprocess == "weights" and not self.weights:
            raise ConfigError("preprocess = 'weights' needs --weights (the weights' own config)")
        if self.freeze and self.freeze_until:
            raise ConfigError("give --freeze (the classifier only) or --freeze-until, not both")
        if (self.freeze or self.freeze_until) and not self.weights:
            raise ConfigError("--freeze and --freeze-until need --weights to keep frozen")
        if self.whiten and self.weights:
            raise ConfigError(
                "--whiten makes the first conv's filters from the data; it does not go with "
                "--weights (drop one)"
            )
        if not 0 <= self.backbone_lr_scale <= 1:
            raise ConfigError(f"backbone_lr_scale must be in [0, 1], got {self.backbone_lr_scale}")
        if self.schedule == "plateau" and not self.val_size:
            raise ConfigError("the plateau schedule needs a validation split (val_size > 0)")
        if self.schedule != "step" and (self.milestones or self.step_every):
            given = "milestones" if self.milestones else "step_every"
            raise ConfigError(
                f"{given} apply to the step schedule only, and the schedule is "
                f"{self.schedule}: drop {given} or use schedule = 'step'"
            )
        if self.tta != "none" and not self.val_size and not self.test:
            raise ConfigError(
                f"tta = {self.tta!r} augments the final validation and test, and neither is "
                "evaluated (val_size = 0, test = false): drop --tta"
            )

    def _check_milestones(self) -> None:
        """Milestones rise from above 0; as fractions of the run, they end below 1."""
        m = self.milestones
        if any(b <= a for a, b in pairwise([0.0, *m])):
            raise ConfigError(f"milestones must increase from above 0, got {m}")
        if self.milestone_unit == "fraction" and m and m[-1] >= 1:
            raise ConfigError(f"milestones in unit fraction (of the run) must be below 1, got {m}")

    def to_toml(self) -> str:
        """The configuration as a TOML recipe: every value, the model's options (a table)
        last. TOML has no null: a None (of a field typed ``X | None``, whose default it
        is) is left out."""
        return tomli_w.dumps({k: v for k, v in dataclasses.asdict(self).items() if v is not None})

    def extension_blocker(self) -> str | None:
        """Why this run's schedule cannot be made longer or shorter once it started (its
        rates depend on its length), or None: step, constant and plateau schedules set the
        same rates at every step whatever the run's length, unless their milestones are
        fractions of it."""
        if self.schedule in ("cosine", "onecycle"):
            return f"its {self.schedule} schedule is fitted to the run's length"
        if self.milestone_unit == "fraction" and (self.milestones or self.step_every):
            return "its milestones are fractions of the run's length"
        return None


#: The longest runs a configuration may ask for: a run of the papers takes 300 epochs at
#: most (DenseNet on CIFAR) and 600,000 iterations (GoogLeNet's); these are a hundred times
#: that, so that a typo (an extra digit) is refused instead of running for months.
MAX_LENGTH = {"epochs": 30_000, "iterations": 60_000_000}


@functools.cache
def field_types() -> dict[str, Any]:
    """The type of each :class:`TrainConfig` field, resolved (``from __future__ import
    annotations`` leaves the dataclass's as strings)."""
    return typing.get_type_hints(TrainConfig)


def conforms(value: object, hint: Any) -> bool:
    """Whether ``value``, as TOML or a flag gives it, is of type ``hint``: a class, ``X |
    None``, ``list[X]``, ``dict[K, V]`` or ``Any``. An int is a float too (TOML's ``8``
    for 8.0); a bool is not a number."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (types.UnionType, typing.Union):
        return any(conforms(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            conforms(k, args[0]) and conforms(v, args[1]) for k, v in value.items()
        )
    if isinstance(value, bool):
        return hint is bool
    return isinstance(value, (int, float) if hint is float else hint)


def type_name(hint: Any) -> str:
    """``hint`` as it is written: ``int``, ``list[float]``, ``int | None``."""
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def toml_value(value: object) -> str:
    """``value``, a scalar or an array, as TOML on one line (tomli_w writes an array one
    item a line)."""
    text = tomli_w.dumps({"v": value}).removeprefix("v = ")
    return " ".join(line.strip() for line in text.splitlines())
