"""Layers torch does not have: one, a Dropout whose random mask is cheaper on the CPU."""

from __future__ import annotations

import torch
from torch import nn


class FastDropout(nn.Dropout):
    """`nn.Dropout` whose mask costs 16 random bits per element on the CPU instead of a float draw.

    Why by hand: `nn.Dropout` draws one random float per activation (`bernoulli_`), which the
    profiler showed to be a sixth to a third of a training step of session 3's model on 2 CPU
    cores, depending on the day's machine (benchmarks/README.md); 16 bits give the rate to
    1/65,536. The random numbers differ from `nn.Dropout`'s, so a seeded run changes; the rate and
    the scaling (kept values divided by 1 - p) do not. Elsewhere (CUDA, MPS), in eval mode, in
    place, or at p = 0 or 1 it is `nn.Dropout`. `python benchmarks/dropout.py` times the two.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.inplace or x.device.type != "cpu" or self.p in (0.0, 1.0):
            return super().forward(x)
        threshold = round(self.p * 65536) - 32768  # int16 values below it are dropped
        words = -(-x.numel() // 4)  # four int16 per int64 word
        # random_(-2**63, None) fills all 64 bits; plain random_() leaves the top bit 0 (a wrong rate)
        bits = torch.empty(words, dtype=torch.int64, device=x.device).random_(-(2**63), None)
        bits = bits.view(torch.int16)[: x.numel()]
        dense = x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)
        keep = (bits.as_strided(x.shape, x.stride()) if dense else bits.view(x.shape)) >= threshold
        return x * keep / (1 - self.p)  # the mask in x's layout, so channels_last stays channels_last
