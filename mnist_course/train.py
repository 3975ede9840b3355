"""The training loop: `fit()` trains and evaluates every epoch and returns a `History`.

It draws nothing (plots.py does) and loads nothing (files.py and data.py do). What it adds to the
plain PyTorch loop is what a course run needs to be trusted: scheduler stepping done right, a shape
check before the first epoch, a stop on NaN, Ctrl-C that keeps the results, checkpoints written
atomically, and resume that continues exactly where the run left off.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import random
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import atomic

NO_BARS_ENV = "MNIST_COURSE_NO_BARS"
THREADS_ENV = "MNIST_COURSE_THREADS"  # set by `sweep --workers N` so N runs share the cores
SYNC_EVERY = 20  # on an accelerator, batches between reads of the loss (each read waits for the device)
PER_BATCH_SCHEDULERS = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)


class TrainingError(RuntimeError):
    """Training cannot go on (wrong output shape, NaN loss); `history` holds the epochs done so far."""

    def __init__(self, message: str, history: History | None = None):
        super().__init__(message)
        self.history = history


def configure_threads(num_threads: int | None = None) -> int:
    """Use one intra-op thread per available core and a single inter-op thread; return the count.

    On the 2-core course machine, more threads than cores (OpenMP's default can count
    hyper-threads or ignore CPU limits) was seen to drop throughput 20x while threads contended.
    """
    if num_threads is None and os.environ.get(THREADS_ENV):
        num_threads = int(os.environ[THREADS_ENV])
    torch.set_num_threads(num_threads or available_cores())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # can only be set before the first parallel op; later calls keep the first setting
    return torch.get_num_threads()


def available_cores() -> int:
    has_affinity = hasattr(os, "sched_getaffinity")  # Linux: the cores this process may use
    return len(os.sched_getaffinity(0)) if has_affinity else os.cpu_count() or 1


# Course trainings on the CPU leave a file named after their process id here while they run, so
# each can take its share of the cores. Two trainings with a thread per core each were measured
# 1.9x slower than one after the other (up to 9x next to a test run); with one share each, 0.6x.
TRAININGS_DIR = Path(tempfile.gettempdir()) / "mnist_course-trainings"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextlib.contextmanager
def sharing_cores(device: torch.device | str):
    """Count this process among the course's CPU trainings while the block runs.

    Not on accelerators, not when $MNIST_COURSE_THREADS fixes the threads (sweep workers), and not
    on Windows, where `os.kill(pid, 0)` would not just ask but send a Ctrl-C.
    """
    marker = TRAININGS_DIR / str(os.getpid())
    if torch.device(device).type != "cpu" or os.environ.get(THREADS_ENV) or os.name == "nt":
        yield
        return
    try:
        TRAININGS_DIR.mkdir(exist_ok=True)
        marker.touch()
    except OSError:  # e.g. another user's folder: train with the threads as they are
        yield
        return
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def balance_threads() -> int:
    """Inside `sharing_cores`: use cores / (course trainings running now) threads, at least one.

    `fit` calls it before every epoch, so a training started next to this one (another notebook,
    a test run) splits the cores with it instead of both fighting over all of them, and this one
    takes the cores back when the other ends. Returns the threads now used.
    """
    if not (TRAININGS_DIR / str(os.getpid())).is_file():
        return torch.get_num_threads()
    running = 0
    for marker in TRAININGS_DIR.iterdir():
        if marker.name.isdigit() and _alive(int(marker.name)):
            running += 1
        else:
            marker.unlink(missing_ok=True)  # left by a process that was killed
    threads = max(1, available_cores() // max(1, running))
    torch.set_num_threads(threads)
    return threads


def pick_device() -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU (with threads configured for it)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    configure_threads()
    return torch.device("cpu")


def prefers_channels_last(model: torch.nn.Module, device: torch.device | str) -> bool:
    """The layout `fit` trains in by default: channels_last on the CPU, the default (NCHW) elsewhere
    and for a model with BatchNorm on several CPU threads.

    Measured on 2 CPU cores (`python benchmarks/layout.py`, benchmarks/README.md): on one thread
    channels_last made the three sessions' training steps 1.1-1.2x faster, and on two threads
    session 1's (no BatchNorm). But on two threads PyTorch's channels_last BatchNorm backward took
    2-8 ms against 0.2-1.2 ms in NCHW for the 10- and 14-channel layers, so session 3's model
    trained 1.05-1.44x faster in NCHW there.
    """
    if torch.device(device).type != "cpu":
        return False
    has_batchnorm = any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    return not (has_batchnorm and torch.get_num_threads() > 1)


def to_training_layout(
    model: torch.nn.Module, device: torch.device | str, channels_last: bool | None = None
) -> torch.nn.Module:
    """`model`, converted in place, in the layout `fit` trains (and evaluates) it in: channels_last
    when `channels_last` is True, or when it is None and `prefers_channels_last` says so."""
    if prefers_channels_last(model, device) if channels_last is None else channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (if installed) and torch on every device, for repeatable runs."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass


@dataclass
class History:
    """Per-epoch metrics of a run: prints as a table, saves to and loads from JSON."""

    epochs: list[dict] = field(default_factory=list)
    eval_name: str = "test"  # what the evaluation set is: "test" or "val"
    interrupted: bool = False
    target_epoch: int | None = None  # first epoch whose evaluation accuracy reached the target

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.epochs]

    @property
    def final_acc(self) -> float:
        """Evaluation accuracy of the last epoch (a fraction)."""
        return self.epochs[-1]["eval_acc"]

    def min_last(self, k: int = 3) -> float:
        """Lowest evaluation accuracy over the last k epochs: a figure not picked on the test set."""
        return min(self.column("eval_acc")[-k:])

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            atomic.write_text(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> History:
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text()
        return cls(**json.loads(text))

    def __str__(self) -> str:
        e = self.eval_name
        lines = [f"epoch  train_loss  train_acc  {e}_loss  {e}_acc        lr  seconds"]
        for r in self.epochs:
            lines.append(
                f"{r['epoch']:>5}  {r['train_loss']:>10.4f}  {r['train_acc']:>9.2%}  "
                f"{r['eval_loss']:>{len(e) + 5}.4f}  {r['eval_acc']:>{len(e) + 4}.2%}  "
                f"{r['lr']:>8.5f}  {r['seconds']:>7.1f}"
            )
        if self.interrupted:
            lines.append("(interrupted)")
        return "\n".join(lines)


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
            "(inspect.layer_table shows each layer's output size)."
        ) from err
    expected = (len(x), num_classes)
    if tuple(out.shape) != expected:
        hint = " Flatten before returning: x.view(x.size(0), -1)." if out.numel() == math.prod(expected) else ""
        raise TrainingError(
            f"The model returned shape {tuple(out.shape)} for a batch of {len(x)}, expected "
            f"{expected} (one score per class).{hint}"
        )


def _rng_state(train_loader) -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    if getattr(train_loader, "generator", None) is not None:
        state["loader"] = train_loader.generator.get_state()
    return state


def _set_rng_state(state: dict, train_loader) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
    if "loader" in state:
        train_loader.generator.set_state(state["loader"])


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


def _save_resume_point(path, model, optimizer, scheduler, precision, scaler, history, best_acc, train_loader):
    """Everything `fit(resume=True)` needs to continue exactly: weights, optimizer, scheduler, the
    precision and float16's loss scale, random state."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "precision": precision,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "history": history.to_dict(),
        "best_acc": best_acc,
        "rng": _rng_state(train_loader),
    }
    atomic.save(state, path)


