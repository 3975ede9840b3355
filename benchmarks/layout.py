"""channels_last or the default layout (NCHW) on the CPU? The three sessions' models, batch 128.

    python benchmarks/layout.py                          # about 1 minute on 2 cores
    MNIST_COURSE_THREADS=1 python benchmarks/layout.py   # one thread, as sweep workers train

Prints (1) one BatchNorm2d layer's forward and backward time in each layout, at the shapes of
session 3's largest activations, (2) the median training step of each session's model in each
layout, interleaved step by step so that both layouts see the same machine state, and (3) session
3's evaluation speed in each layout. `fit` picks the layout from what this showed
(benchmarks/README.md).
"""

import common  # first: the repository root on sys.path, mnist_course before torch, the threads

# isort: split
import torch
from torch import nn

from mnist_course.runner import bench


def batchnorm_ms(channels: int, size: int, layout: torch.memory_format) -> tuple[float, float]:
    """Forward and backward milliseconds of one BatchNorm2d on (128, channels, size, size) in `layout`."""
    x = torch.randn(common.BATCH, channels, size, size).contiguous(memory_format=layout).requires_grad_()
    norm = nn.BatchNorm2d(channels)
    grad = torch.randn_like(norm(x))
    forward = common.median_ms(lambda: norm(x), repeats=30, warmup=5)
    both = common.median_ms(lambda: torch.autograd.grad(norm(x), x, grad), repeats=30, warmup=5)
    return forward, both - forward


def step_ms() -> dict:
    """Median training step (ms) of each session's model in each layout, interleaved step by step.
    The model's weights set the layout: a one-channel image batch has the same strides in both."""
    setups = {}
    for name in bench.MODELS:
        for layout in common.LAYOUTS:
            torch.manual_seed(0)
            setups[name, layout] = (common.session_model(name, layout=layout).train(), None)
    return common.median_step_ms(setups)


def eval_rates() -> dict[str, float]:
    """Evaluation images/s of session 3's model over the 10,000 test images in each layout (median,
    the layouts interleaved)."""
    _, test = common.loaders()
    setups = {layout: (common.session3_model(layout=layout), test) for layout in common.LAYOUTS}
    return bench.eval_rates(setups, common.CPU, repeats=5)


def main() -> None:
    common.header(None)
    print("one BatchNorm2d, forward / backward (ms)")
    for channels, size in ((10, 26), (14, 24), (16, 10)):
        cells = []
        for layout, memory_format in common.LAYOUTS.items():
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
