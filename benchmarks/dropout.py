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

import common  # first: the repository root on sys.path, mnist_course before torch, the threads

# isort: split
import torch
from torch import nn

from mnist_course.layers import FastDropout


def main() -> None:
    common.header()
    x = torch.ones(common.BATCH, 14, 24, 24)  # session 3's largest activation after its first pool
    fast, torch_dropout = FastDropout(0.05).train(), nn.Dropout(0.05)
    print(f"drop rate at p=0.05: FastDropout {(fast(x) == 0).float().mean():.4f}, "
          f"nn.Dropout {(torch_dropout(x) == 0).float().mean():.4f}")  # fmt: skip
    print(f"one mask on {tuple(x.shape)}: nn.Dropout {common.median_ms(lambda: torch_dropout(x), 20):.2f} ms, "
          f"FastDropout {common.median_ms(lambda: fast(x), 20):.2f} ms")  # fmt: skip

    setups = {}
    for kind in ("nn.Dropout", "FastDropout"):
        torch.manual_seed(0)
        setups[kind] = (common.session3_model(fast_dropout=kind == "FastDropout").train(), None)
    medians = common.median_step_ms(setups)
    for kind, ms in medians.items():
        print(f"  {kind:<13} median training step {ms:6.1f} ms")
    print(f"step speedup {medians['nn.Dropout'] / medians['FastDropout']:.2f}x")


if __name__ == "__main__":
    main()
