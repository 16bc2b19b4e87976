"""Issue 21's census: every malformed invocation of tests/test_cli_fuzz.py, and the
invocations the issue found silently wrong, run again and counted.

    PYTHONPATH=src:tests python tests/census.py

A refusal case is *wrongly accepted* when it exits 0, and *wrong* when it exits otherwise
than 2 with one line holding its fragment. An accepted case is *silently wrong* when it
exits 0 but what it did is not what was asked (its check fails). A *traceback* is an
exception escaping ``moderncnn.cli.main`` (or "Traceback" on a subprocess's stderr). Prints
the counts; exits 1 unless all are 0.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

import tiny_model  # noqa: F401  (registers tiny_test_net)
from moderncnn.cli import main
from moderncnn.models.weights import read_metadata
from moderncnn.train.metrics import read_metrics
from test_cli_fuzz import CASES, TRAIN, make_inputs

TESTS = Path(__file__).resolve().parent


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def run(argv: list[str], cwd: Path) -> tuple[int | None, str, str, list[tuple[int, str]]]:
    """(exit status or None after a traceback, stdout, stderr, log records) of ``argv``."""
    out, err, handler = io.StringIO(), io.StringIO(), _Lines()
    logger = logging.getLogger("moderncnn")
    logger.addHandler(handler)
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | None = main(argv)
    except BaseException:  # a traceback: what the census counts
        err.write(traceback.format_exc())
        code = None
    finally:
        os.chdir(here)
        logger.removeHandler(handler)
    return code, out.getvalue(), err.getvalue(), handler.lines


def subprocess_run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": f"{TESTS.parent / 'src'}:{TESTS}", **env}
    cmd = [sys.executable, str(TESTS / "killable_train.py"), *argv]
    return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=600)


def accepted_cases(inputs: dict[str, str], root: Path) -> dict[str, Callable[[], bool]]:
    """The issue's accepted invocations, each a check: True when it did what was asked.
    A check raises AssertionError for a non-zero exit (counted as wrongly refused)."""
    base = [a.format(**inputs) for a in TRAIN] + ["--limit", "100", "--no-test"]

    def ok(argv: list[str], cwd: Path = root) -> tuple[str, str, list]:
        code, out, err, logged = run(argv, cwd)
        if code is None:
            raise RuntimeError(err)
        assert code == 0, (argv, err)
        return out, err, logged

    def extend_constant() -> bool:
        r = root / "constant"
        ok([*base, "--schedule", "constant", "--output", str(r)])
        ok(["train", "--resume", str(r), "--epochs", "2"])
        text = (r / "config.toml").read_text()
        lrs = {row["lr"] for row in read_metrics(r / "metrics.csv")}
        return text.endswith("# from epoch 2: epochs = 2 (was 1)\n") and len(lrs) == 1

    def eval_val_is_the_runs() -> bool:
        r = root / "limited"
        ok([*base, "--limit", "80", "--val-size", "30", "--batch-size", "25", "--output", str(r)])
        out, _, _ = ok(
            [
                "eval",
                "tiny_test_net",
                "--weights",
                str(r / "best.safetensors"),
                "--data",
                inputs["data"],
                "--split",
                "val",
                "--json",
                "--no-progress",
            ]
        )
        got, val = json.loads(out), json.loads((r / "results.json").read_text())["val"]
        return (got["n"], got["top1_err"]) == (30, val["top1_err"])

    def eval_train_limit() -> bool:
        weights = f"{inputs['run']}/best.safetensors"
        out, _, _ = ok(
            [
                "eval",
                "tiny_test_net",
                "--weights",
                weights,
                "--data",
                inputs["data"],
                "--split",
                "train",
                "--limit",
                "200",
                "--json",
                "--no-progress",
            ]
        )
        return json.loads(out)["n"] == 100 - int(read_metadata(weights)["val_size"])

    def relative_data_dir() -> bool:
        r = root / "relative"
        data = Path(inputs["data"])
        argv = [a if a != str(data) else data.name for a in base]
        ok([*argv, "--schedule", "constant", "--output", str(r)], cwd=data.parent)
        ok(["train", "--resume", str(r), "--epochs", "2"], cwd=root)
        return f'data_dir = "{data}"' in (r / "config.toml").read_text()

    def ctrl_c() -> bool:
        r = root / "interrupted"
        argv = [*base, "--schedule", "constant", "--epochs", "3", "--batch-size", "25"]
        done = subprocess_run(
            [*argv, "--output", str(r)],
            KILL_AT="step:3",
            KILL_SIGNAL="SIGINT",
            KILL_LOG=str(root / "kills.log"),
        )
        line = (
            f"moderncnn train: interrupted in epoch 2; resume with `moderncnn train --resume {r}`"
        )
        intact = torch.load(r / "checkpoints" / "epoch-0001" / "state.pt")["epoch"] == 1
        again = subprocess_run(["train", "--resume", str(r)])
        return (
            done.returncode == 130
            and done.stderr.splitlines()[-1] == line
            and "Traceback" not in done.stderr + again.stderr
            and intact
            and again.returncode == 0
        )

    def warned(name: str, extra: list[str], warning: str) -> Callable[[], bool]:
        def check() -> bool:
            _, _, logged = ok([*base, *extra, "--output", str(root / name)])
            return [m for level, m in logged if level >= logging.WARNING] == [warning]

        check.__name__ = name
        return check

    sync_bn_warned = warned(
        "sync_bn_warned",
        ["--sync-bn"],
        "--sync-bn has no effect in a single process (nothing to sync)",
    )
    milestones_warned = warned(
        "milestones_warned",
        ["--schedule", "cosine", "--milestones", "0.5"],
        "milestones apply to the step schedule only: ignored (cosine)",
    )
    step_every_warned = warned(
        "step_every_warned",
        ["--schedule", "onecycle", "--step-every", "2"],
        "step_every apply to the step schedule only: ignored (onecycle)",
    )

    def predict_tiny_and_empty() -> bool:
        (root / "zero.jpg").write_bytes(b"")
        Image.new("RGB", (1, 1)).save(root / "one.png")
        files = [str(root / "zero.jpg"), str(root / "one.png")]
        code, out, err, logged = run(
            ["predict", "tiny_test_net", *files, "--weights", inputs["weights"]], root
        )
        warned = [m for level, m in logged if level >= logging.WARNING]
        return (
            code == 1
            and "zero.jpg: cannot read: it is empty (0 bytes)" in out
            and len(warned) == 1
            and "one.png (1x1)" in warned[0]
        )

    return {
        f.__name__: f
        for f in (
            extend_constant,
            eval_val_is_the_runs,
            eval_train_limit,
            relative_data_dir,
            ctrl_c,
            sync_bn_warned,
            milestones_warned,
            step_every_warned,
            predict_tiny_and_empty,
        )
    }


def census() -> dict[str, int]:
    counts = dict.fromkeys(
        ("cases tried", "tracebacks", "wrongly accepted", "wrong message", "silently wrong"), 0
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with contextlib.redirect_stdout(io.StringIO()):  # its run's table
            inputs = make_inputs(root / "inputs")
        for i, (argv, fragment) in enumerate(CASES):
            cwd = root / f"case{i}"
            cwd.mkdir()
            code, out, err, logged = run([a.format(**inputs) for a in argv], cwd)
            counts["cases tried"] += 1
            lines = [line for line in err.splitlines() if line]
            if code is None or "Traceback" in err:
                counts["tracebacks"] += 1
                print("TRACEBACK", argv, err.splitlines()[-1:])
            elif code == 0:
                counts["wrongly accepted"] += 1
                print("ACCEPTED", argv)
            elif code != 2 or len(lines) != 1 or fragment.format(**inputs) not in lines[0]:
                counts["wrong message"] += 1
                print("MESSAGE", argv, lines)
        for name, check in accepted_cases(inputs, root / "accepted").items():
            (root / "accepted").mkdir(exist_ok=True)
            counts["cases tried"] += 1
            try:
                right = check()
            except AssertionError as e:
                counts["wrong message"] += 1  # refused what it should do
                print("REFUSED", name, e)
                continue
            except Exception:
                counts["tracebacks"] += 1
                print("TRACEBACK", name, traceback.format_exc().splitlines()[-1])
                continue
            if not right:
                counts["silently wrong"] += 1
                print("SILENTLY WRONG", name)
    return counts


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=io.StringIO())
    torch.set_num_threads(1)
    result = census()
    print(", ".join(f"{k}: {v}" for k, v in result.items()))
    sys.exit(1 if any(v for k, v in result.items() if k != "cases tried") else 0)
