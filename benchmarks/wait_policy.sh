#!/usr/bin/env bash
# How OpenMP's wait policy changes one training alone and two at once (issue "Under load").
# Each line: `python -m mnist_course bench --load` (N = 1 and 2 trainings of session 3's model,
# 12,000 images, each a fresh process) and the training rate of session 1's and 3's model alone.
# Usage: bash benchmarks/wait_policy.sh   (about 6 minutes on 2 cores; run on a quiet machine)
set -euo pipefail
cd "$(dirname "$0")/.."
rate() {  # images/s of one model alone, 150 batches x 2 repeats, through the training loop of fit()
    python - "$1" <<'PY'
import sys
import mnist_course  # noqa: F401  (before torch: applies the wait policy default)
import torch
from mnist_course import bench, data, train
train.configure_threads()
name = sys.argv[1]
size = bench.BATCH_SIZES.get(name, bench.BATCH)
loader, _ = data.make_loaders(size, augment=bench.AUGMENT, seed=0)
torch.manual_seed(0)
rate = bench.train_rate(bench.MODELS[name](), lambda: iter(loader), torch.device("cpu"), 150, 2, True)
print(f"{rate * size / bench.BATCH:.0f}")
PY
}
for setting in "OMP_WAIT_POLICY=ACTIVE" "OMP_WAIT_POLICY=PASSIVE" "GOMP_SPINCOUNT=30000" \
               "GOMP_SPINCOUNT=30000 MNIST_COURSE_THREADS=1"; do
    echo "== $setting"
    echo "  alone, images/s: session 1 $(env $setting bash -c "$(declare -f rate); rate 01_fc_baseline")," \
         "session 3 $(env $setting bash -c "$(declare -f rate); rate 03_1x1_transitions")"
    env $setting python -m mnist_course bench --load --images 12000 | sed 's/^/  /'
done
