"""Where does a training step go? `torch.profiler` on session 3's model, batch 128, on the CPU.

    python benchmarks/op_profile.py                                  # the layout fit picks, nn.Dropout
    python benchmarks/op_profile.py --layout channels_last --fast-dropout

Prints the operators with the most self CPU time over 20 training steps (after 10 warm-up steps),
forward and backward together, the table `torch.profiler`'s `key_averages()` gives. The shares are
what to read: the profiler adds its own overhead to every operator. benchmarks/README.md says what
these tables showed.
"""

import argparse

import common  # first: the repository root on sys.path, mnist_course before torch, the threads

# isort: split
from torch.profiler import ProfilerActivity, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=["fit", *common.LAYOUTS], default="fit")
    parser.add_argument("--fast-dropout", action="store_true", help="FastDropout instead of nn.Dropout")
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args()
    model = common.session3_model(fast_dropout=args.fast_dropout, layout=args.layout).train()
    dropout = "FastDropout" if args.fast_dropout else "nn.Dropout"
    common.header(f"session 3's model in {common.layout_of(model)}, {dropout}")
    images, labels = common.training_batches(1)[0]
    step = common.training_step(model, nesterov=True, weight_decay=1e-4)

    for _ in range(10):
        step(images, labels)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(20):
            step(images, labels)
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
