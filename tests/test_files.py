import gzip
import os
import subprocess
import sys

import pytest
import torch

from mnist_course import files


def snapshot(folder):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


def raw_names(root):
    return sorted(p.name for p in files.raw_dir(root).iterdir())


# --- staging and verification ------------------------------------------------------------------


def test_stage_from_gz_folder_verifies_and_leaves_source_untouched(tiny_mnist, tmp_path):
    before = snapshot(tiny_mnist)
    raw = files.stage(tmp_path / "d", source=tiny_mnist, download=False)
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith(".")) == sorted(files.FILES)
    assert snapshot(tiny_mnist) == before
    assert (raw / ".verified.json").is_file()


def test_stage_from_env_var_and_raw_files(tiny_mnist, tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    for gz in tiny_mnist.iterdir():
        (plain / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    monkeypatch.setenv(files.SOURCE_ENV, str(plain))
    files.stage(tmp_path / "d", download=False)
    files.verify(tmp_path / "d")


def test_verified_files_are_not_rehashed(tiny_mnist, tmp_path, monkeypatch):
    root = tmp_path / "d"
    files.stage(root, source=tiny_mnist, download=False)
    calls = []
    monkeypatch.setattr(files, "_md5", lambda path: calls.append(path) or "x")
    files.verify(root)
    assert calls == []
    # A file that changed since it was verified is hashed again (and fails here).
    target = files.raw_dir(root) / "t10k-labels-idx1-ubyte"
    os.utime(target, ns=(1, 1))
    with pytest.raises(files.DataError, match="t10k-labels-idx1-ubyte"):
        files.verify(root)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b"", "is empty"),
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), "wrong MD5"),
    ],
    ids=["empty", "truncated", "corrupted"],
)
def test_bad_source_file_is_named_and_nothing_is_written(tiny_mnist, tmp_path, damage, message):
    gz = tiny_mnist / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(damage(gzip.decompress(gz.read_bytes()))))
    before = snapshot(tiny_mnist)
    root = tmp_path / "d"
    with pytest.raises(files.DataError, match=message) as err:
        files.stage(root, source=tiny_mnist, download=False)
    assert "train-images-idx3-ubyte" in str(err.value)
    assert snapshot(tiny_mnist) == before
    assert "train-images-idx3-ubyte" not in raw_names(root)
    assert not [n for n in raw_names(root) if n.endswith(".part")]


def test_not_gzip_at_all(tiny_mnist, tmp_path):
    (tiny_mnist / "t10k-images-idx3-ubyte.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(files.DataError, match="Could not read MNIST file .*t10k-images-idx3-ubyte.gz"):
        files.stage(tmp_path / "d", source=tiny_mnist, download=False)
    assert not [n for n in raw_names(tmp_path / "d") if n.endswith(".part")]


def test_corrupted_file_in_data_folder_is_reported_with_fix(tiny_mnist, tmp_path):
    root = tmp_path / "d"
    files.stage(root, source=tiny_mnist, download=False)
    target = files.raw_dir(root) / "train-labels-idx1-ubyte"
    target.write_bytes(b"\0" * target.stat().st_size)
    with pytest.raises(files.DataError, match="wrong MD5.*python -m mnist_course data"):
        files.verify(root)
    # Staging again repairs it from the source.
    files.stage(root, source=tiny_mnist, download=False)
    files.verify(root)


def test_missing_source_folder(tmp_path):
    with pytest.raises(files.DataError, match="does not exist: .*nowhere"):
        files.stage(tmp_path / "d", source=tmp_path / "nowhere")


def test_source_folder_without_the_files(tiny_mnist, tmp_path):
    (tiny_mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(files.DataError, match="has no t10k-labels-idx1-ubyte"):
        files.stage(tmp_path / "d", source=tiny_mnist)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_data_folder(tiny_mnist, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(files.DataError, match="Cannot write to the data folder"):
            files.stage(locked, source=tiny_mnist)
    finally:
        locked.chmod(0o700)


def test_unwritable_data_folder_even_as_root(tiny_mnist, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(files.DataError, match="Cannot write to the data folder"):
        files.stage(blocker, source=tiny_mnist)


def test_offline_with_nothing_local_says_what_was_tried(tmp_path, no_network, monkeypatch):
    monkeypatch.delenv(files.SOURCE_ENV, raising=False)
    with pytest.raises(files.DataError) as err:
        files.stage(tmp_path / "d")
    message = str(err.value)
    for mirror in files.MIRRORS:
        assert mirror in message
    assert "python -m mnist_course data" in message and "--from DIR" in message
    assert not [n for n in raw_names(tmp_path / "d") if not n.startswith(".verified")]


def test_wrong_header_or_count(tmp_path):
    path = tmp_path / "MNIST" / "raw" / "labels"
    path.parent.mkdir(parents=True)
    path.write_bytes((2049).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\0" * 5)
    with pytest.raises(files.DataError, match="header"):
        files._read_idx(path, 2049, (6,))
    path.write_bytes((2049).to_bytes(4, "big") + (6).to_bytes(4, "big") + b"\0" * 5)
    with pytest.raises(files.DataError, match="expected 6"):
        files._read_idx(path, 2049, (6,))


def test_cli_error_is_one_paragraph_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mnist_course", "data", "--root", str(tmp_path / "d"), "--from", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "does not exist" in result.stderr


def test_cli_stages_from_a_folder_and_reports(mnist_root, tmp_path, capsys):
    from mnist_course.__main__ import main

    source = files.raw_dir(mnist_root)  # decompressed files work as a source as well as .gz
    before = snapshot(source)
    assert main(["data", "--root", str(tmp_path / "d"), "--from", str(source), "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "4 files verified" in out and "mean 0.1307, std 0.3081" in out
    assert snapshot(source) == before
    assert raw_names(tmp_path / "d") == sorted([".verified.json", *files.FILES])


# --- the real dataset in memory ----------------------------------------------------------------


def test_real_mnist_loads_once(mnist_root):
    mnist = files.load_mnist(mnist_root)
    assert mnist.train_images.shape == (60_000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_labels.shape == (10_000,) and set(mnist.test_labels.tolist()) == set(range(10))
    assert files.load_mnist(mnist_root) is mnist


def test_torchvision_reads_the_staged_folder(mnist_root):
    from torchvision.datasets import MNIST

    test = MNIST(mnist_root, train=False, download=False)
    assert len(test) == 10_000
