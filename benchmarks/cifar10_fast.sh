#!/usr/bin/env bash
# Real-data benchmark: resnet20 with its fast recipe on the shared CIFAR-10 JPEGs.
# Run from the repository root on a quiet machine:  bash benchmarks/cifar10_fast.sh
# Prints the wall time, the test accuracy (evaluated once, on the weights validation chose)
# and images/s; leaves the run in runs/bench-resnet20-fast with errors.png and confusion.png.
set -euo pipefail
DATA=${DATA:-$(mktemp -d)}
RUN=${RUN:-runs/bench-resnet20-fast}
CACHE=${CACHE:-$DATA/cache}
if [ ! -d "$DATA/cifar10" ]; then
  tar -xzf ../shared/data/cifar10-jpeg.tar.gz -C "$DATA"
fi
rm -rf "$RUN"
nproc; .venv/bin/python -c "import torch; print('torch', torch.__version__, 'threads', torch.get_num_threads())"
# first: decode once into the cache (timed separately from training)
/usr/bin/time -f "decode + cache: %e s" .venv/bin/python -c \
  "from moderncnn.data import load_splits; load_splits('$DATA/cifar10', cache_dir='$CACHE')"
/usr/bin/time -f "train wall time: %e s" .venv/bin/moderncnn train resnet20 --recipe fast \
  --data-dir "$DATA/cifar10" --cache-dir "$CACHE" --output "$RUN" --no-progress
.venv/bin/moderncnn eval resnet20 --weights "$RUN/best.safetensors" --data-dir "$DATA/cifar10" \
  --cache-dir "$CACHE" --confusion "$RUN/confusion.png"
.venv/bin/moderncnn eval resnet20 --weights "$RUN/best.safetensors" --data-dir "$DATA/cifar10" \
  --cache-dir "$CACHE" --ten-crop --json | head -6
.venv/bin/moderncnn plot "$RUN" -o "$RUN/errors.png"
cat "$RUN/results.json"
