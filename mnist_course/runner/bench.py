"""`python -m mnist_course bench`: the course's training path against the classic one, measured in one run.

Speed claims in the README come from here; every ratio is against a baseline timed in the same
run on the same machine. Two measurements:

- default: session 3's model, batch 128, the same augmentation ranges, trained by the same loop
  (`train.train_epoch`) from (a) the classic pipeline as the seed assignments wrote it
  (torchvision MNIST + PIL transforms + DataLoader, num_workers 0 and 2, default memory format) and
  (b) the course's path as the notebooks use it (`TensorLoader`, the layout `fit` picks). Prints
  training and evaluation images/s (median of the repeats), seconds per epoch of each session's
  model, peak memory, and last the line `speedup <b/a>x` against the best classic setting.
- the course path also with the opt-ins the notebooks do not use by default: `FastDropout`
  (session 2's `DROPOUT_KIND=fast`) and, with `--precision bfloat16|float16`, `fit(precision=...)`
  (autocast), alone and together with `FastDropout`, each with its ratio (the last line stays the
  notebooks' default path's).
- `--load`: N = 1, 2 and the core count copies of one short training at the same time: the time
  alone, the wall time of N at once, the sequential sum, and last `contention <concurrent/sequential>x`.
"""

from __future__ import annotations

import functools
import statistics
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from .. import cpu, data, files, train
from ..layers import FastDropout
from .notebooks import build_model

BATCH = 128
# The notebooks' augmentation; the classic pipeline applies the seeds' PIL transforms of similar strength.
AUGMENT = data.Augment(degrees=8, translate=0.05, scale=(0.95, 1.05))


# The three lessons' models, built from each notebook's cells tagged `model` with its default
# parameters: the benchmark times what the lessons teach, never a copy (tests compare the parameter
# counts with the committed results).
STEMS = ("01_fc_baseline", "02_bn_dropout_gap", "03_1x1_transitions")
MODELS = {stem: functools.partial(build_model, stem) for stem in STEMS}
BATCH_SIZES = {"01_fc_baseline": 64}  # the notebooks' batch sizes where not BATCH


def with_fast_dropout(make_model):
    """`make_model` with every `nn.Dropout` replaced by `FastDropout`: session 2's `DROPOUT_KIND=fast`."""

    def make() -> nn.Module:
        model = make_model()
        for module in model.modules():
            for name, child in module.named_children():
                if type(child) is nn.Dropout:
                    setattr(module, name, FastDropout(child.p))
        return model

    return make


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: the GPU's allocations on CUDA, else the process's peak resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource  # POSIX only
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rates(setups: dict[str, tuple], device, batches: int, repeats: int) -> dict[str, float]:
    """Training images/s of each setup, through the loop `fit` uses: the median of `repeats` passes of
    `batches` batches after a warm-up pass.

    `setups`: name -> (model, make_batches, channels_last, precision), `channels_last` and
    `precision` as in `fit` (None: `fit`'s default layout for that model). The passes are
    interleaved (every setup once, then every setup again, ...) so that all of them see the same
    machine: a shared machine's speed drifts by tens of percent from one minute to the next
    (benchmarks/README.md), which would otherwise land in the ratios.
    """
    passes = {name: _training_pass(device, *setup) for name, setup in setups.items()}
    rates: dict[str, list[float]] = {name: [] for name in setups}
    for repeat in range(repeats + 1):  # the first pass warms up (allocator, oneDNN/cuDNN kernel choices)
        for name, one_pass in passes.items():
            seconds, images = one_pass(batches)
            if repeat:
                rates[name].append(images / seconds)
    return {name: statistics.median(r) for name, r in rates.items()}


def train_rate(
    model, make_batches, device, batches: int, repeats: int, channels_last: bool | None, precision: str = "float32"
) -> float:
    """Training images/s of one setup (see `train_rates`)."""
    return train_rates({"": (model, make_batches, channels_last, precision)}, device, batches, repeats)[""]


