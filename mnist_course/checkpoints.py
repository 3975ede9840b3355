"""Checkpoints of `fit`: `last.pt` to resume a run exactly, `best.pt` with the best epoch's weights.

Both are written atomically (atomic.py), so a crash or Ctrl-C while saving leaves the previous file.
Resuming restores the weights, the optimizer, the scheduler, float16's loss scale and every random
state, so 5 epochs and a resume to 15 give the same numbers as one 15-epoch run.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from . import atomic


class ResumeError(RuntimeError):
    """There is no checkpoint to resume from, or it does not fit the run being resumed."""


def rng_state(train_loader) -> dict:
    """Every random state a run draws from: Python's, torch's (CPU, CUDA, MPS) and the loader's."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    if getattr(train_loader, "generator", None) is not None:
        state["loader"] = train_loader.generator.get_state()
    return state


def set_rng_state(state: dict, train_loader) -> None:
    """Put back what `rng_state` saved (a device's state only where that device exists)."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
    if "loader" in state:
        train_loader.generator.set_state(state["loader"])


def save(folder: Path, model, optimizer, scheduler, scaler, precision: str, history: dict, best_acc: float,
         train_loader) -> float:  # fmt: skip
    """After an epoch (the last row of `history`): `best.pt` if it is the best so far, then `last.pt`.

    Returns the best evaluation accuracy so far.
    """
    eval_acc = history["epochs"][-1]["eval_acc"]
    if eval_acc > best_acc:
        best = {"model": model.state_dict(), "epoch": history["epochs"][-1]["epoch"], "eval_acc": eval_acc}
        atomic.save(best, folder / "best.pt")
    best_acc = max(best_acc, eval_acc)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "precision": precision,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "history": history,
        "best_acc": best_acc,
        "rng": rng_state(train_loader),
    }
    atomic.save(state, folder / "last.pt")
    return best_acc


def resume(
    folder: Path | None, model, optimizer, scheduler, scaler, precision: str, train_loader
) -> tuple[dict, float]:
    """Load `folder/last.pt` into the run's objects; return the history (as a dict) and the best accuracy."""
    if folder is None or not (folder / "last.pt").is_file():
        raise ResumeError(f"resume=True but there is no checkpoint {folder}/last.pt to resume from.")
    # Onto the CPU whatever device wrote it: RNG states must be CPU tensors, and load_state_dict
    # moves weights and optimizer state to the model's device.
    state = torch.load(folder / "last.pt", map_location="cpu", weights_only=False)
    trained_in = state.get("precision", "float32")  # checkpoints from before the option: float32
    if trained_in != precision:
        raise ResumeError(
            f"the checkpoint {folder / 'last.pt'} was trained with precision={trained_in!r}: resume with "
            "the same precision (or start again without resume=True)."
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None:
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"], train_loader)
    return state["history"] | {"interrupted": False}, state["best_acc"]
