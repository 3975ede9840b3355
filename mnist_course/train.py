"""The training loop: `fit()` trains and evaluates every epoch and returns a `History`.

It draws nothing (plots.py does) and loads nothing (files.py and data.py do). What it adds to the
plain PyTorch loop is what a course run needs to be trusted: scheduler stepping done right, a shape
check before the first epoch, a stop on NaN, Ctrl-C that keeps the results, and checkpoints to
resume from (checkpoints.py). How it uses a CPU (threads, layout) is cpu.py's business.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import checkpoints, cpu
from .history import History

NO_BARS_ENV = "MNIST_COURSE_NO_BARS"
SYNC_EVERY = 20  # on an accelerator, batches between reads of the loss (each read waits for the device)
PER_BATCH_SCHEDULERS = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)


class TrainingError(RuntimeError):
    """Training cannot go on (wrong output shape, NaN loss); `history` holds the epochs done so far."""

    def __init__(self, message: str, history: History | None = None):
        super().__init__(message)
        self.history = history


def pick_device() -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU (with threads configured for it)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    cpu.configure_threads()
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (if installed) and torch on every device, for repeatable runs."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass


def loss_fn(output: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy for models that return logits *or* log-probabilities.

    `F.cross_entropy` applies log_softmax first, and log_softmax of log-probabilities returns them
    unchanged (they already log-sum-exp to 0), so the same loss is exact for both kinds of model;
    for log-probabilities it equals `F.nll_loss`.
    """
    return F.cross_entropy(output, target, label_smoothing=label_smoothing)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, loader, device: torch.device | str) -> tuple[float, float]:
    """Mean loss and accuracy (a fraction) of `model` on every sample of `loader`.

    Sums stay on the device and are read once at the end: reading a GPU value waits for the GPU.
    """
    model.eval()
    device = torch.device(device)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = model(x)
        total_loss += F.cross_entropy(out, y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
        count += len(y)
    return total_loss.item() / count, correct.item() / count


@torch.no_grad()
def predict(model: torch.nn.Module, loader, device: torch.device | str) -> dict[str, torch.Tensor]:
    """Per-sample `inputs`, `labels`, `preds` and `losses` on the CPU, e.g. for the misclassified gallery."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {"inputs": [], "labels": [], "preds": [], "losses": []}
    for x, y in loader:
        out = model(x.to(device))
        y = y.to(device)
        parts["inputs"].append(x.cpu())
        parts["labels"].append(y.cpu())
        parts["preds"].append(out.argmax(1).cpu())
        parts["losses"].append(F.cross_entropy(out, y, reduction="none").cpu())
    return {k: torch.cat(v) for k, v in parts.items()}


def check_output(model: torch.nn.Module, loader, device, num_classes: int = 10) -> None:
    """One forward pass on one batch: raise TrainingError unless the output is (batch, num_classes).

    Runs in eval mode without gradients, so it changes no BatchNorm statistics and draws no randomness.
    """
    x, _ = next(iter(loader))
    x = x.to(device)
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except RuntimeError as err:
        raise TrainingError(
            f"The model failed on a batch of shape {tuple(x.shape)}: {err}. Check the layer sizes "
            "(mc.print_layer_table(model) shows each layer's output size)."
        ) from err
    expected = (len(x), num_classes)
    if tuple(out.shape) != expected:
        hint = " Flatten before returning: x.view(x.size(0), -1)." if out.numel() == math.prod(expected) else ""
        raise TrainingError(
            f"The model returned shape {tuple(out.shape)} for a batch of {len(x)}, expected "
            f"{expected} (one score per class).{hint}"
        )


AUTOCAST_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of `fit(precision=...)` (None: float32, no autocast), checked before training."""
    if precision not in AUTOCAST_DTYPES:
        raise ValueError(f"precision={precision!r}: use 'float32', 'bfloat16' or 'float16'")
    # Ampere (8.0) and later compute in bfloat16; older GPUs such as the T4 (7.5) only emulate it, slowly.
    if precision == "bfloat16" and device.type == "cuda" and torch.cuda.get_device_capability(device) < (8, 0):
        raise ValueError("this GPU has no bfloat16 arithmetic (e.g. a T4): use precision='float16'")
    if precision == "float16" and not hasattr(torch.amp, "GradScaler"):
        raise ValueError("precision='float16' needs torch >= 2.3 (torch.amp.GradScaler): upgrade torch")
    return AUTOCAST_DTYPES[precision]


def loss_scaler(amp_dtype: torch.dtype | None, device: torch.device):
    """A `torch.amp.GradScaler` for float16, whose small gradients would flush to zero; None otherwise."""
    return torch.amp.GradScaler(device.type) if amp_dtype is torch.float16 else None



@dataclass
class Step:
    """What one training step needs besides the batch: `fit` builds it once, `train_epoch` uses it.

    `amp_dtype` (None: float32) runs the forward pass and the loss under `torch.autocast`; `scaler`
    (float16's `loss_scaler`, else None) scales the loss so small float16 gradients do not flush to
    zero. With None for both, `torch.autocast` is not even entered (older torch rejects some devices).
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    batch_scheduler: object = None  # OneCycleLR/CyclicLR: stepped after every batch
    label_smoothing: float = 0.0
    clip_grad_norm: float | None = None
    amp_dtype: torch.dtype | None = None
    scaler: object = None

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss and the outputs of the batch (x, y), under autocast where asked for."""
        with torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else contextlib.nullcontext():
            out = self.model(x)
            return loss_fn(out, y, self.label_smoothing), out

    def update(self, loss: torch.Tensor) -> None:
        """Backward pass, optional clipping, optimizer step, and a per-batch scheduler's step."""
        self.optimizer.zero_grad(set_to_none=True)
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)  # the true gradients, for clipping
        if self.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        if self.scaler:
            self.scaler.step(self.optimizer)  # skipped when a float16 gradient overflowed; the scale then drops
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.batch_scheduler is not None:
            self.batch_scheduler.step()


