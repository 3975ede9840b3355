import gzip
import hashlib
import socket
from pathlib import Path

import pytest
import torch

from mnist_course import files

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "mnist"


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real, verified MNIST data folder (staged from ../shared/mnist when it is not there yet)."""
    root = files.default_root()
    try:
        files.verify(root)
    except files.DataError:
        try:  # the course machine's copy, else $MNIST_COURSE_DATA_FROM or a download
            files.stage(root, source=SHARED_MNIST if SHARED_MNIST.is_dir() else None)
        except files.DataError as err:
            pytest.fail(str(err))
    return root


@pytest.fixture
def no_network(monkeypatch):
    """Make every connection attempt fail inside the test; nothing is ever contacted."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _idx(magic: int, shape: tuple[int, ...], seed: int) -> bytes:
    header = b"".join(v.to_bytes(4, "big") for v in (magic, *shape))
    body = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    return header + body.numpy().tobytes()


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch) -> Path:
    """A folder of four small synthetic MNIST-format .gz files; files.FILES is patched to their sums."""
    source = tmp_path / "source"
    source.mkdir()
    contents = {
        "train-images-idx3-ubyte": _idx(2051, (6, 28, 28), 0),
        "train-labels-idx1-ubyte": _idx(2049, (6,), 1),
        "t10k-images-idx3-ubyte": _idx(2051, (2, 28, 28), 2),
        "t10k-labels-idx1-ubyte": _idx(2049, (2,), 3),
    }
    for name, content in contents.items():
        (source / f"{name}.gz").write_bytes(gzip.compress(content))
    monkeypatch.setattr(files, "FILES", {n: (hashlib.md5(c).hexdigest(), len(c)) for n, c in contents.items()})
    return source
