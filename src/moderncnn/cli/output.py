"""Printing helpers shared by the commands: aligned text tables and JSON."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from moderncnn.io import to_json


def print_json(obj: object) -> None:
    sys.stdout.write(to_json(obj, indent=2) + "\n")


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[bool] | None = None
) -> None:
    """Print rows under headers, columns padded; ``right`` aligns numeric columns right."""
    cells = [[str(c) for c in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    right = right or [False] * len(headers)
    for j, row in enumerate(cells):
        line = "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
        )
        print(line.rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