def train_epoch(step: Step, bar) -> tuple[float, float]:
    """One pass of `step` over the batches of `bar` (a tqdm over the loader); mean loss and accuracy.

    Raises FloatingPointError(loss, batch number, learning rate) at the first non-finite loss. On the
    CPU every loss is checked before its optimizer step, so the weights are never updated with it.
    On an accelerator, reading a value makes the host wait for the device, so sums stay on the device
    and the loss is checked every SYNC_EVERY batches (the error then names the batch it was seen at).
    """
    step.model.train()
    device = step.device
    check_every = 1 if device.type == "cpu" else SYNC_EVERY
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    finite = torch.ones((), device=device, dtype=torch.bool)
    count = 0
    non_blocking = device.type == "cuda"  # MPS: a copy from a CPU tensor freed before it ran can read garbage
    for batch, (x, y) in enumerate(bar, 1):
        x, y = x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)
        loss, out = step.forward(x, y)
        finite &= torch.isfinite(loss)
        if batch % check_every == 0 and not finite:
            raise FloatingPointError(loss.item(), batch, step.optimizer.param_groups[0]["lr"])
        step.update(loss)
        total_loss += loss.detach() * len(y)
        correct += (out.argmax(1) == y).sum()
        count += len(y)
        if batch % 20 == 0 and not bar.disable:
            bar.set_postfix(loss=f"{total_loss.item() / count:.4f}", acc=f"{correct.item() / count:.2%}")
    if not finite:
        raise FloatingPointError(float("nan"), batch, step.optimizer.param_groups[0]["lr"])
    return total_loss.item() / count, correct.item() / count


def run_epoch(step: Step, scheduler, epoch: int, epochs: int, train_loader, eval_loader, bars: bool) -> dict:
    """Train one epoch, evaluate, step a per-epoch scheduler; return the epoch's row of the History.

    OneCycleLR/CyclicLR stepped with every batch (in `step`); ReduceLROnPlateau steps here with the
    evaluation loss, any other scheduler here once per epoch.
    """
    cpu.balance_threads()  # a training started or ended next to this one changes its share of the cores
    start = time.perf_counter()
    with tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not bars) as bar:
        train_loss, train_acc = train_epoch(step, bar)
    eval_loss, eval_acc = evaluate(step.model, eval_loader, step.device)
    lr = step.optimizer.param_groups[0]["lr"]
    if scheduler is not None and step.batch_scheduler is None:
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        scheduler.step(eval_loss) if plateau else scheduler.step()
    return dict(
        epoch=epoch, train_loss=train_loss, train_acc=train_acc, eval_loss=eval_loss, eval_acc=eval_acc, lr=lr,
        seconds=time.perf_counter() - start,
    )  # fmt: skip


def _diverged(err: FloatingPointError, epoch: int, history: History, checkpoint_dir: Path | None) -> TrainingError:
    value, batch, lr = err.args
    kept = checkpoint_dir and history.epochs and f" The last good checkpoint is {checkpoint_dir / 'last.pt'}."
    return TrainingError(
        f"The loss became {value} at epoch {epoch}, batch {batch} (learning rate {lr:.4g}); training stopped."
        f"{kept or ''} Try a lower learning rate or clip_grad_norm=1.0, and check the inputs for NaNs.",
        history,
    )


