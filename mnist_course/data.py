"""MNIST for the course: verified files on disk, tensors in memory, fast loaders on the device.

Flow: `stage()` makes sure the four files sit verified in `<root>/MNIST/raw/` (torchvision's layout),
`load_mnist()` reads them once into uint8 tensors, `make_loaders()` turns them into batches that are
augmented per sample on the training device. `classic_loaders()` is the textbook torchvision
pipeline, kept for teaching and as the benchmark baseline. This module knows nothing of training.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import math
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from . import atomic

# MD5 of the decompressed files (the canonical originals) and their sizes in bytes.
FILES = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 47_040_016),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60_008),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 7_840_016),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10_008),
}
# Where torchvision downloads MNIST from (same files, gzipped).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
SOURCE_ENV = "MNIST_COURSE_DATA_FROM"
ROOT_ENV = "MNIST_COURSE_DATA"
_VERIFIED = ".verified.json"
# What reading a gzip file or a download can raise (URLError and timeouts are OSErrors).
_READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, http.client.HTTPException)


class DataError(RuntimeError):
    """Anything wrong with the MNIST files: the message names the file and the fix."""


def default_root() -> Path:
    """`data/` of the source checkout when the helper runs from one, else `./data` (e.g. Colab).

    `MNIST_COURSE_DATA` overrides both, so notebooks find the data whatever their working folder.
    """
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "data"
    return Path("data")


def raw_dir(root: str | Path | None = None) -> Path:
    return Path(root or default_root()) / "MNIST" / "raw"


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fingerprint(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _read_verified(raw: Path) -> dict:
    try:
        return json.loads((raw / _VERIFIED).read_text())
    except (OSError, ValueError):
        return {}


def _check_file(path: Path, name: str) -> str | None:
    """Return what is wrong with `path` as the file `name`, or None when it is the canonical file."""
    md5, size = FILES[name]
    actual = path.stat().st_size
    if actual == 0:
        return "is empty"
    if actual != size:
        return f"has {actual:,} bytes, expected {size:,} (truncated or not this file)"
    if _md5(path) != md5:
        return f"has the right size but the wrong MD5 checksum (corrupted), expected {md5}"
    return None


def _fix_hint(root: Path) -> str:
    return (
        f"Fix: run `python -m mnist_course data --root {root}`, which replaces missing or bad files "
        f"(add `--from DIR` to copy them from a folder holding the MNIST files, or set {SOURCE_ENV}=DIR)."
    )


def _problem(raw: Path, name: str, verified: dict) -> str | None:
    """What is wrong with `raw/name` ("is missing", …), or None. Hashes only files not yet verified."""
    path = raw / name
    if not path.is_file():
        return "is missing"
    if verified.get(name) == _fingerprint(path):
        return None
    problem = _check_file(path, name)
    if problem is None:
        verified[name] = _fingerprint(path)
    return problem


def _save_verified(raw: Path, verified: dict) -> None:
    if verified != _read_verified(raw):
        try:
            atomic.write_text(raw / _VERIFIED, json.dumps(verified))
        except OSError:
            pass  # a read-only data folder still works; it is just hashed again next time


def verify(root: str | Path | None = None) -> Path:
    """Check the four files in `<root>/MNIST/raw` and return that folder; raise DataError if any is wrong.

    A file is hashed once: its size and mtime are then remembered in `.verified.json`, so later
    loads skip re-hashing 55 MB unless the file changed.
    """
    root = Path(root or default_root())
    raw = raw_dir(root)
    verified = _read_verified(raw)
    for name in FILES:
        problem = _problem(raw, name, verified)
        if problem:
            raise DataError(f"MNIST file {raw / name} {problem}. " + _fix_hint(root))
    _save_verified(raw, verified)
    return raw


def _find_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz", folder / "MNIST" / "raw" / name):
        if candidate.is_file():
            return candidate
    return None


def _install(source: Path | None, fetch_url: str | None, name: str, raw: Path, root: Path) -> None:
    """Write one verified file to `raw/name`: decompress/copy to a temporary name, check, rename.

    The source is only read, and a failed check leaves nothing behind in `raw`.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=raw)
    tmp = Path(tmp_name)
    origin = str(source) if source else fetch_url
    try:
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                opener = gzip.open if source.suffix == ".gz" else open
                with opener(source, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            else:
                with urllib.request.urlopen(fetch_url, timeout=30) as response:
                    with gzip.GzipFile(fileobj=response) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
        problem = _check_file(tmp, name)
        if problem:
            raise DataError(
                f"MNIST file {origin} {problem}. Nothing was written to {raw}. Replace that file "
                f"with a good copy (MD5 of the decompressed file: {FILES[name][0]}) and run "
                f"`python -m mnist_course data --root {root}` again."
            )
        tmp.chmod(0o644)  # mkstemp creates owner-only files
        atomic.replace(tmp, raw / name)  # retried on Windows while a scanner holds the file
    except _READ_ERRORS as err:
        if source is None:
            raise  # a network failure: _download tries the next mirror
        raise DataError(
            f"Could not read MNIST file {origin}: {err}. Nothing was written to {raw}. "
            f"Replace it with a good copy and run `python -m mnist_course data --root {root}` again."
        ) from err
    finally:
        tmp.unlink(missing_ok=True)


def stage(root: str | Path | None = None, source: str | Path | None = None, download: bool = True) -> Path:
    """Make sure the four MNIST files are in `<root>/MNIST/raw`, verified; return that folder.

    Sources, in order: files already there → `source` (or $MNIST_COURSE_DATA_FROM), a folder of
    `.gz` or raw files → torchvision's download mirrors. Each file is checked against its canonical
    MD5 before it takes its final name, so `data/` only ever holds complete, verified files.
    """
    root = Path(root or default_root())
    source = source or os.environ.get(SOURCE_ENV) or None
    raw = raw_dir(root)
    if source is not None:
        source = Path(source)
        if not source.is_dir():
            raise DataError(
                f"The folder to stage MNIST from does not exist: {source}. Pass the folder that "
                "holds train-images-idx3-ubyte(.gz) and the three other files."
            )
    try:
        raw.mkdir(parents=True, exist_ok=True)
        probe = tempfile.TemporaryFile(dir=raw)
        probe.close()
    except OSError as err:
        raise DataError(
            f"Cannot write to the data folder {raw}: {err.strerror}. Choose a writable folder with "
            f"`--root DIR` (or set {ROOT_ENV}=DIR)."
        ) from err

    verified = _read_verified(raw)
    todo = [name for name in FILES if _problem(raw, name, verified)]
    _save_verified(raw, verified)
    for name in todo:
        local = _find_in(source, name) if source is not None else None
        if local is not None:
            _install(local, None, name, raw, root)
        elif source is not None:
            raise DataError(
                f"{source} has no {name} or {name}.gz. Point --from at the folder with all four MNIST files."
            )
        elif download:
            _download(name, raw, root)
        else:
            raise DataError(f"MNIST file {raw / name} is missing. " + _fix_hint(root))
    return verify(root)


def _download(name: str, raw: Path, root: Path) -> None:
    errors = []
    for mirror in MIRRORS:
        url = f"{mirror}{name}.gz"
        try:
            _install(None, url, name, raw, root)
            return
        except (*_READ_ERRORS, DataError) as err:
            errors.append(f"{url} ({getattr(err, 'reason', err)})")
    raise DataError(
        f"MNIST file {name} is not in {raw} and could not be downloaded: tried "
        + "; ".join(errors)
        + ". If you are offline, copy the four MNIST files (.gz is fine) into a folder and run "
        f"`python -m mnist_course data --root {root} --from DIR` (or set {SOURCE_ENV}=DIR)."
    )


# Parsed by hand rather than with torchvision's reader so that a bad header gets a clear message.
def _read_idx(path: Path, magic: int, shape: tuple[int, ...]) -> torch.Tensor:
    data = path.read_bytes()
    header = 4 * (1 + len(shape))
    if len(data) < header:
        raise DataError(f"{path} is too short to be an MNIST file. " + _fix_hint(path.parents[2]))
    found = [int.from_bytes(data[i : i + 4], "big") for i in range(0, header, 4)]
    if found[0] != magic or tuple(found[1:]) != shape:
        raise DataError(
            f"{path} has header {found}, expected magic {magic} and shape {list(shape)}. " + _fix_hint(path.parents[2])
        )
    if len(data) != header + math.prod(shape):
        raise DataError(
            f"{path} holds {len(data) - header:,} bytes of data, expected {math.prod(shape):,}. "
            + _fix_hint(path.parents[2])
        )
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


@dataclass(frozen=True)
class MNIST:
    """The whole dataset as uint8 tensors: images (N, 28, 28) and labels (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


@lru_cache(maxsize=4)
def _load(raw: Path) -> MNIST:
    return MNIST(
        _read_idx(raw / "train-images-idx3-ubyte", 2051, (60_000, 28, 28)),
        _read_idx(raw / "train-labels-idx1-ubyte", 2049, (60_000,)).long(),
        _read_idx(raw / "t10k-images-idx3-ubyte", 2051, (10_000, 28, 28)),
        _read_idx(raw / "t10k-labels-idx1-ubyte", 2049, (10_000,)).long(),
    )


def load_mnist(root: str | Path | None = None, stage_if_missing: bool = True) -> MNIST:
    """Stage (if needed), verify and read MNIST once per process; later calls return the same tensors."""
    root = Path(root or default_root())
    raw = stage(root) if stage_if_missing else verify(root)
    return _load(raw.resolve())


def normalization_stats(images: torch.Tensor) -> tuple[float, float]:
    """Mean and std of uint8 images scaled to [0, 1] (MNIST train: ≈0.1307, ≈0.3081)."""
    pixels = images.double() / 255
    return pixels.mean().item(), pixels.std().item()


def split(
    images: torch.Tensor, labels: torch.Tensor, val_size: int, seed: int = 0
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Deterministic train/validation split: the same `seed` always gives the same partition."""
    if not 0 < val_size < len(images):
        raise ValueError(f"val_size must be between 1 and {len(images) - 1}, got {val_size}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    val, train = order[:val_size], order[val_size:]
    return (images[train], labels[train]), (images[val], labels[val])


def subset(
    images: torch.Tensor, labels: torch.Tensor, size: int | None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random but fixed subset of `size` samples (all of them when size is None), for fast runs."""
    if size is None or size >= len(images):
        return images, labels
    keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:size]
    return images[keep], labels[keep]


@dataclass(frozen=True)
class Augment:
    """Per-sample random affine (+ optional erasing) ranges. Zero everywhere means no augmentation."""

    degrees: float = 0.0  # rotation in [-degrees, degrees]
    translate: float = 0.0  # shift up to this fraction of the image size, each axis
    scale: tuple[float, float] = (1.0, 1.0)
    shear: float = 0.0  # degrees, x axis
    erase_p: float = 0.0  # probability of blanking one random rectangle
    erase_area: tuple[float, float] = (0.02, 0.1)  # fraction of the image the rectangle covers


def augment_batch(images: torch.Tensor, aug: Augment, generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly transform each image of a float batch (N, 1, H, W) in [0, 1], each with its own draw.

    torchvision's v2 transforms draw one parameter set per call, i.e. the same rotation for the whole
    batch; here every sample gets its own affine matrix and `grid_sample` warps all at once.
    Zero padding is the black background, so black stays black after normalization.
    """
    n, _, h, w = images.shape
    dev, dtype = images.device, images.dtype

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=dev, dtype=dtype) * (high - low) + low

    out = images
    if aug.degrees or aug.translate or aug.shear or aug.scale != (1.0, 1.0):
        angle = uniform(-aug.degrees, aug.degrees) * math.pi / 180
        shear = uniform(-aug.shear, aug.shear) * math.pi / 180
        scale = uniform(*aug.scale)
        # Translation in grid units: the grid spans [-1, 1], i.e. 2 units for the whole image.
        tx, ty = uniform(-aug.translate, aug.translate) * 2, uniform(-aug.translate, aug.translate) * 2
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        # grid_sample wants the output->input map. Rotation and shear are drawn from symmetric
        # ranges, so drawing that map directly (rotate · shear / scale, then shift) gives the same
        # distribution as inverting a drawn forward transform.
        theta = torch.stack(
            [
                torch.stack([cos, cos * tan - sin, tx * scale], 1),
                torch.stack([sin, sin * tan + cos, ty * scale], 1),
            ],
            1,
        ) / scale.view(n, 1, 1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        out = F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
    if aug.erase_p:
        area = uniform(*aug.erase_area) * h * w
        side_h = area.sqrt().round().clamp(1, h)
        side_w = (area / side_h).round().clamp(1, w)
        top = (uniform(0, 1) * (h - side_h + 1)).floor()
        left = (uniform(0, 1) * (w - side_w + 1)).floor()
        rows = torch.arange(h, device=dev, dtype=dtype).view(1, h, 1)
        cols = torch.arange(w, device=dev, dtype=dtype).view(1, 1, w)
        box = (
            (rows >= top.view(n, 1, 1))
            & (rows < (top + side_h).view(n, 1, 1))
            & (cols >= left.view(n, 1, 1))
            & (cols < (left + side_w).view(n, 1, 1))
        )
        erase = (uniform(0, 1) < aug.erase_p).view(n, 1, 1) & box
        out = out.masked_fill(erase.unsqueeze(1), 0.0)
    return out


def shifted(images: torch.Tensor, degrees: float = 0.0, pixels: int = 0, seed: int = 0) -> torch.Tensor:
    """A fixed, seeded copy of uint8 images (N, H, W), each rotated by +/-`degrees` and shifted by
    +/-`pixels` along each axis (signs drawn per image): a test set for robustness to shifts.

    Unlike `Augment`, the sizes are exact (only the signs are random) and the same seed always
    gives the same images, so accuracies on it can be compared between runs.
    """
    n, h, w = images.shape
    g = torch.Generator().manual_seed(seed)

    def sign() -> torch.Tensor:
        return torch.randint(0, 2, (n,), generator=g).float() * 2 - 1

    angle = sign() * degrees * math.pi / 180
    tx, ty = sign() * pixels * 2 / w, sign() * pixels * 2 / h  # grid units: the image spans [-1, 1]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, -tx], 1), torch.stack([sin, cos, -ty], 1)], 1)
    x = images.unsqueeze(1).float()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    return out.squeeze(1).round().clamp(0, 255).to(torch.uint8)


class TensorLoader:
    """Batches straight from uint8 tensors kept on the training device: no workers, no PIL.

    Each epoch shuffles with its own generator (so runs are reproducible from `seed`), scales to
    [0, 1], augments per sample and normalizes with (mean, std). On the CPU batches come out
    channels_last: for the course's models that measured neutral to 1.2x faster per training step
    (benchmarks/README.md).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        mean: float,
        std: float,
        shuffle: bool = False,
        augment: Augment | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        channels_last: bool | None = None,
    ):
        if images.dtype != torch.uint8 or images.dim() != 3:
            raise ValueError(f"images must be uint8 (N, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size, self.mean, self.std = batch_size, mean, std
        self.shuffle, self.augment = shuffle, augment
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.channels_last = self.device.type == "cpu" if channels_last is None else channels_last

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    @property
    def dataset_size(self) -> int:
        return len(self.images)

    def __iter__(self):
        n = len(self.images)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.device)
        else:
            order = torch.arange(n, device=self.device)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.images[idx].unsqueeze(1).float().div_(255)
            if self.augment is not None:
                x = augment_batch(x, self.augment, self.generator)
            x = (x - self.mean) / self.std
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[idx]


def make_loaders(
    batch_size: int = 128,
    augment: Augment | None = None,
    val_size: int | None = None,
    subset_size: int | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    root: str | Path | None = None,
    eval_batch_size: int = 1000,
) -> tuple[TensorLoader, TensorLoader]:
    """Train and evaluation loaders for MNIST.

    With `val_size`, the evaluation loader holds that many images split off the 60k training set
    (the test set stays untouched); without it, it is the 10k test set. `subset_size` keeps a fixed
    random subset of the training images (and a sixth as many evaluation images) for fast runs.
    Normalization statistics come from the training images actually used.
    """
    mnist = load_mnist(root)
    train = (mnist.train_images, mnist.train_labels)
    if val_size:
        train, evaluation = split(*train, val_size=val_size, seed=seed)
    else:
        evaluation = (mnist.test_images, mnist.test_labels)
    train = subset(*train, subset_size, seed)
    evaluation = subset(*evaluation, subset_size and max(subset_size // 6, 1), seed)
    mean, std = normalization_stats(train[0])
    common = dict(mean=mean, std=std, device=device)
    return (
        TensorLoader(*train, batch_size, shuffle=True, augment=augment, seed=seed, **common),
        TensorLoader(*evaluation, eval_batch_size, **common),
    )


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

    root = Path(root or default_root())
    verify(root)
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
