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

import statistics
import time

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from dropout import session3_model  # benchmarks/dropout.py, next to this file
from torch import nn

from mnist_course import bench, data, train


def main() -> None:
    threads = train.configure_threads()
    print(f"torch {torch.__version__}, CPU, {threads} threads, session 3's model, batch {bench.BATCH}")
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, "
          f"oneDNN bfloat16 supported: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}")  # fmt: skip
    loader, _ = data.make_loaders(bench.BATCH, augment=bench.AUGMENT, seed=0)
    batches = [b for _, b in zip(range(40), loader, strict=False)]
    steps = {}
    for dtype in ("float32", "bfloat16"):
        for dropout in ("nn.Dropout", "FastDropout"):
            torch.manual_seed(0)
            model = session3_model(dropout == "FastDropout").train()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            steps[dtype, dropout] = (model, optimizer, [])
    for i, (images, labels) in enumerate(batches):
        for (dtype, _), (model, optimizer, times) in steps.items():  # interleaved: the same machine state
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):  # as fit does
                loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i >= 5:  # warm-up
                times.append(time.perf_counter() - start)
    medians = {key: statistics.median(times) * 1000 for key, (_, _, times) in steps.items()}
    reference = medians["float32", "nn.Dropout"]
    for (dtype, dropout), ms in medians.items():
        print(f"  {dtype:<9} {dropout:<13} median training step {ms:6.1f} ms   {reference / ms:.2f}x")


if __name__ == "__main__":
    main()
