"""Training and evaluation: recipes, the training loop, checkpoints, metrics and plots."""

from moderncnn.loss import compute_loss
from moderncnn.train.config import TrainConfig, load_run_config, resolve_config
from moderncnn.train.engine import train
from moderncnn.train.evaluate import EvalResult, evaluate
from moderncnn.train.metrics import TrainResult

__all__ = [
    "EvalResult",
    "TrainConfig",
    "TrainResult",
    "compute_loss",
    "evaluate",
    "load_run_config",
    "resolve_config",
    "train",
]
