"""MNIST files on disk: staged, checked against their MD5 checksums, read into uint8 tensors.

`stage()` makes sure the four files sit verified in `<root>/MNIST/raw/` (torchvision's layout):
copied from a folder you name or downloaded from torchvision's mirrors, each written under a
temporary name, checked, then renamed. `verify()` checks them (hashing each file once, remembered in
`.verified.json`), and `load_mnist()` reads them once per process into an `MNIST` of uint8 tensors.
Every problem is a `DataError` naming the file and the fix. Batches are `data`'s business.
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
