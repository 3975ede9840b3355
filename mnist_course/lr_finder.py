"""The learning-rate range test ("LR finder"): which learning rates does this model train with at all?

Leslie Smith's test (2017), as fastai runs it: train a few hundred batches while the learning rate grows from
tiny to huge and watch the loss stay flat, fall, then blow up; a good rate is well inside the fall. Written
here because `torch-lr-finder` (0.2.2) needs its own loader wrapper, restores the weights only on `reset()`
and never the train/eval mode, smooths without bias correction and calls `plt.show()` to suggest a rate.
"""

from __future__ import annotations

import contextlib
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
    """What `lr_find` measured: one learning rate and one smoothed loss per batch, and the picks.

    `suggested_lr` is fastai's `lr_min`: at the lowest loss steps already overshoot (and the smoothing lags),
    a tenth of that rate is safely inside the fall. `steepest_lr` jumps more between runs (a derivative of a
    noisy curve); one-cycle's max_lr is usually taken between the two. A minimum at the very end of the sweep
    means the loss was still falling: raise `end_lr`.
    """

    lrs: list[float] = field(repr=False)
    losses: list[float] = field(repr=False)  # smoothed: EMA with bias correction
    raw_losses: list[float] = field(repr=False)  # the loss of each batch as it came
    suggested_lr: float  # min_loss_lr / 10
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


@contextlib.contextmanager
def _restored(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader):
    """On leaving, even after Ctrl-C: weights and buffers, optimizer, train/eval modes and RNGs as they were."""
    saved_model, saved_optimizer = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    saved_modes = [m.training for m in model.modules()]
    saved_rng = rng_state(loader)
    try:
        yield
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        for module, mode in zip(model.modules(), saved_modes, strict=True):
            module.training = mode
        set_rng_state(saved_rng, loader)


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
    """Train `num_iter` batches, with `fit`'s loss and the learning rate growing from `start_lr` to `end_lr`.

    Batch i uses lr = start_lr · (end_lr / start_lr) ** (i / (num_iter - 1)) in every parameter group; the rest
    of `optimizer` (momentum, weight decay) is used as it is: pass the one you will train with. `train_loader`
    (any iterable of (x, y) batches) restarts when it runs out. The losses are smoothed by an exponential moving
    average (`beta`), bias-corrected like Adam's so the first values are not pulled towards 0; the test stops
    once one exceeds `diverge_factor` × the lowest (or is NaN/inf). Model, optimizer and RNGs are then restored.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"Need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}.")
    num_iter = num_iter or (50 if fast_mode() else 200)  # fast mode: a quick look, for the tests
    if num_iter < 2:
        raise ValueError(f"num_iter must be at least 2, got {num_iter}.")
    device = torch.device(device or next(model.parameters()).device)
    model.to(device)
    lrs, losses, raw_losses = [], [], []
    average, diverged = 0.0, False
    bars = progress and os.environ.get(NO_BARS_ENV, "") != "1"
    with _restored(model, optimizer, train_loader):
        model.train()
        batches = _batches(train_loader)
        for i in tqdm(range(num_iter), desc="lr_find", leave=False, disable=not bars):
            lr = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = next(batches)[:2]
            loss = loss_fn(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
            value = loss.item()
            diverged = not math.isfinite(value)
            if diverged:
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            average = beta * average + (1 - beta) * value
            lrs.append(lr)
            losses.append(average / (1 - beta ** (i + 1)))
            raw_losses.append(value)
            diverged = losses[-1] > diverge_factor * min(losses)
            if diverged:
                break
    if not lrs:
        raise ValueError(f"The loss was not finite from the first batch on (lr={start_lr:g}): check the inputs.")
    return _suggest(lrs, losses, raw_losses, diverged)


def _suggest(lrs: list[float], losses: list[float], raw_losses: list[float], diverged: bool) -> LRFinderResult:
    """The result, with the suggested and steepest rates picked from the smoothed losses."""
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
    if len(losses) > 20:
        slopes = torch.gradient(torch.tensor(losses[10:-5]))[0]
        steepest = lrs[10 + int(slopes.argmin())]
    return LRFinderResult(lrs, losses, raw_losses, suggested, lrs[low], steepest, diverged)


def trace_schedule(optimizer: torch.optim.Optimizer, scheduler, epochs: int, steps_per_epoch: int) -> dict:
    """The learning rate and momentum of every training step `fit` would use, without training.

    Steps the scheduler as `fit` does (every batch for OneCycleLR/CyclicLR, else every epoch), then restores
    it and the optimizer, so it can run right before `fit`. Momentum is SGD's or Adam's first beta (OneCycleLR
    cycles either). ReduceLROnPlateau waits for evaluation losses, so its trace is the starting rate.
    """
    group = optimizer.param_groups[0]
    saved = copy.deepcopy(optimizer.state_dict()), scheduler.state_dict() if scheduler is not None else None
    per_batch = isinstance(scheduler, PER_BATCH_SCHEDULERS)
    steppable = scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    trace = {"lr": [], "momentum": []}
    with warnings.catch_warnings():  # stepping a scheduler before the optimizer is the point here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(epochs):
            for _ in range(steps_per_epoch):
                trace["lr"].append(group["lr"])
                trace["momentum"].append(group.get("momentum", group.get("betas", [math.nan])[0]))
                if steppable and per_batch:
                    scheduler.step()
            if steppable and not per_batch:
                scheduler.step()
    optimizer.load_state_dict(saved[0])
    if scheduler is not None:
        scheduler.load_state_dict(saved[1])
    return trace
