"""Could Dropout's random masks be cheaper on the CPU? Session 3's model, batch 128.

    python benchmarks/dropout.py      # about 1 minute on 2 cores

`nn.Dropout` draws one random float per activation (`bernoulli_`), which the profiler showed to be
a sixth to a third of session 3's training step on the CPU (benchmarks/README.md). A mask needs far
fewer random bits: 16 per activation give the rate to 1/65,536. The helper's `FastDropout`
(mnist_course/layers.py) draws them as int64 words viewed as int16 and compares with a threshold.
This prints the measured drop rate, the time of one mask, and the median training step of the whole
model with each Dropout (in the layout `fit` picks), interleaved A/B so that both see the same
machine. The notebooks keep `nn.Dropout`, an opt-in decision explained in benchmarks/README.md;
session 2 measures `FastDropout`'s accuracy as its variant `DROPOUT_KIND=fast`.
"""

import contextlib
import statistics
import time

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from torch import nn

from mnist_course import bench, data, train
from mnist_course.layers import FastDropout


def session3_model(fast: bool) -> nn.Module:
    """Session 3's model with `nn.Dropout` or `FastDropout`, in the layout `fit` trains it in."""
    make = bench.MODELS["03_1x1_transitions"]
    return train.to_training_layout((bench.with_fast_dropout(make) if fast else make)(), torch.device("cpu"))


def mask_ms(module: nn.Module, x: torch.Tensor, repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        module(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def median_step_ms(setups: dict, batch_count: int = 40, warmup: int = 5) -> dict:
    """Median milliseconds of one training step of each setup (name -> (model, autocast dtype or None)),
    on the same `batch_count` augmented batches, the setups interleaved batch by batch so that all
    see the same machine state; the first `warmup` steps are not counted."""
    loader, _ = data.make_loaders(bench.BATCH, augment=bench.AUGMENT, seed=0)
    batches = [b for _, b in zip(range(batch_count), loader, strict=False)]
    steps = {
        name: (model, dtype, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), [])
        for name, (model, dtype) in setups.items()
    }
    for i, (images, labels) in enumerate(batches):
        for model, dtype, optimizer, times in steps.values():
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext():  # as fit does
                loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return {name: statistics.median(times) * 1000 for name, (_, _, _, times) in steps.items()}


def main() -> None:
    threads = train.configure_threads()
    print(f"torch {torch.__version__}, CPU, {threads} threads, session 3's model, batch {bench.BATCH}")
    x = torch.ones(bench.BATCH, 14, 24, 24)  # session 3's largest activation after its first pool
    fast = FastDropout(0.05).train()
    print(f"drop rate at p=0.05: FastDropout {(fast(x) == 0).float().mean():.4f}, "
          f"nn.Dropout {(nn.Dropout(0.05)(x) == 0).float().mean():.4f}")  # fmt: skip
    print(f"one mask on {tuple(x.shape)}: nn.Dropout {mask_ms(nn.Dropout(0.05), x):.2f} ms, "
          f"FastDropout {mask_ms(fast, x):.2f} ms")  # fmt: skip

    setups = {}
    for kind in ("nn.Dropout", "FastDropout"):
        torch.manual_seed(0)
        setups[kind] = (session3_model(kind == "FastDropout").train(), None)
    medians = median_step_ms(setups)
    for kind, ms in medians.items():
        print(f"  {kind:<13} median training step {ms:6.1f} ms")
    print(f"step speedup {medians['nn.Dropout'] / medians['FastDropout']:.2f}x")


if __name__ == "__main__":
    main()
