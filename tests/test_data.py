import gzip
import os
import subprocess
import sys

import pytest
import torch

from mnist_course import data


def snapshot(folder):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


def raw_names(root):
    return sorted(p.name for p in data.raw_dir(root).iterdir())


# --- staging and verification ------------------------------------------------------------------


def test_stage_from_gz_folder_verifies_and_leaves_source_untouched(tiny_mnist, tmp_path):
    before = snapshot(tiny_mnist)
    raw = data.stage(tmp_path / "d", source=tiny_mnist, download=False)
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith(".")) == sorted(data.FILES)
    assert snapshot(tiny_mnist) == before
    assert (raw / ".verified.json").is_file()


def test_stage_from_env_var_and_raw_files(tiny_mnist, tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    for gz in tiny_mnist.iterdir():
        (plain / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    monkeypatch.setenv(data.SOURCE_ENV, str(plain))
    data.stage(tmp_path / "d", download=False)
    data.verify(tmp_path / "d")


def test_verified_files_are_not_rehashed(tiny_mnist, tmp_path, monkeypatch):
    root = tmp_path / "d"
    data.stage(root, source=tiny_mnist, download=False)
    calls = []
    monkeypatch.setattr(data, "_md5", lambda path: calls.append(path) or "x")
    data.verify(root)
    assert calls == []
    # A file that changed since it was verified is hashed again (and fails here).
    target = data.raw_dir(root) / "t10k-labels-idx1-ubyte"
    os.utime(target, ns=(1, 1))
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte"):
        data.verify(root)


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
    with pytest.raises(data.DataError, match=message) as err:
        data.stage(root, source=tiny_mnist, download=False)
    assert "train-images-idx3-ubyte" in str(err.value)
    assert snapshot(tiny_mnist) == before
    assert "train-images-idx3-ubyte" not in raw_names(root)
    assert not [n for n in raw_names(root) if n.endswith(".part")]


def test_not_gzip_at_all(tiny_mnist, tmp_path):
    (tiny_mnist / "t10k-images-idx3-ubyte.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(data.DataError, match="Could not read MNIST file .*t10k-images-idx3-ubyte.gz"):
        data.stage(tmp_path / "d", source=tiny_mnist, download=False)
    assert not [n for n in raw_names(tmp_path / "d") if n.endswith(".part")]


def test_corrupted_file_in_data_folder_is_reported_with_fix(tiny_mnist, tmp_path):
    root = tmp_path / "d"
    data.stage(root, source=tiny_mnist, download=False)
    target = data.raw_dir(root) / "train-labels-idx1-ubyte"
    target.write_bytes(b"\0" * target.stat().st_size)
    with pytest.raises(data.DataError, match="wrong MD5.*python -m mnist_course data"):
        data.verify(root)
    # Staging again repairs it from the source.
    data.stage(root, source=tiny_mnist, download=False)
    data.verify(root)


def test_missing_source_folder(tmp_path):
    with pytest.raises(data.DataError, match="does not exist: .*nowhere"):
        data.stage(tmp_path / "d", source=tmp_path / "nowhere")


def test_source_folder_without_the_files(tiny_mnist, tmp_path):
    (tiny_mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="has no t10k-labels-idx1-ubyte"):
        data.stage(tmp_path / "d", source=tiny_mnist)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_data_folder(tiny_mnist, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(data.DataError, match="Cannot write to the data folder"):
            data.stage(locked, source=tiny_mnist)
    finally:
        locked.chmod(0o700)


def test_unwritable_data_folder_even_as_root(tiny_mnist, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(data.DataError, match="Cannot write to the data folder"):
        data.stage(blocker, source=tiny_mnist)


def test_offline_with_nothing_local_says_what_was_tried(tmp_path, no_network, monkeypatch):
    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    with pytest.raises(data.DataError) as err:
        data.stage(tmp_path / "d")
    message = str(err.value)
    for mirror in data.MIRRORS:
        assert mirror in message
    assert "python -m mnist_course data" in message and "--from DIR" in message
    assert not [n for n in raw_names(tmp_path / "d") if not n.startswith(".verified")]


def test_wrong_header_or_count(tmp_path):
    path = tmp_path / "MNIST" / "raw" / "labels"
    path.parent.mkdir(parents=True)
    path.write_bytes((2049).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\0" * 5)
    with pytest.raises(data.DataError, match="header"):
        data._read_idx(path, 2049, (6,))
    path.write_bytes((2049).to_bytes(4, "big") + (6).to_bytes(4, "big") + b"\0" * 5)
    with pytest.raises(data.DataError, match="expected 6"):
        data._read_idx(path, 2049, (6,))


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

    source = data.raw_dir(mnist_root)  # decompressed files work as a source as well as .gz
    before = snapshot(source)
    assert main(["data", "--root", str(tmp_path / "d"), "--from", str(source), "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "4 files verified" in out and "mean 0.1307, std 0.3081" in out
    assert snapshot(source) == before
    assert raw_names(tmp_path / "d") == sorted([".verified.json", *data.FILES])


# --- the real dataset in memory ----------------------------------------------------------------


def test_real_mnist_loads_once_with_computed_stats(mnist_root):
    mnist = data.load_mnist(mnist_root)
    assert mnist.train_images.shape == (60_000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_labels.shape == (10_000,) and set(mnist.test_labels.tolist()) == set(range(10))
    assert data.load_mnist(mnist_root) is mnist
    mean, std = data.normalization_stats(mnist.train_images)
    assert mean == pytest.approx(0.1307, abs=1e-4) and std == pytest.approx(0.3081, abs=1e-4)


def test_torchvision_reads_the_staged_folder(mnist_root):
    from torchvision.datasets import MNIST

    test = MNIST(mnist_root, train=False, download=False)
    assert len(test) == 10_000


def test_split_is_deterministic_and_disjoint(mnist_root):
    mnist = data.load_mnist(mnist_root)
    (tr, _), (va, _) = data.split(mnist.train_images, mnist.train_labels, 10_000, seed=3)
    (tr2, _), (va2, _) = data.split(mnist.train_images, mnist.train_labels, 10_000, seed=3)
    assert len(tr) == 50_000 and len(va) == 10_000
    assert torch.equal(va, va2) and torch.equal(tr, tr2)
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(3))
    assert set(order[:10_000].tolist()).isdisjoint(order[10_000:].tolist())


def test_make_loaders_validation_and_subset(mnist_root):
    train, val = data.make_loaders(batch_size=100, val_size=10_000, root=mnist_root)
    assert train.dataset_size == 50_000 and val.dataset_size == 10_000 and len(train) == 500
    train, test = data.make_loaders(batch_size=100, subset_size=600, root=mnist_root)
    assert train.dataset_size == 600 and test.dataset_size == 100
    x, y = next(iter(train))
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous(memory_format=torch.channels_last)


# --- augmentation ------------------------------------------------------------------------------

AUG = data.Augment(degrees=15, translate=0.1, scale=(0.9, 1.1), shear=10, erase_p=1.0)


def test_augmentation_keeps_shape_dtype_range_and_differs_per_sample(mnist_root):
    one = data.load_mnist(mnist_root).train_images[:1].float().div(255).unsqueeze(1)
    batch = one.expand(16, 1, 28, 28).contiguous()
    out = data.augment_batch(batch, AUG, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert out.min() >= 0 and out.max() <= 1
    distinct = {tuple(o.flatten().round(decimals=3).tolist()) for o in out}
    assert len(distinct) == 16  # same input, 16 different draws


def test_black_stays_black_and_identity_without_ranges():
    black = torch.zeros(4, 1, 28, 28)
    assert torch.equal(data.augment_batch(black, AUG), black)
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(data.augment_batch(x, data.Augment()), x)


def test_loader_is_reproducible_from_its_seed(mnist_root):
    def first_batch(seed):
        train, _ = data.make_loaders(batch_size=64, augment=AUG, subset_size=512, seed=seed, root=mnist_root)
        return next(iter(train))

    (a, ya), (b, yb), (c, _) = first_batch(1), first_batch(1), first_batch(2)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)


def test_loader_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        data.TensorLoader(torch.zeros(4, 28, 28), torch.zeros(4), 2, 0.1, 0.3)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        data.TensorLoader(torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(3), 2, 0.1, 0.3)


def test_classic_loaders_still_work(mnist_root):
    train, test = data.classic_loaders(batch_size=32, root=mnist_root)
    x, y = next(iter(train))
    assert x.shape == (32, 1, 28, 28) and y.shape == (32,)
    assert len(test.dataset) == 10_000