def _training_pass(device, model, make_batches, channels_last: bool | None, precision: str):
    """A function that trains `model` on `batches` batches of `make_batches()` and returns the seconds
    and the number of images."""
    amp_dtype = train.autocast_dtype(precision, device)
    scaler = train.loss_scaler(amp_dtype, device)
    model = cpu.to_training_layout(model.to(device), device, channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    step = train.Step(model, optimizer, device, amp_dtype=amp_dtype, scaler=scaler)

    def one_pass(batches: int) -> tuple[float, int]:
        images = 0

        def counted():  # the loading stays inside the timing: it is what the classic pipeline costs
            nonlocal images
            for x, y in islice(make_batches(), batches):
                images += len(y)
                yield x, y

        cpu.balance_threads()  # as fit does before every epoch (a no-op outside cpu.sharing_cores)
        start = time.perf_counter()
        with tqdm(counted(), disable=True) as bar:
            train.train_epoch(step, bar)
        _sync(device)
        return time.perf_counter() - start, images

    return one_pass


def _size(loader) -> int:
    return loader.dataset_size if isinstance(loader, data.TensorLoader) else len(loader.dataset)


def eval_rates(setups: dict[str, tuple], device, repeats: int) -> dict[str, float]:
    """Evaluation images/s of each setup (name -> (model, loader)) over the whole loader with
    `train.evaluate`: the median of `repeats`, the setups interleaved as in `train_rates`."""
    rates: dict[str, list[float]] = {name: [] for name in setups}
    for model, loader in setups.values():
        train.evaluate(model.to(device), islice(loader, 1), device)  # warm-up
    for _ in range(repeats):
        for name, (model, loader) in setups.items():
            start = time.perf_counter()
            train.evaluate(model, loader, device)
            _sync(device)
            rates[name].append(_size(loader) / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def speed(batches: int, repeats: int, precision: str = "float32") -> None:
    device = train.pick_device()
    if device.type == "cpu":
        where = f"cpu, {torch.get_num_threads()} threads"
    else:
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"torch {torch.__version__}, {where}, batch {BATCH}, {batches} batches x {repeats} repeats (median)")
    print(f"peak memory after loading MNIST: {peak_memory_mb(device):.0f} MB")
    model = MODELS["03_1x1_transitions"]
    layout = "channels_last" if cpu.prefers_channels_last(model(), device) else "NCHW"
    print("\ntraining, session 3's model (images/s; the setups' passes interleaved)")
    setups, classic_tests = {}, {}
    for workers in (0, 2):
        train_loader, classic_tests[workers] = classic_loaders(BATCH, num_workers=workers, augment=True)
        torch.manual_seed(0)
        setups[f"(a) classic, DataLoader num_workers={workers}"] = (
            model(),
            lambda loader=train_loader: iter(loader),
            False,
            "float32",
        )
    course_train, course_test = data.make_loaders(BATCH, augment=AUGMENT, device=device, seed=0)
    course = f"(b) course path (TensorLoader, {layout} as fit picks)"
    options = {course: (model, "float32"), "(b) + FastDropout (opt-in)": (with_fast_dropout(model), "float32")}
    if precision != "float32":
        options[f"(b) + {precision} autocast (opt-in)"] = (model, precision)
        options[f"(b) + FastDropout + {precision}"] = (with_fast_dropout(model), precision)
    for name, (make, option) in options.items():
        torch.manual_seed(0)
        setups[name] = (make(), lambda: iter(course_train), None, option)
    rates = train_rates(setups, device, batches, repeats)
    best_classic = max(rate for name, rate in rates.items() if name.startswith("(a)"))
    for name, rate in rates.items():
        ratio = f"   {rate / best_classic:.2f}x" if name.startswith("(b)") else ""
        print(f"  {name:<50}{rate:8.0f}{ratio}")
    ours = rates[course]
    print(f"peak memory: {peak_memory_mb(device):.0f} MB")

    print("\nevaluation, session 3's model, 10,000 test images, batch 1000 (images/s)")
    evals = {f"(a) classic DataLoader, num_workers={w}": (model(), loader) for w, loader in classic_tests.items()}
    evals[f"(b) TensorLoader, {layout}"] = (cpu.to_training_layout(model(), device), course_test)
    eval_speeds = eval_rates(evals, device, repeats)
    best_classic_eval = max(rate for name, rate in eval_speeds.items() if name.startswith("(a)"))
    for name, rate in eval_speeds.items():
        ratio = f"   {rate / best_classic_eval:.2f}x" if name.startswith("(b)") else ""
        print(f"  {name:<50}{rate:8.0f}{ratio}")

    print("\nseconds per epoch on the course path (60,000 training + 10,000 test images; the models interleaved)")
    trainings, tests = {}, {}
    for name, make in MODELS.items():
        loader, test = data.make_loaders(BATCH_SIZES.get(name, BATCH), augment=AUGMENT, device=device, seed=0)
        torch.manual_seed(0)
        trainings[name] = (make(), lambda loader=loader: iter(loader), None, "float32")
        tests[name] = (cpu.to_training_layout(make(), device), test)
    train_speeds, test_speeds = train_rates(trainings, device, batches, repeats), eval_rates(tests, device, repeats)
    for name in MODELS:
        epoch = 60_000 / train_speeds[name] + 10_000 / test_speeds[name]
        print(f"  {name:<20} batch {BATCH_SIZES.get(name, BATCH):>3}  {epoch:6.1f} s")
    print(f"peak memory: {peak_memory_mb(device):.0f} MB")
    print(f"\nspeedup {ours / best_classic:.2f}x")


def job(images: int) -> None:
    """One short training (session 3's model, one epoch on `images` images): what --load runs N of."""
    device = train.pick_device()
    loader, _ = data.make_loaders(BATCH, augment=AUGMENT, subset_size=images, device=device, seed=0)
    torch.manual_seed(0)
    model = MODELS["03_1x1_transitions"]()
    with cpu.sharing_cores(device):  # counted among the trainings, as fit() is
        ours = train_rate(model, lambda: iter(loader), device, len(loader), 1, None)
    print(f"{ours:.1f}")


def _at_once(n: int, images: int) -> float:
    """Wall seconds of `n` copies of the job started together (each a fresh `python -m mnist_course` process)."""
    command = [sys.executable, "-m", "mnist_course", "bench", "--job", str(images)]
    start = time.perf_counter()
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(n)]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError(f"a benchmark job failed: {' '.join(command)}")
    return time.perf_counter() - start


