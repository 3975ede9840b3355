"""Several seeds of one model trained at once as one batched model, against one after the other.

`torch.func.stack_module_state` stacks the weights of N copies of session 3's model (one per seed)
into tensors with a leading dimension N; `torch.func.vmap` over `functional_call` runs all N
forward passes as one, each copy on its own batch. The loss is the sum of the N losses, so one
`backward` gives each copy exactly its own gradient, and SGD with momentum and weight decay updates
each slice of the stacked tensors as it would update that copy alone. BatchNorm's running averages
are stacked too and updated in place by each copy.

Prints, per N, the median time of one training step of all N copies (stacked) against N steps of
one copy (sequential, in the layout `fit` picks), and their ratio. Run:

    python benchmarks/stacked.py [--copies 2 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import mnist_course  # noqa: F401  (before torch: the wait policy default)

# isort: split
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mnist_course import bench, train


def step_times(step, steps: int) -> float:
    """Median seconds of `step()` over `steps` calls, after 3 warm-up calls."""
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def sequential_step(models, optimizers, batches):
    def step():
        for model, optimizer, (x, y) in zip(models, optimizers, batches, strict=True):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return step


def stacked_loss(models):
    """The stacked weights of `models` (leaf tensors with a leading dimension of len(models)) and a
    function of (x, y) -> the summed loss of all copies, each on its own batch x[i], y[i]."""
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")  # the structure only; the weights come from `params`

    def one(p, b, images):
        return functional_call(base, (p, b), (images,))

    def loss(x, y):
        logits = vmap(one, randomness="different")(params, buffers, x)  # (N, batch, 10)
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum") / bench.BATCH

    return params, loss


def stacked_step(models, batches):
    params, loss = stacked_loss(models)
    optimizer = torch.optim.SGD(params.values(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    x = torch.stack([x for x, _ in batches])  # (N, batch, 1, 28, 28): each copy its own batch
    y = torch.stack([y for _, y in batches])

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss(x, y).backward()
        optimizer.step()

    return step


def check_same_gradients(n: int = 3) -> float:
    """Largest difference between the stacked gradients and each copy's own, relative to the largest
    gradient of that tensor. In float64 (in float32 the sums over 128x26x26 positions round differently
    in the two paths by up to 1e-3 of the gradient) and with Dropout off (no randomness)."""
    torch.manual_seed(0)
    models = [bench.MODELS["03_1x1_transitions"]().double() for _ in range(n)]
    for m in models:
        for layer in m.modules():
            if isinstance(layer, nn.Dropout):
                layer.p = 0.0
    images = [torch.randn(bench.BATCH, 1, 28, 28, dtype=torch.float64) for _ in range(n)]
    batches = [(x, torch.randint(0, 10, (bench.BATCH,))) for x in images]
    params, loss = stacked_loss(models)
    loss(torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])).backward()
    worst = 0.0
    for i, (model, (xi, yi)) in enumerate(zip(models, batches, strict=True)):
        nn.functional.cross_entropy(model(xi), yi).backward()
        for name, p in model.named_parameters():
            worst = max(worst, ((params[name].grad[i] - p.grad).abs().max() / p.grad.abs().max()).item())
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    threads = train.configure_threads()
    print(f"torch {torch.__version__}, CPU, {threads} threads, session 3's model, batch {bench.BATCH}")
    print(f"largest relative gradient difference, stacked against each copy alone: {check_same_gradients():.1e}")
    for n in args.copies:
        torch.manual_seed(0)
        models = [bench.MODELS["03_1x1_transitions"]() for _ in range(n)]
        batches = [(torch.randn(bench.BATCH, 1, 28, 28), torch.randint(0, 10, (bench.BATCH,))) for _ in range(n)]
        stacked = step_times(stacked_step(models, batches), args.steps)
        as_fit_trains = [train.to_training_layout(m, torch.device("cpu")) for m in models]
        optimizers = [
            torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
            for m in as_fit_trains
        ]  # the same optimizer as the stacked side
        one_by_one = step_times(sequential_step(as_fit_trains, optimizers, batches), args.steps)
        print(
            f"{n} copies: one after another {1000 * one_by_one:6.1f} ms, stacked {1000 * stacked:6.1f} ms "
            f"per step of all copies   stacked speedup {one_by_one / stacked:.2f}x"
        )


if __name__ == "__main__":
    main()
