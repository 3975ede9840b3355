"""Does bfloat16 autocast speed up training on the CPU? Session 3's model, batch 128.

    python benchmarks/autocast.py      # about 1 minute on 2 cores

`torch.autocast("cpu", dtype=torch.bfloat16)` around the forward pass and the loss, as
`fit(precision="bfloat16")` does, runs the convolutions and linear layers in bfloat16 (8 bits of
mantissa instead of 23) and keeps the weights and the optimizer in float32.
Whether it pays depends on the CPU: oneDNN has fast bfloat16 kernels where the CPU has AVX-512
BF16 or AMX instructions, and emulates them elsewhere. The script prints what this CPU has, then the
median training step of each combination of {float32, bfloat16 autocast} x {nn.Dropout,
FastDropout (mnist_course/layers.py)}, interleaved so that all see the same machine state, and the
speedup of each against float32 with nn.Dropout. It times speed only: what bfloat16 does to
accuracy takes full runs over seeds.
"""

import common  # first: the repository root on sys.path, mnist_course before torch, the threads

# isort: split
import torch

from mnist_course import train


def main() -> None:
    common.header()
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, "
          f"oneDNN bfloat16 supported: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}")  # fmt: skip
    setups = {}
    for dtype in ("float32", "bfloat16"):
        for dropout in ("nn.Dropout", "FastDropout"):
            torch.manual_seed(0)
            model = common.session3_model(fast_dropout=dropout == "FastDropout").train()
            setups[dtype, dropout] = (model, train.autocast_dtype(dtype, common.CPU))  # as fit(precision=dtype)
    medians = common.median_step_ms(setups)
    reference = medians["float32", "nn.Dropout"]
    for (dtype, dropout), ms in medians.items():
        print(f"  {dtype:<9} {dropout:<13} median training step {ms:6.1f} ms   {reference / ms:.2f}x")


if __name__ == "__main__":
    main()
