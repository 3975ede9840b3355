"""Does torch.compile pay for itself on the course's CPU path? Session 3's model, batch 128.

    python benchmarks/compile.py      # about 2 minutes on 2 cores (most of it compiling)

Prints the compile time (first three steps) and the median training-step time, eager and compiled,
through the same loop `fit` uses. The course does not compile because of what this showed (see
benchmarks/README.md); on a GPU the answer may differ.
"""

import time

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from torch import nn

from mnist_course import bench, data, train


def main() -> None:
    threads = train.configure_threads()
    loader, _ = data.make_loaders(bench.BATCH, augment=bench.AUGMENT, seed=0)
    batches = [b for _, b in zip(range(63), loader, strict=False)]
    print(f"torch {torch.__version__}, CPU, {threads} threads, session 3's model, batch {bench.BATCH}")
    for compiled in (False, True):
        torch.manual_seed(0)
        model = train.to_training_layout(bench.MODELS["03_1x1_transitions"](), torch.device("cpu"))
        forward = torch.compile(model) if compiled else model
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        model.train()

        def step(x, y, forward=forward, optimizer=optimizer):
            loss = nn.functional.cross_entropy(forward(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        start = time.perf_counter()
        for x, y in batches[:3]:
            step(x, y)
        warm = time.perf_counter() - start
        times = []
        for x, y in batches[3:]:
            start = time.perf_counter()
            step(x, y)
            times.append(time.perf_counter() - start)
        times.sort()
        print(
            f"  {'compiled' if compiled else 'eager   '}  first 3 steps {warm:6.1f} s   "
            f"median step {times[len(times) // 2] * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
