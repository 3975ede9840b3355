"""MNIST on disk: the four files staged in `<root>/MNIST/raw/` (torchvision's layout), checked, read.

Every problem is a `DataError` that names the file and the fix. Batches are `data`'s business.
"""

from __future__ import annotations

import contextlib
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

from . import atomic

# MD5 of the decompressed files (the canonical originals) and their sizes in bytes.
FILES = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 47_040_016),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60_008),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 7_840_016),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10_008),
}
# Where torchvision downloads MNIST from (same files, gzipped).
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
SOURCE_ENV = "MNIST_COURSE_DATA_FROM"
ROOT_ENV = "MNIST_COURSE_DATA"
_VERIFIED = ".verified.json"
# What reading a gzip file or a download can raise (URLError, timeouts and BadGzipFile are OSErrors).
_READ_ERRORS = (OSError, EOFError, http.client.HTTPException)


class DataError(RuntimeError):
    """Anything wrong with the MNIST files: the message names the file and the fix."""


def default_root() -> Path:
    """$MNIST_COURSE_DATA, else `data/` of the source checkout when the helper runs from one, else `./data`."""
    if os.environ.get(ROOT_ENV):  # lets notebooks find the data whatever their working folder
        return Path(os.environ[ROOT_ENV])
    checkout = Path(__file__).resolve().parent.parent
    return checkout / "data" if (checkout / "pyproject.toml").is_file() else Path("data")


def raw_dir(root: str | Path | None = None) -> Path:
    return Path(root or default_root()) / "MNIST" / "raw"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # whole files in memory, as _read_idx reads them anyway


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


def _problems(raw: Path) -> dict[str, str]:
    """What is wrong with each file in `raw` ("is missing", …), in FILES order; good files are left out.

    A file is hashed once: its size and mtime go to `.verified.json`, so later loads skip re-hashing 55 MB.
    """
    try:
        remembered = json.loads((raw / _VERIFIED).read_text())
    except (OSError, ValueError):
        remembered = {}
    verified, problems = dict(remembered), {}
    for name in FILES:
        path = raw / name
        if not path.is_file():
            problems[name] = "is missing"
            continue
        fingerprint = [path.stat().st_size, path.stat().st_mtime_ns]
        if verified.get(name) != fingerprint:
            problem = _check_file(path, name)
            if problem:
                problems[name] = problem
            else:
                verified[name] = fingerprint
    if verified != remembered:
        with contextlib.suppress(OSError):  # a read-only data folder still works: it is hashed again next time
            atomic.write_text(raw / _VERIFIED, json.dumps(verified))
    return problems


def _fix_hint(root: Path) -> str:
    return (
        f"Fix: run `python -m mnist_course data --root {root}`, which replaces missing or bad files "
        f"(add `--from DIR` to copy them from a folder holding the MNIST files, or set {SOURCE_ENV}=DIR)."
    )


def verify(root: str | Path | None = None) -> Path:
    """Check the four files in `<root>/MNIST/raw` and return that folder; raise DataError if any is wrong."""
    root = Path(root or default_root())
    raw = raw_dir(root)
    problems = _problems(raw)
    if problems:
        name = next(iter(problems))
        raise DataError(f"MNIST file {raw / name} {problems[name]}. " + _fix_hint(root))
    return raw


def _find_in(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz", folder / "MNIST" / "raw" / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder} has no {name} or {name}.gz. Point --from at the folder with all four MNIST files.")


def _install(origin: Path | str, name: str, raw: Path, root: Path) -> None:
    """Write `origin` (a file, .gz or not, or a .gz URL) to `raw/name`: to a temporary name, checked, renamed."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=raw)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(origin, str):
                with urllib.request.urlopen(origin, timeout=30) as response, gzip.GzipFile(fileobj=response) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            else:
                with (gzip.open if origin.suffix == ".gz" else open)(origin, "rb") as src:
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
        if isinstance(origin, str):
            raise  # a network failure: _download tries the next mirror
        raise DataError(
            f"Could not read MNIST file {origin}: {err}. Nothing was written to {raw}. "
            f"Replace it with a good copy and run `python -m mnist_course data --root {root}` again."
        ) from err
    finally:
        tmp.unlink(missing_ok=True)


def _download(name: str, raw: Path, root: Path) -> None:
    errors = []
    for mirror in MIRRORS:
        url = f"{mirror}{name}.gz"
        try:
            _install(url, name, raw, root)
            return
        except (*_READ_ERRORS, DataError) as err:
            errors.append(f"{url} ({getattr(err, 'reason', err)})")
    raise DataError(
        f"MNIST file {name} is not in {raw} and could not be downloaded: tried {'; '.join(errors)}. If you are "
        "offline, copy the four MNIST files (.gz is fine) into a folder and run "
        f"`python -m mnist_course data --root {root} --from DIR` (or set {SOURCE_ENV}=DIR)."
    )


def stage(root: str | Path | None = None, source: str | Path | None = None, download: bool = True) -> Path:
    """Make sure the four MNIST files are in `<root>/MNIST/raw`, verified; return that folder.

    Sources, in order: files already there → `source` (or $MNIST_COURSE_DATA_FROM), a folder of `.gz` or raw
    files → torchvision's download mirrors. Each file is checked before it takes its final name, so `data/`
    only ever holds complete, verified files.
    """
    root = Path(root or default_root())
    source = source or os.environ.get(SOURCE_ENV)
    source = Path(source) if source else None
    raw = raw_dir(root)
    if source is not None and not source.is_dir():
        raise DataError(
            f"The folder to stage MNIST from does not exist: {source}. Pass the folder that "
            "holds train-images-idx3-ubyte(.gz) and the three other files."
        )
    try:
        raw.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=raw).close()
    except OSError as err:
        raise DataError(
            f"Cannot write to the data folder {raw}: {err.strerror}. Choose a writable folder with "
            f"`--root DIR` (or set {ROOT_ENV}=DIR)."
        ) from err
    for name in _problems(raw):
        if source is not None:
            _install(_find_in(source, name), name, raw, root)
        elif download:
            _download(name, raw, root)
        else:
            raise DataError(f"MNIST file {raw / name} is missing. " + _fix_hint(root))
    return verify(root)


# Parsed by hand rather than with torchvision's reader so that a bad header gets a clear message.
def _read_idx(path: Path, magic: int, shape: tuple[int, ...]) -> torch.Tensor:
    data = path.read_bytes()
    header = 4 * (1 + len(shape))
    found = [int.from_bytes(data[i : i + 4], "big") for i in range(0, header, 4)]
    if len(data) < header:
        problem = "is too short to be an MNIST file"
    elif found[0] != magic or tuple(found[1:]) != shape:
        problem = f"has header {found}, expected magic {magic} and shape {list(shape)}"
    elif len(data) != header + math.prod(shape):
        problem = f"holds {len(data) - header:,} bytes of data, expected {math.prod(shape):,}"
    else:
        return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)
    raise DataError(f"{path} {problem}. " + _fix_hint(path.parents[2]))


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
    raw = stage(root) if stage_if_missing else verify(root)
    return _load(raw.resolve())
