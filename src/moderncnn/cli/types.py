"""argparse ``type=`` converters from the checks of :mod:`moderncnn.validate`, so that a bad
value is refused where it is parsed, in argparse's one line naming the flag."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from moderncnn.errors import ModernCNNError
from moderncnn.models.pretrained import is_weights_name
from moderncnn.validate import (
    existing_file,
    integer,
    output_file,
    parse_device,
    parse_input_size,
)

T = TypeVar("T")


def flag(check: Callable[..., T], **options: Any) -> Callable[[str], T]:
    """``check(text, **options)`` as an argparse type: its error becomes argparse's."""

    def convert(text: str) -> T:
        try:
            return check(text, **options)
        except ModernCNNError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return convert


def _device_text(text: str) -> str:
    """``text`` unchanged once :func:`moderncnn.validate.parse_device` accepts it."""
    parse_device(text, "")
    return text


def _weights(text: str) -> str:
    """Published weights by name (DEFAULT, IMAGENET1K_V1...), or a weights file that exists."""
    return text if is_weights_name(text) else str(existing_file(text, "weights file"))


#: A count of at least 1 (batch sizes, runs, top-k) and of at least 0 (limits, workers).
POSITIVE = flag(integer, minimum=1)
NON_NEGATIVE = flag(integer, minimum=0)
#: A device this machine has, kept as given ('' for the default).
DEVICE = flag(_device_text)
#: --weights: published weights' name or a weights file.
WEIGHTS = flag(_weights)
#: ``CxHxW``, as a tuple.
INPUT_SIZE = flag(parse_input_size, name="")


def output(suffix: str) -> Callable[[str], Any]:
    """A file ending in ``suffix`` that can be written (:func:`moderncnn.validate.output_file`)."""
    return flag(output_file, suffix=suffix)
