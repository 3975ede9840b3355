"""Does torch.compile pay for itself on the course's CPU path? Session 3's model, batch 128.

    python benchmarks/compile.py      # about 2 minutes on 2 cores (most of it compiling)

Prints the compile time (first three steps) and the median training-step time, eager and compiled,
through the same loop `fit` uses. The course does not compile because of what this showed (see
benchmarks/README.md); on a GPU the answer may differ.
"""

import time

import common  # first: the repository root on sys.path, mnist_course before torch, the threads

# isort: split
import torch


def main() -> None:
    batches = common.training_batches(63)
    common.header()
    for compiled in (False, True):
        torch.manual_seed(0)
        model = common.session3_model().train()
        step = common.training_step(torch.compile(model) if compiled else model, nesterov=True)
        start = time.perf_counter()
        for x, y in batches[:3]:
            step(x, y)
        warm = time.perf_counter() - start
        rest = iter(batches[3:])
        median = common.median_ms(lambda step=step, rest=rest: step(*next(rest)), repeats=len(batches) - 3)
        print(f"  {'compiled' if compiled else 'eager   '}  first 3 steps {warm:6.1f} s   median step {median:6.1f} ms")


if __name__ == "__main__":
    main()
