"""The ``moderncnn train`` flags of the training options: one description a field, which says
both how its flag is parsed and how a value is written back as words of a command line, so
that a written command (an experiment's run) makes the same configuration.

The flag follows the field's type: a bool is ``--nesterov`` / ``--no-nesterov``, a list
``--milestones 0.5 0.75`` (no values: an empty list), a table ``--model-kwargs lrn=false
width=0.5``, anything else ``--lr 0.1``.
"""

from __future__ import annotations

import argparse
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import Field, dataclass, fields
from typing import Any

from moderncnn.errors import ConfigError
from moderncnn.train.options import TrainConfig, field_types, toml_value

#: Other names of flags.
ALIASES = {
    "output": ["--run-dir"],
    "data_dir": ["--data"],
    "accum_steps": ["--accum"],
    "drop_rate": ["--dropout"],
}


@dataclass(frozen=True)
class Flag:
    """A field's flag: its ``names`` and ``options`` for ``add_argument``, and ``write``, which
    turns a value into the words that parse back to it."""

    names: tuple[str, ...]
    options: dict[str, Any]
    write: Callable[[Any], list[str]]


def _flag(f: Field) -> Flag:
    option = "--" + f.name.replace("_", "-")
    names = (option, *ALIASES.get(f.name, []))
    common: dict[str, Any] = {
        "dest": f.name,
        "default": argparse.SUPPRESS,
        "help": f.metadata["help"],
    }
    if f.metadata["choices"]:
        common["choices"] = f.metadata["choices"]
    hint = field_types()[f.name]
    if typing.get_origin(hint) in (types.UnionType, typing.Union):  # X | None: the flag is X's
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    kind = typing.get_origin(hint) or hint
    if kind is bool:
        return Flag(
            names,
            {**common, "action": argparse.BooleanOptionalAction},
            lambda v: [option if v else "--no-" + option.removeprefix("--")],
        )
    if kind is list:
        (item,) = typing.get_args(hint)
        return Flag(
            names,
            {**common, "nargs": "*", "type": item, "metavar": "X"},
            lambda v: [option, *map(str, v)],
        )
    if kind is dict:
        return Flag(
            names,
            {
                **common,
                "nargs": "+",
                "type": key_value,
                "action": KeyValues,
                "metavar": "KEY=VALUE",
            },
            lambda v: _pairs(option, v),
        )
    if f.name == "amp":  # `--amp` alone is bf16, as the reference scripts' boolean --amp
        common.update(nargs="?", const="bf16")
    return Flag(names, {**common, "type": kind}, lambda v: [option, str(v)])


def key_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a TOML value (false, 0.5, 3), else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. lrn=false), got {text!r}")
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


class KeyValues(argparse.Action):
    """Collects ``KEY=VALUE`` pairs into a dict; repeating the flag adds to it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: list[tuple[str, object]],
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, {**getattr(namespace, self.dest, {}), **dict(values)})


def _pairs(option: str, table: dict[str, Any]) -> list[str]:
    """``OPTION KEY=VALUE ...``, each pair as :func:`key_value` reads it back: a string as it
    is where it reads back as itself (shortcut=B), else as TOML (lrn=false, name="true")."""
    if not table:
        raise ConfigError(f"{option} takes one KEY=VALUE or more: an empty table has no flag")
    words = [option]
    for key, value in table.items():
        word = f"{key}={value}"
        words.append(word if key_value(word) == (key, value) else f"{key}={toml_value(value)}")
    return words


#: The flag of every field but ``model`` (``moderncnn train MODEL``), by field name.
FLAGS = {f.name: _flag(f) for f in fields(TrainConfig) if f.name != "model"}
