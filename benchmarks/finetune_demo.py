"""Transfer learning on the shared CIFAR-10, without downloads (issue 9's demonstration).

Pretrain resnet20 on five classes (airplane, automobile, bird, cat, deer: 25,000 images),
then train on the other five with 500 images per class (2,500 images) three ways, each for
the same 15 epochs: fine-tuned from the pretrained weights (the finetune recipe), from
scratch with the same recipe, and from scratch with the CIFAR fast recipe (one-cycle lr 0.2).
Each is tested once on the five classes' 5,000 test images.

    .venv/bin/python benchmarks/finetune_demo.py [--work /tmp/finetune-demo] [--epochs 15]

The two folders are symlink trees into the unpacked archive (nothing is copied).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
FIRST = ["airplane", "automobile", "bird", "cat", "deer"]
SECOND = ["dog", "frog", "horse", "ship", "truck"]
MODERNCNN = [str(Path(sys.executable).parent / "moderncnn")]


def link_tree(src: Path, dst: Path, classes: list[str], per_class: int | None) -> None:
    for split in ("train", "test"):
        for c in classes:
            files = sorted((src / split / c).iterdir())
            if split == "train" and per_class:
                files = files[:per_class]
            (dst / split / c).mkdir(parents=True, exist_ok=True)
            for f in files:
                link = dst / split / c / f.name
                if not link.exists():
                    link.symlink_to(f)


def train(out: Path, *args: str) -> dict:
    if not (out / "results.json").is_file():
        cmd = [*MODERNCNN, "train", "resnet20", "--output", str(out), "--no-progress", *args]
        cmd += ["--overwrite"]  # an interrupted run (no results.json) starts over
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return json.loads((out / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/finetune-demo"))
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    root = args.work / "cifar10"
    if not root.is_dir():
        with tarfile.open(ARCHIVE) as tar:
            tar.extractall(args.work, filter="data")
    first, second = args.work / "first5", args.work / "second5-500"
    link_tree(root, first, FIRST, None)
    link_tree(root, second, SECOND, 500)
    runs = args.work / "runs"
    pre = train(runs / "pretrain", "--recipe", "fast", "--data-dir", str(first))
    weights = runs / "pretrain" / "best.safetensors"
    epochs = ["--epochs", str(args.epochs), "--data-dir", str(second)]
    results = {
        "fine-tuned from the pretrained weights (finetune recipe)": train(
            runs / "finetune", "--weights", str(weights), *epochs
        ),
        "from scratch, same recipe": train(
            runs / "scratch", "--recipe", "finetune", "--preprocess", "data", *epochs
        ),
        "from scratch, CIFAR fast recipe (one-cycle, lr 0.2)": train(
            runs / "scratch-fast", "--recipe", "fast", "--val-size", "0", *epochs
        ),
    }
    print(f"\npretrained on {', '.join(FIRST)}: test error {pre['test']['top1_err']:.2f}%")
    print(f"second five classes, 500 training images each, {args.epochs} epochs:")
    for name, r in results.items():
        print(f"  {r['test']['top1_err']:6.2f}% test error  {name} ({r['wall_time_s']:.0f} s)")


if __name__ == "__main__":
    main()
