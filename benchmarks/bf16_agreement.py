"""bf16 fast path against fp32 eager on the 100 ImageNet sample photos (seeded weights).

    .venv/bin/python benchmarks/bf16_agreement.py [MODEL ...]

Prints, per model, the smallest cosine similarity of the logits, the top-1 agreement and how
many distinct classes the fp32 model predicts (a random network's margins are small, and a
network that predicts one class for every photo makes agreement meaningless).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from moderncnn import create_model  # noqa: E402
from moderncnn.fast import prepare_for_inference  # noqa: E402
from test_fast import _imagenet_sample  # noqa: E402


def main(names: list[str]) -> None:
    x = _imagenet_sample()
    for name in names:
        torch.manual_seed(0)
        model = create_model(name).eval()
        fast = prepare_for_inference(model, dtype=torch.bfloat16)
        with torch.no_grad():
            ref, out = model(x), fast(x)
        cosine = torch.nn.functional.cosine_similarity(ref, out, dim=1).min().item()
        agree = (ref.argmax(1) == out.argmax(1)).float().mean().item()
        print(
            f"{name}: min cosine {cosine:.6f}, top-1 agreement {agree:.0%}, "
            f"distinct fp32 top-1 classes {ref.argmax(1).unique().numel()}"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["resnet50", "densenet121", "googlenet", "vgg16"])
