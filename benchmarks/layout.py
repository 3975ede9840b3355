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


def step_ms(batch_count: int = 40, warmup: int = 5) -> dict:
    """Median training step (ms) of each session's model in each layout, interleaved step by step."""
    loader, _ = data.make_loaders(bench.BATCH, augment=bench.AUGMENT, seed=0)
    batches = [b for _, b in zip(range(batch_count), loader, strict=False)]
    setups = {}
    for name, make in bench.MODELS.items():
        for layout, memory_format in LAYOUTS.items():
            torch.manual_seed(0)
            model = make().to(memory_format=memory_format).train()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            setups[name, layout] = (model, memory_format, optimizer, [])
    for i, (images, labels) in enumerate(batches):
        for model, memory_format, optimizer, times in setups.values():
            images = images.contiguous(memory_format=memory_format)  # the input's layout decides the convolutions'
            start = time.perf_counter()
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return {key: statistics.median(times) * 1000 for key, (*_, times) in setups.items()}


def eval_rates(repeats: int = 5) -> dict[str, float]:
    """Evaluation images/s of session 3's model over the 10,000 test images in each layout (median,
    the layouts interleaved)."""
    _, test = data.make_loaders(bench.BATCH, seed=0)
    setups = {layout: bench.MODELS["03_1x1_transitions"]().to(memory_format=fmt) for layout, fmt in LAYOUTS.items()}
    rates: dict[str, list[float]] = {layout: [] for layout in setups}
    for repeat in range(repeats + 1):  # the first round warms up
        for layout, model in setups.items():
            start = time.perf_counter()
            train.evaluate(model, test, "cpu")
            if repeat:
                rates[layout].append(test.dataset_size / (time.perf_counter() - start))
    return {layout: statistics.median(r) for layout, r in rates.items()}


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
