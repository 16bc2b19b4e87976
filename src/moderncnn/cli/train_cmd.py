"""``moderncnn train``: train a zoo model with its paper's recipe; every value can be overridden.

Flags are generated from :class:`moderncnn.train.TrainConfig`, so each recipe key has one
(``weight_decay`` is ``--weight-decay``). Under ``torchrun`` the run is distributed.
"""

from __future__ import annotations

import argparse
import os

from moderncnn.cli import add_command
from moderncnn.cli.output import print_table
from moderncnn.cli.types import WEIGHTS
from moderncnn.errors import ConfigError
from moderncnn.train import TrainConfig, resolve_config, train
from moderncnn.train.config import list_recipes, resume_config
from moderncnn.train.flags import FLAGS

#: Flags checked as they are parsed, beyond their type (the rest: TrainConfig.check()).
_CHECKED = {"weights": WEIGHTS}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "train",
        description="Train MODEL on CIFAR-10/100 (python format) or an ImageFolder tree with the "
        "recipe of its paper (or --recipe NAME|FILE.toml; 'fast' for a run of minutes). Flags "
        "override recipe values. The run directory gets config.toml, metrics.csv, tb/, "
        f"checkpoints/ and best.safetensors. Recipes: {', '.join(list_recipes())}.",
    )
    p.add_argument("model", nargs="?", help="registered model name (see `moderncnn models`)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in an output folder that holds a run: remove its checkpoints, "
        "weights and metrics first (without it, such a folder is refused)",
    )
    add_config_flags(p.add_argument_group("training options (override the recipe)"))
    p.set_defaults(func=run)


def add_config_flags(group: argparse._ArgumentGroup) -> None:
    """One flag per :class:`TrainConfig` field except ``model``
    (:data:`moderncnn.train.flags.FLAGS`); unset flags stay unset."""
    for name, flag in FLAGS.items():
        options = {**flag.options, "type": _CHECKED[name]} if name in _CHECKED else flag.options
        group.add_argument(*flag.names, **options)


def config_of(args: argparse.Namespace) -> TrainConfig:
    """The configuration the parsed ``moderncnn train`` command ``args`` trains: the recipe's
    with the flags given, or, with ``--resume``, the run's."""
    overrides = {k: v for k, v in vars(args).items() if k in FLAGS}
    if args.resume:
        return resume_config(args.resume, args.model or "", **overrides)
    if not args.model:
        raise ConfigError("name a model to train, or --resume RUN_DIR")
    return resolve_config(args.model, overrides.pop("recipe", ""), **overrides)


def run(args: argparse.Namespace) -> int:
    cfg = config_of(args)
    result = train(cfg, resume=bool(args.resume), overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")):
        return 0
    rows = [
        [split, r["n"], r["loss"], r["top1_err"], r["top5_err"]]
        for split, r in (("validation", result.val), ("test (once)", result.test))
        if r
    ]
    trained = (
        f"{result.epochs} epochs in {result.wall_time_s:.0f} s, {result.images_per_s:.0f} images/s"
        if result.images_per_s
        else f"{result.epochs} epochs, all trained before this resume"
    )
    print(
        f"\n{cfg.model}: {trained}; weights of epoch {result.best_epoch} "
        f"(chosen by {'validation' if result.val else 'last epoch'}):"
    )
    print_table(["split", "images", "loss", "top-1 err %", "top-5 err %"], rows, [0, 1, 1, 1, 1])
    print(f"\nrun directory: {result.run_dir}  (weights: {result.run_dir / 'best.safetensors'})")
    return 0
