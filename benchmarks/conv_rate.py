"""fp32 rate of one oneDNN convolution against ``torch.mm``: why achieved FLOP/s in
docs/benchmarks.md can exceed the measured matmul rate on this CPU.

    .venv/bin/python benchmarks/conv_rate.py
"""

from __future__ import annotations

import time

import torch

from moderncnn.bench import matmul_peak_gflops


def conv_gflops(runs: int = 10) -> float:
    """A 3x3 conv, 64 -> 64 channels, batch 128 at 16x16, channels_last, fp32."""
    x = torch.randn(128, 64, 16, 16).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    flops = 2 * 128 * 64 * 64 * 9 * 16 * 16
    with torch.no_grad():
        conv(x)
        t = time.perf_counter()
        for _ in range(runs):
            conv(x)
    return flops * runs / (time.perf_counter() - t) / 1e9


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"torch.mm fp32 (2048x2048): {matmul_peak_gflops():.0f} GFLOP/s")
    print(f"3x3 conv fp32 (oneDNN):    {conv_gflops():.0f} GFLOP/s")
