"""torch.hub entry points: one per registered model, generated from the registry.

    torch.hub.load("path/to/moderncnn", "resnet50", source="local", weights="DEFAULT")

Each takes :func:`moderncnn.create_model`'s keyword arguments. The package is imported from
this checkout's ``src/`` (it need not be installed). Names not meant as entry points start
with ``_``: torch.hub lists every other callable here.
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path
from typing import TYPE_CHECKING

_SRC = str(_Path(__file__).resolve().parent / "src")
if _SRC not in _sys.path:
    _sys.path.insert(0, _SRC)

from moderncnn.models import create_model as _create_model  # noqa: E402
from moderncnn.models import list_models as _list_models  # noqa: E402
from moderncnn.models import model_info as _model_info  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from torch import nn

dependencies = ["torch", "torchvision"]


def _entrypoint(name: str) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        return _create_model(name, **kwargs)

    info = _model_info(name)
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"{name}: {info.paper} ({info.year}). {info.notes}\n\n"
        "Keyword arguments are moderncnn.create_model's (num_classes, in_chans, weights, "
        f"features_only, out_indices, ...); options: {info.options or 'none'}."
    )
    return build


globals().update({name: _entrypoint(name) for name in _list_models()})