def _interrupted(history: History, epoch: int, checkpoint_dir: Path | None) -> History:
    history.interrupted = True
    where = f"; resume from {checkpoint_dir / 'last.pt'} with resume=True" if checkpoint_dir and history.epochs else ""
    print(f"Interrupted in epoch {epoch}: returning the {len(history.epochs)} finished epochs{where}.")
    return history


def _print_epoch(row: dict, epochs: int, eval_name: str) -> None:
    print(
        f"epoch {row['epoch']:>2}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%}  "
        f"{eval_name} loss {row['eval_loss']:.4f} acc {row['eval_acc']:.2%}  lr {row['lr']:.4g}  {row['seconds']:.1f}s"
    )


def fit(
    model: torch.nn.Module, train_loader, eval_loader, epochs: int, optimizer: torch.optim.Optimizer, scheduler=None,
    *, device: torch.device | str | None = None, label_smoothing: float = 0.0, clip_grad_norm: float | None = None,
    target_acc: float | None = None, checkpoint_dir: str | Path | None = None, resume: bool = False,
    eval_name: str = "test", progress: bool = True, channels_last: bool | None = None, precision: str = "float32",
) -> History:  # fmt: skip
    """Train `model` for `epochs` epochs, evaluating on `eval_loader` after each; return the History.

    - `scheduler`: OneCycleLR/CyclicLR step every batch, ReduceLROnPlateau every epoch with the
      evaluation loss, any other every epoch. `label_smoothing` goes to the cross-entropy;
      `clip_grad_norm` caps the gradient's length before each step (a cure for a diverging run).
    - `target_acc`: the history notes (and it prints) the first epoch that reaches it.
    - `checkpoint_dir`: `last.pt` and `best.pt` after every epoch; `resume=True` continues from
      `last.pt` exactly (checkpoints.py).
    - `progress`: tqdm bars and one line per epoch ($MNIST_COURSE_NO_BARS=1 keeps only the lines).
    - `channels_last`: the memory layout (default: `cpu.prefers_channels_last`).
    - `precision` "bfloat16" or "float16": the forward pass and the loss under `torch.autocast`.
    - Ctrl-C returns the history so far with `interrupted=True`; a NaN/inf loss raises
      TrainingError at once, leaving the last good checkpoint in place.
    """
    device = torch.device(device or next(model.parameters()).device)
    amp_dtype = autocast_dtype(precision, device)
    per_batch = isinstance(scheduler, PER_BATCH_SCHEDULERS)
    step = Step(cpu.to_training_layout(model.to(device), device, channels_last), optimizer, device,
                scheduler if per_batch else None, label_smoothing, clip_grad_norm, amp_dtype,
                loss_scaler(amp_dtype, device))  # fmt: skip
    folder = Path(checkpoint_dir) if checkpoint_dir else None
    history, best_acc = History(eval_name=eval_name), -1.0
    if resume:
        try:
            saved, best_acc = checkpoints.resume(folder, model, optimizer, scheduler, step.scaler, precision,
                                                 train_loader)  # fmt: skip
        except checkpoints.ResumeError as err:
            raise TrainingError(str(err)) from None
        history = History(**saved)
    else:
        check_output(model, eval_loader, device)
    bars = progress and os.environ.get(NO_BARS_ENV, "") != "1"  # `mnist_course run` saves lines, not widgets

    def save(row: dict, best: float) -> float:  # the epoch counts once its checkpoint is written
        done = history.to_dict() | {"epochs": [*history.epochs, row]}
        return checkpoints.save(folder, model, optimizer, scheduler, step.scaler, precision, done, best, train_loader)

    with cpu.sharing_cores(device):  # counted among the trainings that share the cores
        for epoch in range(len(history.epochs) + 1, epochs + 1):
            try:
                row = run_epoch(step, scheduler, epoch, epochs, train_loader, eval_loader, bars)
                best_acc = save(row, best_acc) if folder is not None else best_acc
            except FloatingPointError as err:
                raise _diverged(err, epoch, history, folder) from None
            except KeyboardInterrupt:
                return _interrupted(history, epoch, folder)
            history.epochs.append(row)
            if progress:
                _print_epoch(row, epochs, eval_name)
            if target_acc is not None and history.target_epoch is None and row["eval_acc"] >= target_acc:
                history.target_epoch = epoch
                print(f"target {target_acc:.2%} reached at epoch {epoch}")
    return history
