"""Training configuration: defaults, a paper's recipe (a TOML file in ``recipes/``), then
command-line overrides. The resolved configuration is saved with the run as ``config.toml``,
itself a valid recipe. The options themselves: :mod:`.options`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from moderncnn.errors import ConfigError
from moderncnn.models import model_info
from moderncnn.train.options import TrainConfig, conforms, field_types, toml_value, type_name

log = logging.getLogger("moderncnn")

#: Fields that say how a run executes, not what it computes: a resumed run may change them.
#: Every other field defines the run (its data, model, optimisation and evaluation), except
#: ``output`` (where it is) and the length fields, which may change where the schedule can
#: be extended (:meth:`TrainConfig.extension_blocker`). ``data_dir`` may move: the data
#: found there must be the run's (its split digest is checked).
EXECUTION = frozenset(
    {
        "data_dir",
        "device",
        "workers",
        "cache_dir",
        "strict",
        "progress",
        "tensorboard",
        "channels_last",
        "compile",
        "compile_mode",
        "cuda_graphs",
        "deterministic",
    }
)
LENGTH = ("epochs", "iterations")


def resume_changes(saved: TrainConfig, cfg: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """The fields ``cfg`` changes in the run ``saved`` describes, as {name: (was, now)};
    raise :class:`ConfigError`, naming them, where a field that defines the run changes, or
    the length of one whose schedule cannot be extended. ``amp = "auto"`` keeps the
    precision the run chose when it started."""
    if cfg.amp == "auto":
        cfg = dataclasses.replace(cfg, amp=saved.amp)
    changes = {
        f.name: (getattr(saved, f.name), getattr(cfg, f.name))
        for f in fields(TrainConfig)
        if f.name != "output" and getattr(saved, f.name) != getattr(cfg, f.name)
    }
    refused = [k for k in changes if k not in EXECUTION and k not in LENGTH]
    if refused:
        flags = ", ".join(f"--{k.replace('_', '-')} (run: {changes[k][0]!r})" for k in refused)
        raise ConfigError(
            f"a resumed run keeps what defines it: {flags} cannot change; resuming may change "
            f"{', '.join('--' + k.replace('_', '-') for k in sorted(EXECUTION))}, and the "
            "length where the schedule allows; start a new run (--output) to change the rest"
        )
    blocker = saved.extension_blocker()
    if blocker and any(k in changes for k in LENGTH):
        length = " ".join(f"{k} = {getattr(saved, k)}" for k in LENGTH if getattr(saved, k))
        raise ConfigError(
            f"the run's length cannot change ({length}): {blocker}; start a new run "
            "(--output) to train longer"
        )
    return changes


def record_changes(toml: str, cfg: TrainConfig, changes: dict[str, tuple], epoch: int) -> str:
    """``toml`` (a run's config.toml) rewritten as ``cfg``, its comment lines kept and one
    added for ``changes``, which take effect in epoch ``epoch``: config.toml holds the
    values the run goes on with, and says since when (comments: still a valid recipe)."""
    notes = [line for line in toml.splitlines() if line.startswith("#")]
    what = "; ".join(
        f"{k} = {toml_value(now)} (was {toml_value(was)})" for k, (was, now) in changes.items()
    )
    return cfg.to_toml() + "".join(f"{n}\n" for n in notes) + f"# from epoch {epoch}: {what}\n"


def recipes_dir() -> Path:
    """``$MODERNCNN_RECIPES``, else the recipes shipped in the package (``moderncnn/recipes``,
    which the repository's ``recipes/`` links to)."""
    if os.environ.get("MODERNCNN_RECIPES"):
        return Path(os.environ["MODERNCNN_RECIPES"])
    return Path(__file__).resolve().parents[1] / "recipes"


def list_recipes() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.toml"))


def default_recipe(model: str, fast: bool = False) -> str:
    """The recipe of ``model``'s paper: by family and by data set (CIFAR or ImageNet); for
    CIFAR ResNets of 110 layers or more the one with warm-up by training error (He et al.
    Sec. 4.2), for the pre-activation ResNets their paper's (fixed 400-iteration warm-up)."""
    info = model_info(model)
    if info.dataset == "imagenet":
        if fast:
            raise ConfigError(
                f"{model} is an ImageNet network; fast recipes are for CIFAR networks"
            )
        return {
            "alexnet": "alexnet",
            "vgg": "vgg",
            "googlenet": "googlenet",
            "densenet": "densenet_imagenet",
        }.get(info.family, "resnet_imagenet")
    name = {"resnet": "resnet_cifar", "densenet": "densenet_cifar"}.get(info.family, "cifar")
    if fast:
        return f"{name}_fast"
    if info.name.startswith("preact_resnet"):  # He et al. 2016 (Identity Mappings), appendix
        return "preact_resnet_cifar"
    if info.family == "resnet" and info.depth >= 110:
        return "resnet_cifar_warmup"
    return name


def read_recipe(recipe: str, _inside: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe's keys: ``recipe`` is a name in :func:`recipes_dir` or a path to a TOML file.
    ``base = "NAME"`` (or a .toml path relative to the recipe) starts from that recipe's keys;
    the recipe's own keys replace them."""
    path = Path(recipe)
    if path.suffix != ".toml":
        path = recipes_dir() / f"{recipe}.toml"
    if not path.is_file():
        raise ConfigError(
            f"no recipe {recipe!r}; recipes: {', '.join(list_recipes())}, or a .toml file"
        )
    data = _read_toml(path, "recipe")
    data.pop("description", None)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"recipe {str(path)!r}: base must be a recipe name, not {base!r}")
    if path.resolve() in _inside:
        raise ConfigError(f"recipe {str(path)!r} is its own base (through {base!r})")
    if base.endswith(".toml"):
        base = str(path.parent / base)
    return _override(read_recipe(base, (*_inside, path.resolve())), data)


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{what} {str(path)!r} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {e.strerror}") from None


def resolve_config(model: str, recipe: str = "", **overrides: Any) -> TrainConfig:
    """Defaults, then ``recipe`` (default: the model's paper, or ``finetune`` when starting
    from ``weights``; ``fast``: its fast recipe), then ``overrides``; checked. A recipe that
    names another model is refused (a run's config.toml names its own)."""
    recipe = recipe or ("finetune" if overrides.get("weights") else default_recipe(model))
    if recipe == "fast":
        recipe = default_recipe(model, fast=True)
    keys = read_recipe(recipe)
    if keys.get("model", model) != model:
        raise ConfigError(
            f"recipe {recipe!r} sets model = {keys['model']!r}, and the model to train is "
            f"{model}: train {keys['model']}, or remove the key from the recipe"
        )
    return config_from(
        _override({**keys, "model": model, "recipe": recipe}, overrides),
        source=f"recipe {recipe!r}",
    )


def _override(values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``values`` with ``overrides`` (a recipe's keys over its base's, flags over a
    recipe's): ``epochs`` replaces ``iterations`` and the other way round, and a schedule
    other than step drops the step schedule's milestones (saying so where they were given
    with it: they would do nothing)."""
    values = {**values, **overrides}
    for given, other in (("epochs", "iterations"), ("iterations", "epochs")):
        if given in overrides and other not in overrides:
            values[other] = 0
    schedule = overrides.get("schedule", "step")
    if schedule != "step":
        for name in ("milestones", "step_every"):
            if overrides.get(name):
                log.warning("%s apply to the step schedule only: ignored (%s)", name, schedule)
            values.pop(name, None)
    return values


def resume_config(run_dir: str | Path, model: str = "", **overrides: Any) -> TrainConfig:
    """The configuration of the run in ``run_dir`` with ``overrides`` (checked against what
    resuming allows by the trainer, :func:`resume_changes`). Its data directory must exist,
    or be given again (``data_dir``)."""
    saved = load_run_config(run_dir)
    if model and model != saved.model:
        raise ConfigError(f"{str(run_dir)!r} is a run of {saved.model}, not {model}")
    if "data_dir" not in overrides and not Path(saved.data_dir).is_dir():
        raise ConfigError(
            f"the run's data directory {saved.data_dir!r} (recorded in "
            f"{str(Path(run_dir) / 'config.toml')!r}) does not exist; give --data-dir where "
            "the run's data is now (it is checked to be the same images)"
        )
    values = _override(dataclasses.asdict(saved), overrides)
    return config_from({**values, "output": str(run_dir)}, source="--resume")


#: Keys renamed since runs were saved (a run's config.toml holds every key): old -> new.
_RENAMED = {"dropout": "drop_rate"}


def config_from(values: dict[str, Any], source: str) -> TrainConfig:
    """A checked :class:`TrainConfig` from a mapping of field names (or their old names in
    :data:`_RENAMED`) to values."""
    for old, new in _RENAMED.items():
        if old in values:
            if new in values:
                raise ConfigError(f"{source}: give {new} only ({old} is its old name)")
            values = {new if k == old else k: v for k, v in values.items()}
    hints = field_types()
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"{source}: unknown keys {', '.join(unknown)}")
    for k, v in values.items():
        if not conforms(v, hints[k]):
            raise ConfigError(f"{source}: {k} must be {type_name(hints[k])}, got {v!r}")
    cfg = TrainConfig(**values)
    cfg.milestones = [float(m) for m in cfg.milestones]
    cfg.check()
    return cfg


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The configuration saved in ``run_dir`` (for ``--resume``)."""
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a run directory: it has no config.toml")
    return config_from(_read_toml(path, "run configuration"), source=str(path))
