"""How a lesson runs and reports: fast or full mode, the results cell, where a run ran.

Fast mode ($MNIST_COURSE_FAST=1, set by the tests and `run --fast`) is applied by the helper: the
loaders take a 20,000-image subset and `epochs()` shortens the training, so a lesson's code is the
same in both modes. Under `python -m mnist_course run` ($MNIST_COURSE_RESULTS_DIR set), `report()`
writes `<dir>/<notebook>.json`, from which the README's results table is regenerated.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from . import atomic
from .history import History
from .model_info import count_params, layer_table, multiply_adds

FAST_ENV = "MNIST_COURSE_FAST"
RESULTS_ENV = "MNIST_COURSE_RESULTS_DIR"
CHECKPOINTS_ENV = "MNIST_COURSE_CHECKPOINTS"
FAST_FLOOR = 0.95  # sanity floor for fast mode: a few hundred batches must still learn the digits
FAST_SUBSET = 20_000  # training images in fast mode (data.make_loaders takes them by itself)
FAST_EPOCHS = 2


def fast_mode() -> bool:
    """True when $MNIST_COURSE_FAST is 1: notebooks then train on a subset for 2 epochs (tests, CI)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes")


def epochs(full: int) -> int:
    """`full` epochs, or FAST_EPOCHS in fast mode: `EPOCHS = mc.epochs(15)`."""
    return min(full, FAST_EPOCHS) if fast_mode() else full


def checkpoint_dir(name: str) -> Path:
    """`checkpoints/<name>` next to the notebook, or under $MNIST_COURSE_CHECKPOINTS when the runner
    gives each run its own folder (so runs going on at the same time never share a checkpoint)."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or "checkpoints") / name


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"
    return device.type


def cpu_model() -> str:
    """The processor's marketing name where the OS tells it (Linux, macOS), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        done = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return platform.processor() or platform.machine()


def machine(device: torch.device | str) -> dict:
    """Where a run ran, so that timings from different machines are never mixed silently."""
    device = torch.device(device)
    return {
        "cpu": cpu_model(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "device": device.type,
        "threads": torch.get_num_threads(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def encode_predictions(predictions: dict) -> str:
    """The predicted digit of every image, in order, as one string ("7210414..."): 10,000 bytes for
    the test set, enough to compare two runs digit by digit (McNemar) without storing the images."""
    return "".join(str(int(p)) for p in predictions["preds"].tolist())


def decode_predictions(text: str) -> torch.Tensor:
    """The inverse of `encode_predictions`: a tensor of digits."""
    return torch.tensor([int(c) for c in text], dtype=torch.long)


class NotLearnedError(AssertionError):
    """A fast-mode run ended below FAST_FLOOR: the lesson's code no longer learns the digits."""


def _checks(history: History, params: int, max_params: int, target_acc: float, fast: bool) -> list[tuple[bool, str]]:
    """The results cell's checks: the budget, then the target (in fast mode: the sanity floor)."""
    final, min3, name = history.final_acc, history.min_last(3), history.eval_name
    checks = [(params <= max_params, f"parameters {params:,} <= {max_params:,}")]
    if fast:  # 2 short epochs: the first is still warming up, so only the last one is checked
        checks.append((final >= FAST_FLOOR, f"final {name} accuracy {final:.2%} >= {FAST_FLOOR:.2%}"))
    else:
        line = f"minimum {name} accuracy over the last 3 epochs {min3:.2%} >= {target_acc:.2%}"
        checks.append((min3 >= target_acc, line))
    if history.interrupted:
        checks.append((False, "the run finished all its epochs (it was interrupted)"))
    return checks


def _cost(model: nn.Module) -> dict:
    """Multiply-adds per image and each layer's parameters, for a model of 28×28 digits; nothing for
    a model that takes other inputs (these figures are counted on one 1×28×28 image)."""
    try:
        layers = [{"name": r.name, "kind": r.kind, "params": r.params} for r in layer_table(model) if r.params]
        return {"multiply_adds": multiply_adds(model), "layers": layers}
    except RuntimeError:  # shapes that do not fit a digit
        return {}


def report(
    notebook: str,
    model: nn.Module,
    history: History,
    max_params: int,
    target_acc: float = 0.994,
    device: torch.device | str = "cpu",
    extra: dict | None = None,
    predictions: dict | None = None,
) -> dict:
    """The results cell: print final-epoch and last-3-minimum accuracy against the target, PASS/FAIL.

    In fast mode the accuracy is checked against a sanity floor instead, and says so; a fast run
    below that floor raises NotLearnedError (the tests' guard: the lesson no longer learns). Writes
    the results JSON when $MNIST_COURSE_RESULTS_DIR is set: the figures (with the multiply-adds per
    image and each layer's parameters), where and when the run ran,
    `extra` (further measurements, e.g. accuracy on shifted digits) and `predictions` (`predict()`
    on the evaluation set after the last epoch) as one string of digits. Returns the results: "passed"
    is every check; "learned" only that the final accuracy clears the sanity floor.
    """
    fast, params = fast_mode(), count_params(model)
    checks = _checks(history, params, max_params, target_acc, fast)
    passed = all(ok for ok, _ in checks)
    print(f"mode: {'FAST (subset, few epochs: checks a sanity floor, not the target)' if fast else 'full'}")
    print(f"epochs: {len(history.epochs)}   final-epoch {history.eval_name} accuracy: {history.final_acc:.2%}")
    print(f"minimum over the last 3 epochs: {history.min_last(3):.2%}")
    for ok, line in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    print(f"==> {'PASS' if passed else 'FAIL'}" + ("" if fast else f" (session target {target_acc:.2%})"))
    results = {
        "notebook": notebook, "params": params, "max_params": max_params, "epochs": len(history.epochs),
        "final_test_acc": history.final_acc, "min_last3_test_acc": history.min_last(3), "target_acc": target_acc,
        "passed": passed, "learned": history.final_acc >= FAST_FLOOR, "device": device_name(device),
        "torch_version": torch.__version__, "machine": machine(device),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": "fast" if fast else "full",
        "history": history.to_dict(), "extra": extra or {},
    } | _cost(model)  # fmt: skip
    if predictions is not None:
        results["predictions"] = {"set": history.eval_name, "digits": encode_predictions(predictions)}
    if os.environ.get(RESULTS_ENV):
        atomic.write_text(Path(os.environ[RESULTS_ENV]) / f"{notebook}.json", json.dumps(results, indent=1))
    if fast and not results["learned"]:
        raise NotLearnedError(f"a fast run must reach {FAST_FLOOR:.0%} (mc.FAST_FLOOR): the lesson stopped learning")
    return results
