"""Could Dropout's random masks be cheaper on the CPU? Session 3's model, batch 128.

    python benchmarks/dropout.py      # about 1 minute on 2 cores

`nn.Dropout` draws one random float per activation (`bernoulli_`), which the profiler showed to be
about a sixth of session 3's training step on the CPU (benchmarks/README.md). A mask needs far fewer
random bits: 16 per activation give the rate to 1/65,536. `CheapDropout` below draws them as int64
words viewed as int16 and compares with a threshold. It prints the measured drop rate, the time of
one mask, and the median training step of the whole model with each Dropout, interleaved A/B so
that both see the same machine. The course does not use it (see benchmarks/README.md: it would
change every seeded run of sessions 2 and 3).
"""

import statistics
import time

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from torch import nn

from mnist_course import bench, data, train


class CheapDropout(nn.Module):
    """Inverted dropout whose mask costs 16 random bits per element instead of a float draw."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.threshold = round(p * 65536) - 32768  # int16 values below it are dropped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        words = -(-x.numel() // 4)
        # random_(-2**63, None) fills all 64 bits; plain random_() leaves the top bit 0 (wrong rate)
        bits = torch.empty(words, dtype=torch.int64, device=x.device).random_(-(2**63), None)
        keep = bits.view(torch.int16)[: x.numel()].view(x.shape) >= self.threshold
        return x * keep / (1 - self.p)


def session3_model(cheap: bool) -> nn.Module:
    model = bench.MODELS["03_1x1_transitions"]()
    if cheap:
        for name, module in list(model.named_modules()):
            if isinstance(module, nn.Dropout):
                parent = model.get_submodule(name.rpartition(".")[0])
                setattr(parent, name.rpartition(".")[2], CheapDropout(module.p))
    return model.to(memory_format=torch.channels_last)


def mask_ms(module: nn.Module, x: torch.Tensor, repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        module(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    threads = train.configure_threads()
    print(f"torch {torch.__version__}, CPU, {threads} threads, session 3's model, batch {bench.BATCH}")
    x = torch.ones(bench.BATCH, 14, 24, 24)  # session 3's largest activation after its first pool
    cheap = CheapDropout(0.05).train()
    print(f"drop rate at p=0.05: CheapDropout {(cheap(x) == 0).float().mean():.4f}, "
          f"nn.Dropout {(nn.Dropout(0.05)(x) == 0).float().mean():.4f}")  # fmt: skip
    print(f"one mask on {tuple(x.shape)}: nn.Dropout {mask_ms(nn.Dropout(0.05), x):.2f} ms, "
          f"CheapDropout {mask_ms(cheap, x):.2f} ms")  # fmt: skip

    loader, _ = data.make_loaders(bench.BATCH, augment=bench.AUGMENT, seed=0)
    batches = [b for _, b in zip(range(40), loader, strict=False)]
    steps = {}
    for kind in ("nn.Dropout", "CheapDropout"):
        torch.manual_seed(0)
        model = session3_model(kind == "CheapDropout").train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        steps[kind] = (model, optimizer, [])
    for i, (images, labels) in enumerate(batches):
        for model, optimizer, times in steps.values():  # interleaved: the same machine state
            start = time.perf_counter()
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i >= 5:  # warm-up
                times.append(time.perf_counter() - start)
    medians = {kind: statistics.median(times) * 1000 for kind, (_, _, times) in steps.items()}
    for kind, ms in medians.items():
        print(f"  {kind:<13} median training step {ms:6.1f} ms")
    print(f"step speedup {medians['nn.Dropout'] / medians['CheapDropout']:.2f}x")


if __name__ == "__main__":
    main()