def _train_epoch(
    model, bar: tqdm, optimizer, batch_scheduler, device, label_smoothing, clip_grad_norm, amp_dtype, scaler
):
    """One pass over the batches of `bar`; returns mean loss and accuracy.

    `amp_dtype` (None: float32) runs the forward pass and the loss under `torch.autocast` in that
    type; `scaler` (float16's `loss_scaler`, else None) scales the loss so that small float16
    gradients do not flush to zero. With None for both, every operation is as it was before either
    existed (and `torch.autocast` is not even entered: older torch rejects some devices there).

    Raises FloatingPointError(loss, batch number, learning rate) at the first non-finite loss. On the
    CPU every loss is checked before its optimizer step, so the weights are never updated with it.
    On an accelerator, reading a value makes the host wait for the device, so sums stay on the device
    and the loss is checked every SYNC_EVERY batches (the error then names the batch it was seen at).
    """
    model.train()
    check_every = 1 if device.type == "cpu" else SYNC_EVERY
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    finite = torch.ones((), device=device, dtype=torch.bool)
    count = 0
    non_blocking = device.type == "cuda"  # MPS: a copy from a CPU tensor freed before it ran can read garbage
    for batch, (x, y) in enumerate(bar, 1):
        x, y = x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)
        with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext():
            out = model(x)
            loss = loss_fn(out, y, label_smoothing)
        finite &= torch.isfinite(loss)
        if batch % check_every == 0 and not finite:
            raise FloatingPointError(loss.item(), batch, optimizer.param_groups[0]["lr"])
        optimizer.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(optimizer)  # the true gradients, for clipping
        if clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        if scaler:
            scaler.step(optimizer)  # skipped when a float16 gradient overflowed; the scale then drops
            scaler.update()
        else:
            optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        total_loss += loss.detach() * len(y)
        correct += (out.argmax(1) == y).sum()
        count += len(y)
        if batch % 20 == 0 and not bar.disable:
            bar.set_postfix(loss=f"{total_loss.item() / count:.4f}", acc=f"{correct.item() / count:.2%}")
    if not finite:
        raise FloatingPointError(float("nan"), batch, optimizer.param_groups[0]["lr"])
    return total_loss.item() / count, correct.item() / count