def load(images: int) -> None:
    cores = cpu.configure_threads()
    print(f"{images:,}-image trainings of session 3's model, each a fresh process; {cores} cores")
    alone = min(_at_once(1, images) for _ in range(2))
    print(f"  alone: {alone:.1f} s")
    ratio = 1.0
    for n in sorted({2, cores}):
        wall = _at_once(n, images)
        ratio = wall / (n * alone)
        print(f"  {n} at once: {wall:.1f} s wall, one after another: {n * alone:.1f} s, ratio {ratio:.2f}")
    print(f"contention {ratio:.2f}x")


def classic_loaders(
    batch_size: int = 128,
    root: str | Path | None = None,
    num_workers: int = 0,
    augment: bool = True,
):
    """The textbook pipeline: torchvision MNIST + transforms.Compose (PIL, per sample) + DataLoader.

    Kept to teach how the usual code looks and as the baseline the fast loaders are measured
    against. Uses the seeds' fixed mean/std; the files must be staged (no download here).
    """
    from torchvision import datasets, transforms

    root = Path(root or files.default_root())
    files.verify(root)
    normalize = transforms.Normalize((0.1307,), (0.3081,))
    train_tf = [transforms.ToTensor(), normalize]
    if augment:
        train_tf = [
            transforms.RandomApply([transforms.CenterCrop(22)], p=0.1),
            transforms.Resize((28, 28)),
            transforms.RandomRotation((-15.0, 15.0), fill=0),
            transforms.RandomAffine(degrees=0, translate=(0.1, 0.1), shear=10),
            *train_tf,
        ]
    train = datasets.MNIST(root, train=True, download=False, transform=transforms.Compose(train_tf))
    test = datasets.MNIST(
        root, train=False, download=False, transform=transforms.Compose([transforms.ToTensor(), normalize])
    )
    loader = torch.utils.data.DataLoader
    return (
        loader(train, batch_size=batch_size, shuffle=True, num_workers=num_workers),
        loader(test, batch_size=1000, shuffle=False, num_workers=num_workers),
    )
