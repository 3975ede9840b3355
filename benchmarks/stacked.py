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

import common  # first: the repository root on sys.path, mnist_course before torch, the threads

# isort: split
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mnist_course import cpu

SGD = {"nesterov": True, "weight_decay": 1e-4}  # both sides' optimizer: `common.sgd` with these


def session3_copies(n: int) -> list[nn.Module]:
    """`n` of session 3's models (default layout), each with its own initial weights, all of one class.
    Each build runs the notebook's model cell, which defines the class anew, and `stack_module_state`
    wants one class: the copies are the first model's, with the weights of the later builds."""
    built = [common.session3_model(layout="NCHW") for _ in range(n)]
    models = [built[0], *(copy.deepcopy(built[0]) for _ in built[1:])]
    for model, own in zip(models[1:], built[1:], strict=True):
        model.load_state_dict(own.state_dict())
    return models


def sequential_step(models, batches):
    """One training step of each of `models` on its own batch, one after the other, as `fit` takes it."""
    steps = [common.training_step(model, **SGD) for model in models]

    def step():
        for one, (x, y) in zip(steps, batches, strict=True):
            one(x, y)

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
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum") / common.BATCH

    return params, loss


def stacked_step(models, batches):
    params, loss = stacked_loss(models)
    optimizer = common.sgd(params.values(), **SGD)
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
    models = [model.double() for model in session3_copies(n)]
    for m in models:
        for layer in m.modules():
            if isinstance(layer, nn.Dropout):
                layer.p = 0.0
    images = [torch.randn(common.BATCH, 1, 28, 28, dtype=torch.float64) for _ in range(n)]
    batches = [(x, torch.randint(0, 10, (common.BATCH,))) for x in images]
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
    common.header()
    print(f"largest relative gradient difference, stacked against each copy alone: {check_same_gradients():.1e}")
    for n in args.copies:
        torch.manual_seed(0)
        models = session3_copies(n)
        batches = [(torch.randn(common.BATCH, 1, 28, 28), torch.randint(0, 10, (common.BATCH,))) for _ in range(n)]
        stacked = common.median_ms(stacked_step(models, batches), args.steps, warmup=3)
        as_fit_trains = [cpu.to_training_layout(m, common.CPU) for m in models]  # the stacked side copied them
        one_by_one = common.median_ms(sequential_step(as_fit_trains, batches), args.steps, warmup=3)
        print(
            f"{n} copies: one after another {one_by_one:6.1f} ms, stacked {stacked:6.1f} ms "
            f"per step of all copies   stacked speedup {one_by_one / stacked:.2f}x"
        )


if __name__ == "__main__":
    main()
