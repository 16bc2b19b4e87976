"""What LRN does, and how the signal spreads, in alexnet_cifar at initialisation, on real
CIFAR-10 test images at two input scales: normalised (unit std, as moderncnn trains) and raw
pixels less the mean (0-255, as AlexNet's inputs were).

    .venv/bin/python benchmarks/lrn_scale.py --data-dir DIR/cifar10 [--width 0.25]

Images: every 39th file of the sorted ``test/`` tree, 256 of them; mean and std are the
CIFAR-10 training set's (0-255 scale). Seed 0 for the weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from moderncnn import create_model
from moderncnn.inspect.signal import activation_spread, lrn_scale

MEAN = torch.tensor([125.3, 123.0, 113.9]).view(1, 3, 1, 1)
STD = torch.tensor([63.0, 62.1, 66.7]).view(1, 3, 1, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True, help="a tree with test/<class>/")
    p.add_argument("--width", type=float, default=0.25)
    args = p.parse_args()
    files = sorted((args.data_dir / "test").glob("*/*"))[::39][:256]
    pixels = torch.stack(
        [torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1) for f in files]
    ).float()
    inputs = {"normalised": (pixels - MEAN) / STD, "0-255 less the mean": pixels - MEAN}
    for init in ("pytorch", "he"):
        torch.manual_seed(0)
        model = create_model("alexnet_cifar", width=args.width, init=init)
        for name, x in inputs.items():
            print(f"alexnet_cifar width {args.width}, init {init}, {len(files)} {name} images")
            for layer, q in lrn_scale(model, x).items():
                ratios = ", ".join(f"{k} {v:.4f}" for k, v in q.items())
                print(f"  {layer} output/input: {ratios}")
            spread = activation_spread(model, x).items()
            print("  spread: " + ", ".join(f"{k.split('.')[-1]} {v:.3g}" for k, v in spread))


if __name__ == "__main__":
    main()
