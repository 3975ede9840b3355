"""What the benchmark scripts share: the models, the batches, the timers and the header line.

Every script in benchmarks/ imports this module first (`import common`, found next to the script)
and no other script. Importing it

- puts the repository root first on `sys.path`, so `python benchmarks/<name>.py` run from a
  checkout times that checkout's `mnist_course` even where it is not installed;
- imports `mnist_course` before torch (it sets how idle OpenMP threads wait, which OpenMP reads
  once, when torch loads it);
- sets the threads as `fit` does (`mnist_course.cpu.configure_threads`, which reads
  `MNIST_COURSE_THREADS`), before any model is built: the layout `fit` picks depends on them.
"""

import statistics
import sys
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from torch import nn

from mnist_course import cpu, data, train
from mnist_course.runner import bench

BATCH = bench.BATCH
CPU = torch.device("cpu")
SESSION3 = "03_1x1_transitions"
# The two memory layouts the scripts compare, by the names they print.
LAYOUTS = {"channels_last": torch.channels_last, "NCHW": torch.contiguous_format}
THREADS = cpu.configure_threads()


def header(subject: str | None = "session 3's model") -> None:
    """Print the line every script starts with: torch's version, the threads, what is timed, the batch."""
    what = f"{subject}, " if subject else ""
    print(f"torch {torch.__version__}, CPU, {THREADS} thread{'s' * (THREADS != 1)}, {what}batch {BATCH}")


# The models


def session_model(name: str, fast_dropout: bool = False, layout: str = "fit") -> nn.Module:
    """The lesson's model `name` (a key of `bench.MODELS`: built from its notebook's cells tagged
    `model`), with `FastDropout` for every `nn.Dropout` if `fast_dropout` (session 2's
    `DROPOUT_KIND=fast`), in `layout`: "fit" (the layout `fit` trains it in on the CPU) or a key of
    `LAYOUTS`."""
    make = bench.MODELS[name]
    model = (bench.with_fast_dropout(make) if fast_dropout else make)()
    if layout == "fit":
        return cpu.to_training_layout(model, CPU)
    return model.to(memory_format=LAYOUTS[layout])


def session3_model(fast_dropout: bool = False, layout: str = "fit") -> nn.Module:
    """Session 3's model (see `session_model`), the one most scripts time."""
    return session_model(SESSION3, fast_dropout, layout)


def layout_of(model: nn.Module) -> str:
    """The layout ("channels_last" or "NCHW") of `model`'s first convolution with more than one input
    channel and a kernel larger than 1x1 (the others have the same strides in both)."""
    convolutions = (m for m in model.modules() if isinstance(m, nn.Conv2d))
    weight = next(m.weight for m in convolutions if m.in_channels > 1 and m.weight[0, 0].numel() > 1)
    return "channels_last" if weight.stride()[1] == 1 else "NCHW"


def sgd(params, **options) -> torch.optim.SGD:
    """SGD with the course's learning rate and momentum; `options` adds e.g. nesterov=True, weight_decay=1e-4."""
    return torch.optim.SGD(params, lr=0.01, momentum=0.9, **options)


def training_step(model: nn.Module, amp_dtype: torch.dtype | None = None, **sgd_options):
    """A function (images, labels) -> None taking one training step of `model` as `fit` does
    (`train.Step`: the forward pass and the loss under autocast to `amp_dtype` where given, the
    backward pass, the optimizer step), with `sgd(model.parameters(), **sgd_options)`."""
    step = train.Step(model, sgd(model.parameters(), **sgd_options), CPU, amp_dtype=amp_dtype)

    def take(images: torch.Tensor, labels: torch.Tensor) -> None:
        loss, _ = step.forward(images, labels)
        step.update(loss)

    return take


# The batches


def loaders() -> tuple[data.TensorLoader, data.TensorLoader]:
    """The course's training loader (batch 128, the notebooks' augmentation, seed 0) and test loader."""
    return data.make_loaders(BATCH, augment=bench.AUGMENT, seed=0)


def training_batches(count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first `count` augmented training batches of `loaders()`, as the benchmarks train on them."""
    loader, _ = loaders()
    return list(islice(loader, count))


# The timers


def median_ms(fn, repeats: int, warmup: int = 0) -> float:
    """Median milliseconds of `fn()` over `repeats` calls, after `warmup` calls that are not counted."""
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def median_step_ms(setups: dict, batch_count: int = 40, warmup: int = 5) -> dict:
    """Median milliseconds of one training step of each setup (name -> (model, autocast dtype or None)),
    on the same `batch_count` augmented batches, the setups interleaved batch by batch so that all
    see the same machine state; the first `warmup` steps are not counted. The steps are `fit`'s
    (`training_step`), with SGD (momentum 0.9)."""
    batches = training_batches(batch_count)
    steps = {name: (training_step(model, dtype), []) for name, (model, dtype) in setups.items()}
    for i, (images, labels) in enumerate(batches):
        for step, times in steps.values():
            start = time.perf_counter()
            step(images, labels)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return {name: statistics.median(times) * 1000 for name, (_, times) in steps.items()}
