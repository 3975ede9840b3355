"""How the course uses a CPU: process-wide settings, threads, sharing the cores, memory layout.

These settings belong to the process, not to one model, so they live here, in one place, with the
measurements behind them (docs/speed.md, benchmarks/README.md). On a GPU or Apple's MPS none of
this applies: `fit` skips it there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# How long idle OpenMP threads spin before they sleep. libgomp's default spin is long, and two
# trainings on two cores then burn the cores each other needs (measured 8.5x slower than running
# them one after the other); sleeping at once (OMP_WAIT_POLICY=PASSIVE, 0.6x) made session 1's
# small layers 25-40% slower alone. 30,000 spins kept every session as fast alone and cut the
# contention to 1.9x. OpenMP reads this once, when torch loads it, so it only takes effect when
# mnist_course is imported before torch; a setting of your own is kept.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")

import torch  # noqa: E402  (after the OpenMP setting above)

THREADS_ENV = "MNIST_COURSE_THREADS"  # set by `sweep --workers N` so N runs share the cores
# Course trainings on the CPU leave a file named after their process id here while they run, so
# each can take its share of the cores. Two trainings with a thread per core each were measured
# 1.9x slower than one after the other (up to 9x next to a test run); with one share each, 0.6x.
TRAININGS_DIR = Path(tempfile.gettempdir()) / "mnist_course-trainings"


def available_cores() -> int:
    """The cores this process may use (Linux: its affinity mask), else the CPU count."""
    has_affinity = hasattr(os, "sched_getaffinity")
    return len(os.sched_getaffinity(0)) if has_affinity else os.cpu_count() or 1


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


def prefers_channels_last(model: torch.nn.Module, device: torch.device | str) -> bool:
    """The layout `fit` trains in by default: channels_last on the CPU, the default (NCHW) elsewhere
    and for a model with BatchNorm on several CPU threads.

    Measured on 2 CPU cores (`python benchmarks/layout.py`): on one thread channels_last made the
    three sessions' training steps 1.1-1.2x faster, and on two threads session 1's (no BatchNorm).
    But on two threads PyTorch's channels_last BatchNorm backward took 2-8 ms against 0.2-1.2 ms in
    NCHW for the 10- and 14-channel layers, so session 3's model trained 1.05-1.44x faster in NCHW.
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
