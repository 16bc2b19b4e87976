"""DDP: ``torchrun --nproc_per_node 2`` on the CPU (gloo) against one process with the same
global batch, warm-up by training error included (the ranks sum their counts, so all end it
at the step one process does). Tolerance: 1e-5 relative on losses and 1e-5 absolute on
weights (the ranks' gradients are averaged in another order than one process sums them).
The network has no BatchNorm or dropout, whose statistics and masks depend on the split of a
batch (SyncBN needs a GPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from moderncnn.train.metrics import read_metrics

TESTS = Path(__file__).resolve().parent
SCRIPT = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import tiny_model  # registers tiny_test_net
from moderncnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_processes_match_one(fake_cifar: Path, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    args = ["train", "tiny_test_net", "--data-dir", str(fake_cifar), "--recipe", "cifar_fast"]
    args += ["--epochs", "4", "--batch-size", "50", "--val-size", "100", "--deterministic"]
    args += ["--warmup", "24", "--warmup-error", "72"]  # 6 steps an epoch
    args += ["--no-progress", "--no-tensorboard"]
    runs = {"one": [sys.executable, str(script)]}
    runs["ddp"] = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    runs["ddp"] += ["--nproc_per_node", "2", str(script)]
    for name, cmd in runs.items():
        done = subprocess.run(
            [*cmd, *args, "--output", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    one, ddp = (read_metrics(tmp_path / n / "metrics.csv") for n in runs)
    assert len(ddp) == 4  # rank 0 alone writes
    for a, b in zip(one, ddp, strict=True):
        for key in ("train_loss", "train_top1_err", "val_loss", "val_top1_err"):
            assert abs(float(a[key]) - float(b[key])) <= 1e-5 * max(1.0, abs(float(a[key]))), key
    last = Path("checkpoints") / "epoch-0004"
    wa, wb = (load_file(tmp_path / n / last / "model.safetensors") for n in runs)
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=0, atol=1e-5)
    ends = [  # where the arithmetic ends it depends on the CPU: the runs agree with each other
        torch.load(tmp_path / n / last / "state.pt", weights_only=True)["schedule"]["warmup_end"]
        for n in runs
    ]
    assert ends[0] == ends[1] and ends[0] is not None and ends[0] < 24  # 24: its bound
