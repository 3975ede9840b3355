"""Measure the course's data and training paths against the classic ones, in one run, on this machine.

    python benchmarks/loaders.py [--batches 100] [--repeats 3]

Prints milliseconds per batch of 128 (median of the repeats) and ratios against a baseline measured
in the same run:
1. data only: torchvision MNIST + transforms.Compose (PIL, per sample) + DataLoader, versus
   TensorLoader with per-sample augmentation on whole batches;
2. one training step (forward + backward + SGD) of each session's model, with NCHW input, with
   channels_last input (what the notebooks do), and with the model converted to channels_last too;
3. both together for session 3's model: a training batch fed by each loader.
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


def block(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.Dropout(0.05))


# The three notebooks' architectures, rebuilt here to time them (the notebooks are the lessons).
MODELS = {
    "01_fc_baseline": lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, 30), nn.ReLU(), nn.Linear(30, 10),
    ),
    "02_bn_dropout_gap": lambda: nn.Sequential(
        block(1, 10), block(10, 16), nn.MaxPool2d(2), block(16, 16), block(16, 16), block(16, 16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    ),
    "03_1x1_transitions": lambda: nn.Sequential(
        block(1, 10), block(10, 14), nn.MaxPool2d(2), nn.Conv2d(14, 10, 1, bias=False),
        block(10, 16), block(16, 16), block(16, 16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    ),
}  # fmt: skip


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


def trainer(make_model, input_layout: torch.memory_format, model_layout: torch.memory_format):
    torch.manual_seed(0)
    model = make_model().to(memory_format=model_layout)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        loss = nn.functional.cross_entropy(model(x.contiguous(memory_format=input_layout)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads = train.configure_threads()
    n, r = args.batches, args.repeats
    print(f"torch {torch.__version__}, CPU, {threads} threads, batch 128, {n} batches x {r} repeats (median)")

    classic, _ = data.classic_loaders(batch_size=128, augment=True)
    fast, _ = data.make_loaders(batch_size=128, augment=AUGMENT, seed=0)
    nchw, cl = torch.contiguous_format, torch.channels_last

    print("\n1. data only (ms/batch)")
    classic_ms = ms_per_batch(lambda: iter(classic), n, r)
    fast_ms = ms_per_batch(lambda: iter(fast), n, r)
    print(f"  classic DataLoader, PIL transforms      {classic_ms:8.2f}")
    print(f"  TensorLoader, batched per-sample affine  {fast_ms:8.2f}   {classic_ms / fast_ms:5.1f}x faster")

    print("\n2. training step (ms/batch; ratio = NCHW time / this time)")
    for name, make_model in MODELS.items():
        base = ms_per_batch(lambda: iter(fast), n, r, trainer(make_model, nchw, nchw))
        cl_input = ms_per_batch(lambda: iter(fast), n, r, trainer(make_model, cl, nchw))
        cl_both = ms_per_batch(lambda: iter(fast), n, r, trainer(make_model, cl, cl))
        print(
            f"  {name:<20} NCHW {base:6.1f}   channels_last input {cl_input:6.1f} ({base / cl_input:4.2f}x)"
            f"   + channels_last model {cl_both:6.1f} ({base / cl_both:4.2f}x)"
        )

    print("\n3. whole training batch, 03_1x1_transitions (ms/batch)")
    make_model = MODELS["03_1x1_transitions"]
    classic_total = ms_per_batch(lambda: iter(classic), n, r, trainer(make_model, nchw, nchw))
    fast_total = ms_per_batch(lambda: iter(fast), n, r, trainer(make_model, cl, nchw))
    print(f"  classic DataLoader + NCHW step           {classic_total:8.2f}")
    print(f"  TensorLoader + channels_last input step  {fast_total:8.2f}   {classic_total / fast_total:5.2f}x faster")


if __name__ == "__main__":
    main()