def fit(
    model: torch.nn.Module,
    train_loader,
    eval_loader,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    scheduler=None,
    *,
    device: torch.device | str | None = None,
    label_smoothing: float = 0.0,
    clip_grad_norm: float | None = None,
    target_acc: float | None = None,
    stop_at_target: bool = False,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    eval_name: str = "test",
    progress: bool = True,
    channels_last: bool | None = None,
    precision: str = "float32",
) -> History:
    """Train `model` for `epochs` epochs, evaluating after each; return the History.

    - Schedulers: OneCycleLR/CyclicLR step every batch, ReduceLROnPlateau every epoch with the
      evaluation loss, any other every epoch.
    - `target_acc`: prints "target reached at epoch N" the first time the evaluation accuracy
      reaches it (and stops there if `stop_at_target`).
    - `checkpoint_dir`: `last.pt` (everything needed to resume) after every epoch and `best.pt`
      (weights of the best evaluation accuracy so far), both written atomically.
    - `resume=True` reloads `last.pt` (model, optimizer, scheduler, history, random state) and runs
      the remaining epochs, so 5 epochs and a resume to 15 equal one 15-epoch run.
    - `progress`: tqdm bars with live loss/accuracy and one printed line per epoch
      (set $MNIST_COURSE_NO_BARS=1 to keep only the lines).
    - `channels_last` stores the model's weights as channels_last, so that the convolutions run in
      that layout. Default: `prefers_channels_last(model, device)`, i.e. on the CPU unless the model
      has BatchNorm and trains on several threads. Accelerators keep the default layout unless asked.
    - `precision` "bfloat16" or "float16" (default "float32") runs the forward pass and the loss
      under `torch.autocast` in that type; the weights and the optimizer stay float32, and float16
      scales the loss (`torch.amp.GradScaler`, saved in the checkpoint). It changes the numbers of a run, so
      check the accuracy over seeds; on 2 CPU cores bfloat16 made a training step 1.03-1.29x faster
      (`python benchmarks/autocast.py`), on GPUs it is not measured yet. Evaluation stays float32.
    - Ctrl-C returns the history so far with `interrupted=True`; a NaN/inf loss raises
      TrainingError at once, leaving the last good checkpoint in place.
    """
    device = torch.device(device or next(model.parameters()).device)
    amp_dtype = autocast_dtype(precision, device)
    scaler = loss_scaler(amp_dtype, device)
    to_training_layout(model.to(device), device, channels_last)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else None
    history = History(eval_name=eval_name)
    best_acc = -1.0
    if resume:
        if ckpt_dir is None or not (ckpt_dir / "last.pt").is_file():
            raise TrainingError(f"resume=True but there is no checkpoint {ckpt_dir}/last.pt to resume from.")
        # Onto the CPU whatever device wrote it: RNG states must be CPU tensors, and load_state_dict
        # moves weights and optimizer state to the model's device.
        state = torch.load(ckpt_dir / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
        trained_in = state.get("precision", "float32")  # checkpoints from before the option: float32
        if trained_in != precision:
            raise TrainingError(
                f"the checkpoint {ckpt_dir / 'last.pt'} was trained with precision={trained_in!r}: resume with "
                "the same precision (or start again without resume=True)."
            )
        if scaler is not None:
            scaler.load_state_dict(state["scaler"])
        history = History(**state["history"])
        history.interrupted = False
        best_acc = state["best_acc"]
        _set_rng_state(state["rng"], train_loader)
    else:
        check_output(model, eval_loader, device)

    # Live bars are for people; `python -m mnist_course run` turns them off (the epoch lines stay), so
    # executed notebooks hold text rather than placeholders of progress widgets.
    bars = progress and os.environ.get(NO_BARS_ENV, "") != "1"
    per_batch = isinstance(scheduler, PER_BATCH_SCHEDULERS)
    batch_scheduler = scheduler if per_batch else None
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    with sharing_cores(device):  # counted among the trainings that share the cores
        for epoch in range(len(history.epochs) + 1, epochs + 1):
            try:
                balance_threads()
                start = time.perf_counter()
                try:
                    with tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not bars) as bar:
                        train_loss, train_acc = _train_epoch(
                            model, bar, optimizer, batch_scheduler, device, label_smoothing, clip_grad_norm,
                            amp_dtype, scaler,
                        )  # fmt: skip
                except FloatingPointError as err:
                    value, batch, lr = err.args
                    kept = ckpt_dir and history.epochs and f" The last good checkpoint is {ckpt_dir / 'last.pt'}."
                    raise TrainingError(
                        f"The loss became {value} at epoch {epoch}, batch {batch} (learning rate {lr:.4g}); training "
                        f"stopped.{kept or ''} Try a lower learning rate or clip_grad_norm=1.0, and check the inputs "
                        "for NaNs.",
                        history,
                    ) from None
                eval_loss, eval_acc = evaluate(model, eval_loader, device)
                lr = optimizer.param_groups[0]["lr"]
                if scheduler is not None and not per_batch:
                    scheduler.step(eval_loss) if plateau else scheduler.step()
                row = dict(
                    epoch=epoch, train_loss=train_loss, train_acc=train_acc, eval_loss=eval_loss, eval_acc=eval_acc,
                    lr=lr, seconds=time.perf_counter() - start,
                )  # fmt: skip
                reached = target_acc is not None and history.target_epoch is None and eval_acc >= target_acc
                if reached:
                    history.target_epoch = epoch
                if ckpt_dir is not None:
                    if eval_acc > best_acc:
                        best = {"model": model.state_dict(), "epoch": epoch, "eval_acc": eval_acc}
                        atomic.save(best, ckpt_dir / "best.pt")
                    best_acc = max(best_acc, eval_acc)
                    finished = History(**{**history.to_dict(), "epochs": [*history.epochs, row]})
                    _save_resume_point(
                        ckpt_dir / "last.pt",
                        model,
                        optimizer,
                        scheduler,
                        precision,
                        scaler,
                        finished,
                        best_acc,
                        train_loader,
                    )
                history.epochs.append(row)  # only now is the epoch complete, checkpoint included
            except KeyboardInterrupt:
                history.interrupted = True
                where = f"; resume from {ckpt_dir / 'last.pt'} with resume=True" if ckpt_dir and history.epochs else ""
                print(f"Interrupted in epoch {epoch}: returning the {len(history.epochs)} finished epochs{where}.")
                return history
            if progress:
                print(
                    f"epoch {epoch:>2}/{epochs}  train loss {train_loss:.4f} acc {train_acc:.2%}  "
                    f"{eval_name} loss {eval_loss:.4f} acc {eval_acc:.2%}  lr {lr:.4g}  {row['seconds']:.1f}s"
                )
            if reached:
                print(f"target {target_acc:.2%} reached at epoch {epoch}")
                if stop_at_target:
                    break
        return history
