"""Peak training memory of DenseNet with and without ``memory_efficient`` (issue 5).

Each configuration runs in a fresh process: build the model, then one training step (forward,
backward, SGD step) at the given batch. On the CPU the figure is the growth of the process's
peak resident memory (``ru_maxrss``) over its size just before the step; on CUDA it is
``torch.cuda.max_memory_allocated``.

    python benchmarks/densenet_memory.py                       # densenet_bc100_k12 and densenet121
    python benchmarks/densenet_memory.py --batch 64 --device cuda
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys

from moderncnn.io import to_json

CASES = {"densenet_bc100_k12": 32, "densenet121": 224}  # model -> input size


def one_step(model_name: str, size: int, batch: int, efficient: bool, device: str) -> float:
    """MiB that one training step adds to the peak memory."""
    import torch
    import torch.nn.functional as F

    from moderncnn import create_model

    torch.manual_seed(0)
    model = create_model(model_name, memory_efficient=efficient).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, model.num_classes, (batch,), device=device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _rss_now_kib() * 1024
    F.cross_entropy(model(x), y).backward()
    opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return (peak - before) / 2**20


def _rss_now_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="*", default=list(CASES))
    p.add_argument(
        "--child", nargs=3, metavar=("MODEL", "SIZE", "EFFICIENT"), help=argparse.SUPPRESS
    )
    args = p.parse_args()
    if args.child:
        name, size, eff = args.child
        print(one_step(name, int(size), args.batch, eff == "1", args.device))
        return
    rows = []
    for name in args.models:
        mib = {}
        for eff in (False, True):
            cmd = [
                sys.executable,
                __file__,
                "--batch",
                str(args.batch),
                "--device",
                args.device,
                "--child",
                name,
                str(CASES[name]),
                str(int(eff)),
            ]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            mib[eff] = float(out.strip().splitlines()[-1])
        saving = 100 * (1 - mib[True] / mib[False])
        rows.append(
            {
                "model": name,
                "input": CASES[name],
                "batch": args.batch,
                "device": args.device,
                "plain_mib": round(mib[False]),
                "memory_efficient_mib": round(mib[True]),
                "saving_pct": round(saving, 1),
            }
        )
        print(to_json(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
