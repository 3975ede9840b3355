"""Measure the course's data and training paths against the classic ones, in one run, on this machine.

    python benchmarks/loaders.py [--batches 100] [--repeats 3]

Prints milliseconds per batch (median of the repeats) and the speed-up ratios:
1. data only: torchvision MNIST + transforms.Compose (PIL, per sample) + DataLoader, versus
   TensorLoader with per-sample augmentation on whole batches;
2. one training step (forward + backward + SGD) of session 3's model, NCHW versus channels_last;
3. both together: a training batch fed by each loader.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_course import data, train  # noqa: E402

AUGMENT = data.Augment(degrees=12, translate=0.08, scale=(0.92, 1.08))


def session3_model() -> nn.Module:
    """The architecture of notebooks/03_1x1_transitions (7,852 parameters), rebuilt here to time it."""

    def block(c_in, c_out):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.Dropout(0.05))

    return nn.Sequential(
        block(1, 10), block(10, 14), nn.MaxPool2d(2), nn.Conv2d(14, 10, 1, bias=False),
        block(10, 16), block(16, 16), block(16, 16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )  # fmt: skip


def ms_per_batch(make_iter, batches: int, repeats: int, step=None) -> float:
    """Median over `repeats` of the time per batch, pulling `batches` batches (after 5 warm-up ones)."""
    times = []
    for _ in range(repeats):
        it = make_iter()
        for x, y in islice(it, 5):
            if step:
                step(x, y)
        start = time.perf_counter()
        for x, y in islice(it, batches):
            if step:
                step(x, y)
        times.append((time.perf_counter() - start) / batches * 1000)
    return statistics.median(times)


def trainer(channels_last: bool):
    torch.manual_seed(0)
    model = session3_model()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    threads = train.configure_threads()
    print(f"torch {torch.__version__}, CPU, {threads} threads, batch {args.batch_size}, "
          f"{args.batches} batches x {args.repeats} repeats (median)")

    classic, _ = data.classic_loaders(batch_size=args.batch_size, augment=True)
    fast, _ = data.make_loaders(batch_size=args.batch_size, augment=AUGMENT, seed=0)
    fast_nchw, _ = data.make_loaders(batch_size=args.batch_size, augment=AUGMENT, seed=0)
    fast_nchw.channels_last = False
    n, r = args.batches, args.repeats
    rows = {}
    rows["data: classic DataLoader (PIL transforms)"] = ms_per_batch(lambda: iter(classic), n, r)
    rows["data: TensorLoader (batched per-sample affine)"] = ms_per_batch(lambda: iter(fast), n, r)
    rows["train step: NCHW"] = ms_per_batch(lambda: iter(fast_nchw), n, r, trainer(False))
    rows["train step: channels_last"] = ms_per_batch(lambda: iter(fast), n, r, trainer(True))
    rows["epoch path: classic loader + NCHW step"] = ms_per_batch(lambda: iter(classic), n, r, trainer(False))
    rows["epoch path: TensorLoader + channels_last step"] = ms_per_batch(lambda: iter(fast), n, r, trainer(True))

    for name, ms in rows.items():
        print(f"{name:<48} {ms:8.2f} ms/batch")
    keys = list(rows)
    print(f"speed-up, data only:            {rows[keys[0]] / rows[keys[1]]:6.1f}x")
    print(f"speed-up, channels_last step:   {rows[keys[2]] / rows[keys[3]]:6.2f}x")
    print(f"speed-up, whole training batch: {rows[keys[4]] / rows[keys[5]]:6.2f}x")


if __name__ == "__main__":
    main()
