"""Training-loop overhead: ``moderncnn.train`` against a bare forward + backward + step loop.

Both run in this process on the same device, memory format, batch size and fused SGD; the
bare loop reads ready-made normalised float batches from memory, ``train`` does everything it
does in a real run (on-device crop/flip/normalise, metrics on device, progress bar, one
checkpoint per epoch). Target: ``train`` reaches at least 95% of the bare loop's images/s.

    .venv/bin/python benchmarks/train_overhead.py                # resnet20, batch 128, CPU
    .venv/bin/python benchmarks/train_overhead.py --device cuda --amp bf16
    .venv/bin/python benchmarks/train_overhead.py --device cuda --amp bf16 --cuda-graphs

With ``--cuda-graphs`` both sides capture the whole step in one CUDA graph: the bare loop
with ``torch.cuda.graph`` directly (PyTorch's whole-network capture example), ``train`` with
its ``--cuda-graphs`` option.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_fake_cifar  # noqa: E402
from moderncnn import create_model  # noqa: E402
from moderncnn.precision import AMP_CHOICES, resolve_amp  # noqa: E402
from moderncnn.train import resolve_config, train  # noqa: E402
from moderncnn.train.evaluate import autocast  # noqa: E402
from moderncnn.train.metrics import read_metrics  # noqa: E402


def bare_loop(args: argparse.Namespace, device: torch.device, steps: int) -> float:
    """Images/s of forward + backward + fused SGD step over in-memory batches."""
    torch.manual_seed(0)
    model = create_model(args.model).to(device, memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4, fused=True)
    batches = [
        torch.randn(args.batch_size, 3, 32, 32, device=device).contiguous(
            memory_format=torch.channels_last
        )
        for _ in range(8)
    ]
    y = torch.randint(0, 10, (args.batch_size,), device=device)

    def step(x: torch.Tensor) -> None:
        with autocast(device, args.amp, cache=not args.cuda_graphs):
            out = model(x)
        F.cross_entropy(out.float(), y).backward()
        opt.step()

    graph, static = None, batches[0].clone()

    def run(n: int) -> None:
        for i in range(n):
            if graph is None:
                step(batches[i % len(batches)])
                opt.zero_grad(set_to_none=True)
            else:
                static.copy_(batches[i % len(batches)])
                graph.replay()

    run(5)  # warm-up (on a GPU, also before the capture)
    if args.cuda_graphs:
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize()
        with torch.cuda.graph(graph):
            step(static)
        run(5)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    run(steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * args.batch_size / (time.perf_counter() - start)


def moderncnn_train(args: argparse.Namespace, device: torch.device, tmp: Path) -> float:
    """Best epoch's images/s of ``moderncnn.train`` on in-memory CIFAR-format data."""
    data = write_fake_cifar(tmp / "data", n_train=args.images, n_test=10)
    cfg = resolve_config(
        args.model,
        "fast",
        data_dir=str(data),
        output=str(tmp / "run"),
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_size=0,
        test=False,
        tensorboard=False,
        amp=args.amp,
        device=str(device),
        cuda_graphs=args.cuda_graphs,
    )
    train(cfg)
    return max(float(r["images_per_s"]) for r in read_metrics(tmp / "run" / "metrics.csv")[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet20")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--images", type=int, default=128 * 40, help="training images per epoch")
    p.add_argument("--epochs", type=int, default=3, help="the first is warm-up")
    p.add_argument("--amp", default="auto", choices=AMP_CHOICES)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--cuda-graphs", action="store_true", help="both sides as one CUDA graph")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = torch.device(args.device)
    args.amp = resolve_amp(args.amp, device)  # both sides compute in the same precision
    with tempfile.TemporaryDirectory() as tmp:
        ours = moderncnn_train(args, device, Path(tmp))
    bare = bare_loop(args, device, steps=args.images // args.batch_size)
    graphs = ", whole-step CUDA graphs" if args.cuda_graphs else ""
    print(f"\n{args.model}, batch {args.batch_size}, {device}, amp {args.amp}{graphs}")
    print(f"bare loop:        {bare:8.0f} images/s")
    print(f"moderncnn train:  {ours:8.0f} images/s")
    print(f"ratio:            {100 * ours / bare:8.1f} %  (target >= 95%)")


if __name__ == "__main__":
    main()
