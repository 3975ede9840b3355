"""The learning-rate range test ("LR finder"): which learning rates does this model train with at all?

Leslie Smith's test (Cyclical Learning Rates for Training Neural Networks, 2017), as fastai runs it:
train for a few hundred batches while the learning rate grows geometrically from tiny to huge, and
watch the loss. At first nothing happens (the steps are too small), then the loss falls, then it
blows up. A good learning rate is well inside the falling part. The model and optimizer are put
back exactly as they were, so the test costs a few hundred batches and changes nothing.

Written here rather than taken from the `torch-lr-finder` package (0.2.2, Sept 2024): that one
only accepts a DataLoader or a subclass of its own iterator wrapper (our TensorLoader needs the
wrapper), restores the weights only when you remember to call `reset()` and not the train/eval mode,
smooths without bias correction, prints and calls `plt.show()` to get its suggestion, and brings
numpy, packaging and apex code paths along. The whole method fits in the function below.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .checkpoints import rng_state, set_rng_state
from .course import fast_mode
from .train import NO_BARS_ENV, PER_BATCH_SCHEDULERS, loss_fn


@dataclass
class LRFinderResult:
    """What `lr_find` measured: one learning rate and one smoothed loss per batch."""

    lrs: list[float] = field(repr=False)
    losses: list[float] = field(repr=False)  # smoothed: EMA with bias correction
    raw_losses: list[float] = field(repr=False)  # the loss of each batch as it came
    suggested_lr: float  # min_loss_lr / 10, see lr_find
    min_loss_lr: float  # the rate where the smoothed loss was lowest
    steepest_lr: float | None  # the rate where the smoothed loss fell fastest (the other usual pick)
    diverged: bool  # True when the test stopped early because the loss blew up


def _batches(loader):
    """The loader's batches, starting it again whenever it runs out (a short epoch is not the end of the test)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("train_loader gave no batches.")


