"""Where does a training step go? `torch.profiler` on session 3's model, batch 128, on the CPU.

    python benchmarks/op_profile.py                                  # the layout fit picks, nn.Dropout
    python benchmarks/op_profile.py --layout channels_last --fast-dropout

Prints the operators with the most self CPU time over 20 training steps (after 10 warm-up steps),
forward and backward together, the table `torch.profiler`'s `key_averages()` gives. The shares are
what to read: the profiler adds its own overhead to every operator. benchmarks/README.md says what
these tables showed.
"""

import argparse

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from mnist_course import bench, data, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=["fit", "channels_last", "NCHW"], default="fit")
    parser.add_argument("--fast-dropout", action="store_true", help="FastDropout instead of nn.Dropout")
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args()
    threads = train.configure_threads()
    make = bench.MODELS["03_1x1_transitions"]
    model = (bench.with_fast_dropout(make) if args.fast_dropout else make)().train()
    if args.layout == "fit":
        model = train.to_training_layout(model, torch.device("cpu"))
    elif args.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    layout = "channels_last" if model[0][0].weight.stride()[1] == 1 else "NCHW"
    print(f"torch {torch.__version__}, CPU, {threads} threads, session 3's model in {layout}, "
          f"{'FastDropout' if args.fast_dropout else 'nn.Dropout'}, batch {bench.BATCH}")  # fmt: skip
    loader, _ = data.make_loaders(bench.BATCH, augment=bench.AUGMENT, seed=0)
    images, labels = next(iter(loader))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)

    def step() -> None:
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(10):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(20):
            step()
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
