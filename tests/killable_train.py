"""``moderncnn`` as a subprocess that the robustness tests can kill where they choose.

``python killable_train.py train tiny_test_net ...`` runs the CLI with ``tiny_test_net``
registered. Events are counted: ``step`` (before an optimizer step), ``fsync`` and
``replace`` (before ``os.fsync`` / ``os.replace``: the commit points of every file the run
writes) and ``replaced`` (after an ``os.replace``), each also as ``EVENT@WHERE`` (WHERE:
``checkpoint`` inside ``save_checkpoint``, ``best`` inside the write of best.safetensors,
else ``run``). With ``KILL_AT=EVENT:N`` (or ``EVENT@WHERE:N``) the process sends itself
SIGKILL at the N-th EVENT, as ``kill -9`` would end it (no handler, no cleanup), or the
signal ``KILL_SIGNAL`` names (SIGINT: Ctrl-C), after appending ``EVENT:N WHERE`` to the file
``KILL_LOG``. A run that ends writes its event counts
as JSON to ``EVENTS`` (the tests draw kill points from them). The library holds no hook:
this file patches it from outside.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import torch

import tiny_model  # noqa: F401  (registers tiny_test_net)
from moderncnn.cli import main
from moderncnn.train import engine

counts: collections.Counter[str] = collections.Counter()
where: list[str] = []
event, _, nth = (os.environ.get("KILL_AT") or ":0").partition(":")
kill_at = (event, int(nth))


def hit(name: str) -> None:
    """Count ``name``, also as ``name@WHERE`` inside a write; die if it is the kill point."""
    place = where[-1] if where else "run"
    for key in (name, f"{name}@{place}"):
        counts[key] += 1
        if (key, counts[key]) == kill_at:
            with open(os.environ["KILL_LOG"], "a") as f:
                f.write(f"{key}:{counts[key]} {place}\n")
            os.kill(os.getpid(), getattr(signal, os.environ.get("KILL_SIGNAL", "SIGKILL")))


def counted(name: str, fn: Callable, after: str = "") -> Callable:
    def wrapper(*args, **kwargs):
        hit(name)
        out = fn(*args, **kwargs)
        if after:
            hit(after)
        return out

    return wrapper


def within(name: str, fn: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        where.append(name)
        try:
            return fn(*args, **kwargs)
        finally:
            where.pop()

    return wrapper


if __name__ == "__main__":
    torch.set_num_threads(1)  # the same reductions in every process: bitwise comparable
    torch.optim.SGD.step = counted("step", torch.optim.SGD.step)
    os.fsync = counted("fsync", os.fsync)
    os.replace = counted("replace", os.replace, after="replaced")
    engine.save_checkpoint = within("checkpoint", engine.save_checkpoint)
    engine.save_weights = within("best", engine.save_weights)
    status = main(sys.argv[1:])
    if os.environ.get("EVENTS"):
        Path(os.environ["EVENTS"]).write_text(json.dumps(counts))
    sys.exit(status)