def lr_find(
    model: torch.nn.Module,
    train_loader,
    optimizer: torch.optim.Optimizer,
    start_lr: float = 1e-5,
    end_lr: float = 1.0,
    num_iter: int | None = None,
    device: torch.device | str | None = None,
    *,
    beta: float = 0.98,
    diverge_factor: float = 4.0,
    progress: bool = True,
) -> LRFinderResult:
    """Train `num_iter` batches with the learning rate growing geometrically from `start_lr` to `end_lr`.

    - Batch i uses lr = start_lr · (end_lr / start_lr) ** (i / (num_iter - 1)) in every parameter group;
      everything else about `optimizer` (momentum, weight decay) is used as it is, so pass the one you
      will train with. `train_loader` is any iterable of (x, y) batches; it is started again if it runs
      out. The loss is `train.loss_fn` (cross-entropy), as in `fit`.
    - The loss of single batches is noisy, so it is smoothed with an exponential moving average
      (`beta`), bias-corrected like Adam's moments so that the first values are not pulled towards 0.
    - The test stops early once the smoothed loss exceeds `diverge_factor` × the lowest so far (or a
      loss is NaN/inf): beyond that point the curve says nothing more.
    - Suggestion: `suggested_lr` = the rate of the lowest smoothed loss / 10 (fastai's `lr_min`). At the
      minimum the rate is already too high to train with: it is the edge where steps start to overshoot,
      and the smoothing lags behind the sweep, which puts the minimum a little late too. A tenth of it is
      safely inside the descending part. The steepest point of the curve (`steepest_lr`, the other usual
      pick) is also reported; it comes from a derivative of a noisy curve and jumps more between runs.
      For a one-cycle schedule, max_lr is usually taken between the two. If the lowest loss is at the
      very end of the sweep, the loss was still falling: raise `end_lr` to see where it turns.
    - Afterwards the weights and buffers (BatchNorm statistics), the optimizer's state and learning
      rates, each module's train/eval mode and the random number generators (torch's and the loader's)
      are restored exactly, even after an error or Ctrl-C: running the test changes nothing.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"Need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}.")
    num_iter = num_iter or (50 if fast_mode() else 200)  # fast mode: a quick look, for the tests
    if num_iter < 2:
        raise ValueError(f"num_iter must be at least 2, got {num_iter}.")
    device = torch.device(device or next(model.parameters()).device)
    model.to(device)
    saved_model, saved_optimizer = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    saved_modes = [m.training for m in model.modules()]
    saved_rng = rng_state(train_loader)
    ratio = end_lr / start_lr
    lrs, losses, raw_losses = [], [], []
    average, best, diverged = 0.0, math.inf, False
    bars = progress and os.environ.get(NO_BARS_ENV, "") != "1"
    try:
        model.train()
        batches = _batches(train_loader)
        for i in tqdm(range(num_iter), desc="lr_find", leave=False, disable=not bars):
            lr = start_lr * ratio ** (i / (num_iter - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = next(batches)[:2]
            loss = loss_fn(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
            value = loss.item()
            if not math.isfinite(value):
                diverged = True
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            average = beta * average + (1 - beta) * value
            smoothed = average / (1 - beta ** (i + 1))
            lrs.append(lr)
            losses.append(smoothed)
            raw_losses.append(value)
            best = min(best, smoothed)
            if smoothed > diverge_factor * best:
                diverged = True
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        for module, mode in zip(model.modules(), saved_modes, strict=True):
            module.training = mode
        set_rng_state(saved_rng, train_loader)
    if not lrs:
        raise ValueError(f"The loss was not finite from the first batch on (lr={start_lr:g}): check the inputs.")
    return _result(lrs, losses, raw_losses, diverged)


def _result(lrs: list[float], losses: list[float], raw_losses: list[float], diverged: bool) -> LRFinderResult:
    low = min(range(len(losses)), key=losses.__getitem__)
    suggested = lrs[low] / 10
    if suggested < lrs[0]:
        warnings.warn(
            f"The loss was lowest near the start of the sweep (lr={lrs[low]:.2g}): start_lr is too high to "
            "see where training starts to work. Suggesting start_lr; run again with a lower start_lr.",
            stacklevel=3,
        )
        suggested = lrs[0]
    # Steepest descent per decade of learning rate (the rates are evenly spaced in log scale), ignoring
    # the first 10 batches (the average has barely started) and the last 5 (the blow-up).
    steepest = None
    window = losses[10:-5] if len(losses) > 20 else []
    if len(window) >= 3:
        slopes = torch.gradient(torch.tensor(window))[0]
        steepest = lrs[10 + int(slopes.argmin())]
    return LRFinderResult(lrs, losses, raw_losses, suggested, lrs[low], steepest, diverged)


def trace_schedule(optimizer: torch.optim.Optimizer, scheduler, epochs: int, steps_per_epoch: int) -> dict:
    """The learning rate and momentum of every training step `fit` would use, without training.

    Steps the scheduler as `fit` does (every batch for OneCycleLR/CyclicLR, else every epoch) and
    restores the optimizer's and scheduler's state afterwards, so it can run right before `fit`.
    Momentum is SGD's `momentum` or Adam's first beta (OneCycleLR cycles either). ReduceLROnPlateau
    depends on the evaluation loss, so its trace is the constant starting rate.
    """
    group = optimizer.param_groups[0]

    def momentum() -> float:
        return group["momentum"] if "momentum" in group else group.get("betas", (float("nan"),))[0]

    saved = copy.deepcopy(optimizer.state_dict()), scheduler.state_dict() if scheduler is not None else None
    per_batch = isinstance(scheduler, PER_BATCH_SCHEDULERS)
    steppable = scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    trace = {"lr": [], "momentum": []}
    with warnings.catch_warnings():  # stepping a scheduler before the optimizer is the point here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(epochs):
            for _ in range(steps_per_epoch):
                trace["lr"].append(group["lr"])
                trace["momentum"].append(momentum())
                if steppable and per_batch:
                    scheduler.step()
            if steppable and not per_batch:
                scheduler.step()
    optimizer.load_state_dict(saved[0])
    if scheduler is not None:
        scheduler.load_state_dict(saved[1])
    return trace
