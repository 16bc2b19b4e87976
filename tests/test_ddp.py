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


def _one_and_two(script: str, args: list[str], tmp_path: Path) -> dict[str, str]:
    """Run ``script args`` in one process (run folder tmp_path/one) and under torchrun in
    two (tmp_path/ddp); return their stderr."""
    path = tmp_path / "train.py"
    path.write_text(script)
    runs = {"one": [sys.executable, str(path)]}
    runs["ddp"] = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    runs["ddp"] += ["--nproc_per_node", "2", str(path)]
    logs = {}
    for name, cmd in runs.items():
        done = subprocess.run(
            [*cmd, *args, "--output", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        logs[name] = done.stderr
    return logs


def test_two_processes_match_one(fake_cifar: Path, tmp_path: Path) -> None:
    args = ["train", "tiny_test_net", "--data-dir", str(fake_cifar), "--recipe", "cifar_fast"]
    args += ["--epochs", "4", "--batch-size", "50", "--val-size", "100", "--deterministic"]
    args += ["--warmup", "24", "--warmup-error", "72"]  # 6 steps an epoch
    args += ["--no-progress", "--no-tensorboard"]
    runs = _one_and_two(SCRIPT, args, tmp_path)
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


#: The script above, saving each rank's final weights and BatchNorm statistics (rank 0 alone
#: writes the run's files) as RANK.pt in the run directory.
PER_RANK = SCRIPT.replace(
    "from moderncnn.cli import main",
    """from moderncnn.cli import main
import os, torch
from moderncnn.train import engine
fit = engine.Trainer.fit
def fit_and_save(self):
    out = fit(self)
    torch.save(self.raw_model.state_dict(), self.run_dir / (os.environ.get("RANK", "0") + ".pt"))
    return out
engine.Trainer.fit = fit_and_save""",
)


def test_batchnorm_without_sync_bn(fake_cifar: Path, tmp_path: Path) -> None:
    """docs/training.md: with BatchNorm, N processes do not match one (each normalises its
    own batch_size / N images), and the ranks end with equal weights and BatchNorm running
    statistics (DDP copies rank 0's to every rank at each forward). resnet20, one epoch."""
    args = ["train", "resnet20", "--data-dir", str(fake_cifar), "--recipe", "fast"]
    args += ["--epochs", "1", "--batch-size", "50", "--val-size", "100", "--limit", "300"]
    args += ["--deterministic", "--no-progress", "--no-tensorboard", "--no-test"]
    logs = _one_and_two(PER_RANK, args, tmp_path)
    one, ddp = (read_metrics(tmp_path / n / "metrics.csv")[0] for n in logs)
    assert abs(float(one["train_loss"]) - float(ddp["train_loss"])) > 1e-3
    rank0, rank1 = (torch.load(tmp_path / "ddp" / f"{r}.pt") for r in (0, 1))
    assert rank0.keys() == rank1.keys() and any("running_var" in k for k in rank0)
    for k in rank0:
        assert torch.equal(rank0[k], rank1[k]), k
    # rank 0 alone narrates, and says the run is distributed
    assert logs["ddp"].count("(cifar10): 200 train, 100 validation") == 1
    assert "distributed: 2 processes on cpu, 50 images a step (25 each); BatchNorm " in logs["ddp"]
