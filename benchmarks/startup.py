"""Start-up time of the command line: ``moderncnn --help`` against Python's own start-up, and
``moderncnn models`` against ``import torch``, medians of alternating runs (issue 8's targets:
--help within 0.5 s of ``python -c pass``, models within 1 s of ``import torch``).

    .venv/bin/python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "moderncnn --help": [str(BIN / "moderncnn"), "--help"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "moderncnn models": [str(BIN / "moderncnn"), "models"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):  # alternate, so drift in the machine's speed hits every command
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in med.items():
        print(f"{name:26s} {t:6.3f} s  (median of {runs})")
    help_over = med["moderncnn --help"] - med["python -c pass"]
    models_over = med["moderncnn models"] - med["python -c 'import torch'"]
    print(f"--help over python start-up: {help_over:.3f} s (target < 0.5 s)")
    print(f"models over import torch:    {models_over:.3f} s (target < 1 s)")


if __name__ == "__main__":
    main()
