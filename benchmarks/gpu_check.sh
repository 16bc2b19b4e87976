#!/usr/bin/env bash
# Issue 11's device check, as one script for a lent GPU machine (the device tool): every step
# has a time limit and its output is teed into $OUT/gpu_check.log. Test it on the CPU first
# (GPU=0 runs the CPU-feasible steps at a tiny size), then on the device:
#
#   mkdir -p data-gpu && cp ../shared/data/cifar10-jpeg.tar.gz data-gpu/   # git-ignored
#   run(command="bash benchmarks/gpu_check.sh", carry=["data-gpu"], timeout_s=590)
#
# The device has torch preinstalled and no network: PYTHONPATH=src, no pip.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
PY=${PY:-python3}
export PYTHONPATH=src
GPU=${GPU:-1}
DEV=$([ "$GPU" = 1 ] && echo cuda || echo cpu)
DATA=$(mktemp -d)
step() {  # step SECONDS NAME COMMAND...
  local limit=$1 name=$2; shift 2
  echo "== $name (limit ${limit}s)" | tee -a "$LOG"
  local t0=$(date +%s)
  timeout "$limit" "$@" 2>&1 | tail -n 40 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "-- $name: exit $rc, $(( $(date +%s) - t0 )) s" | tee -a "$LOG"
}
{ nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no GPU"; \
  $PY -c "import torch; print('torch', torch.__version__)"; } | tee -a "$LOG"
if [ -f data-gpu/cifar10-jpeg.tar.gz ]; then tar -xzf data-gpu/cifar10-jpeg.tar.gz -C "$DATA"; fi
C10="$DATA/cifar10"
SMALL=$([ "$GPU" = 1 ] && echo "" || echo "--limit 1000 --epochs 1 --val-size 200")

step 120 "CUDA tests" $PY -m pytest tests/test_cuda.py -q -rs
for m in "resnet20 128" "resnet56 128" "densenet_bc100_k12 64"; do
  set -- $m
  step 60 "overhead $1 b$2 eager" $PY benchmarks/train_overhead.py --model $1 --batch-size $2 \
    --device $DEV --amp bf16 --images $(( $2 * 40 ))
  [ "$GPU" = 1 ] && step 60 "overhead $1 b$2 graphs" $PY benchmarks/train_overhead.py --model $1 \
    --batch-size $2 --device $DEV --amp bf16 --images $(( $2 * 40 )) --cuda-graphs
done
if [ -d "$C10" ]; then
  step 90 "decode + cache" $PY -c "from moderncnn.data import load_splits; load_splits('$C10', cache_dir='$DATA/cache')"
  GRAPHS=$([ "$GPU" = 1 ] && echo --cuda-graphs || echo "")
  step 240 "resnet20 paper recipe" $PY -m moderncnn train resnet20 --data-dir "$C10" \
    --cache-dir "$DATA/cache" --amp bf16 $GRAPHS --no-progress --no-tensorboard \
    --output "$OUT/resnet20-paper" $SMALL
  step 120 "speedrun vgg11_cifar width 0.5" $PY -m moderncnn train vgg11_cifar --recipe speedrun \
    --model-kwargs width=0.5 --data-dir "$C10" --cache-dir "$DATA/cache" $GRAPHS --no-progress \
    --output "$OUT/speedrun" $SMALL
fi
for ref in torchvision torchvision-best; do
  step 90 "bench resnet50 b1 vs $ref" $PY -m moderncnn bench resnet50 --batch 1 --device $DEV \
    --against $ref --runs 5
done
echo "done" | tee -a "$LOG"
