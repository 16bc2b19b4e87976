"""Progress output: a tqdm bar on a terminal, plain lines in a log.

tqdm redraws its bar with carriage returns, which a redirected stderr keeps as dozens of
frames a second; when stderr is not a terminal, :func:`progress` prints one line at most
every :data:`INTERVAL_S` seconds instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm import tqdm

#: Seconds between two lines of progress when stderr is not a terminal.
INTERVAL_S = 10.0


class LogProgress:
    """tqdm's ``update`` / ``set_postfix`` / ``close`` and iteration, printing a plain line
    (``desc: n/total unit (p%), rate, postfix``) at most every :data:`INTERVAL_S` seconds."""

    def __init__(
        self,
        iterable: Iterable[Any] | None,
        total: int | None,
        desc: str,
        unit: str,
        enabled: bool,
    ) -> None:
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.enabled, self.n, self.postfix = enabled, 0, {}
        self.file = sys.stderr
        self.start = self.shown = time.monotonic()

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.enabled and now - self.shown >= INTERVAL_S:
            self.shown = now
            self.file.write(self._line(now) + "\n")
            self.file.flush()

    def set_postfix(self, **values: object) -> None:
        self.postfix = values

    def close(self) -> None:
        """Nothing to erase: the caller logs the outcome."""

    def _line(self, now: float) -> str:
        done = f"{self.n}/{self.total}" if self.total else str(self.n)
        percent = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        rate = self.n / max(now - self.start, 1e-9)
        extra = "".join(f", {k}={v}" for k, v in self.postfix.items())
        return f"{self.desc}: {done} {self.unit}{percent}, {rate:.1f} {self.unit}/s{extra}"


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str,
    unit: str,
    enabled: bool = True,
) -> tqdm | LogProgress:
    """A progress bar over ``total`` steps (or ``iterable``): tqdm when stderr is a terminal,
    else :class:`LogProgress`; ``enabled=False`` shows nothing (``--no-progress``)."""
    if enabled and sys.stderr.isatty():
        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
    return LogProgress(iterable, total, desc, unit, enabled)
