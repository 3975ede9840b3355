"""channels_last or the default layout (NCHW) on the CPU? The three sessions' models, batch 128.

    python benchmarks/layout.py                          # about 1 minute on 2 cores
    MNIST_COURSE_THREADS=1 python benchmarks/layout.py   # one thread, as sweep workers train

Prints (1) one BatchNorm2d layer's forward and backward time in each layout, at the shapes of
session 3's largest activations, (2) the median training step of each session's model in each
layout, interleaved step by step so that both layouts see the same machine state, and (3) session
3's evaluation speed in each layout. `fit` picks the layout from what this showed
(benchmarks/README.md).
"""

import statistics
import time

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from dropout import median_step_ms  # benchmarks/dropout.py, next to this file
from torch import nn

from mnist_course import bench, data, train

LAYOUTS = {"channels_last": torch.channels_last, "NCHW": torch.contiguous_format}


def median_ms(fn, repeats: int = 30, warmup: int = 5) -> float:
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def batchnorm_ms(channels: int, size: int, layout: torch.memory_format) -> tuple[float, float]:
    """Forward and backward milliseconds of one BatchNorm2d on (128, channels, size, size) in `layout`."""
    x = torch.randn(bench.BATCH, channels, size, size).contiguous(memory_format=layout).requires_grad_()
    norm = nn.BatchNorm2d(channels)
    grad = torch.randn_like(norm(x))
    forward = median_ms(lambda: norm(x))
    both = median_ms(lambda: torch.autograd.grad(norm(x), x, grad))
    return forward, both - forward


def step_ms() -> dict:
    """Median training step (ms) of each session's model in each layout, interleaved step by step.
    The model's weights set the layout: a one-channel image batch has the same strides in both."""
    setups = {}
    for name, make in bench.MODELS.items():
        for layout, memory_format in LAYOUTS.items():
            torch.manual_seed(0)
            setups[name, layout] = (make().to(memory_format=memory_format).train(), None)
    return median_step_ms(setups)


def eval_rates() -> dict[str, float]:
    """Evaluation images/s of session 3's model over the 10,000 test images in each layout (median,
    the layouts interleaved)."""
    _, test = data.make_loaders(bench.BATCH, seed=0)
    setups = {
        layout: (bench.MODELS["03_1x1_transitions"]().to(memory_format=fmt), test) for layout, fmt in LAYOUTS.items()
    }
    return bench.eval_rates(setups, torch.device("cpu"), repeats=5)


def main() -> None:
    threads = train.configure_threads()
    print(f"torch {torch.__version__}, CPU, {threads} thread{'s' * (threads > 1)}, batch {bench.BATCH}")
    print("one BatchNorm2d, forward / backward (ms)")
    for channels, size in ((10, 26), (14, 24), (16, 10)):
        cells = []
        for layout, memory_format in LAYOUTS.items():
            forward, backward = batchnorm_ms(channels, size, memory_format)
            cells.append(f"{layout} {forward:.2f} / {backward:.2f}")
        print(f"  {channels:>2} x {size}x{size}:  " + "   ".join(cells))
    print("median training step (ms), the layouts interleaved")
    steps = step_ms()
    for name in bench.MODELS:
        last, nchw = steps[name, "channels_last"], steps[name, "NCHW"]
        print(f"  {name:<20} channels_last {last:5.1f}   NCHW {nchw:5.1f}   NCHW speedup {last / nchw:.2f}x")
    rates = eval_rates()
    print(
        f"evaluation, session 3's model, images/s: channels_last {rates['channels_last']:.0f}   "
        f"NCHW {rates['NCHW']:.0f}   NCHW speedup {rates['NCHW'] / rates['channels_last']:.2f}x"
    )


if __name__ == "__main__":
    main()
