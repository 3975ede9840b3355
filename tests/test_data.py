import pytest
import torch

from mnist_course import data, files

# --- statistics, splits and loaders ------------------------------------------------------------


def test_normalization_stats_of_real_mnist(mnist_root):
    mean, std = data.normalization_stats(files.load_mnist(mnist_root).train_images)
    assert mean == pytest.approx(0.1307, abs=1e-4) and std == pytest.approx(0.3081, abs=1e-4)


def test_split_is_deterministic_and_disjoint(mnist_root):
    mnist = files.load_mnist(mnist_root)
    (tr, _), (va, _) = data.split(mnist.train_images, mnist.train_labels, 10_000, seed=3)
    (tr2, _), (va2, _) = data.split(mnist.train_images, mnist.train_labels, 10_000, seed=3)
    assert len(tr) == 50_000 and len(va) == 10_000
    assert torch.equal(va, va2) and torch.equal(tr, tr2)
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(3))
    assert set(order[:10_000].tolist()).isdisjoint(order[10_000:].tolist())


def test_make_loaders_validation_and_subset(mnist_root, monkeypatch):
    monkeypatch.setenv("MNIST_COURSE_FAST", "0")  # full mode: fast mode would take its own subset
    train, val = data.make_loaders(batch_size=100, val_size=10_000, root=mnist_root)
    assert train.dataset_size == 50_000 and val.dataset_size == 10_000 and len(train) == 500
    train, test = data.make_loaders(batch_size=100, subset_size=600, root=mnist_root)
    assert train.dataset_size == 600 and test.dataset_size == 100
    x, y = next(iter(train))
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)  # one channel: both


# --- augmentation ------------------------------------------------------------------------------

AUG = data.Augment(degrees=15, translate=0.1, scale=(0.9, 1.1), shear=10, erase_p=1.0)


def test_augmentation_keeps_shape_dtype_range_and_differs_per_sample(mnist_root):
    one = files.load_mnist(mnist_root).train_images[:1].float().div(255).unsqueeze(1)
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


def test_zoom_enlarges_about_the_centre_for_its_share_of_the_images():
    square = torch.zeros(1000, 1, 28, 28)
    square[:, :, 10:18, 10:18] = 1.0  # an 8x8 square in the middle
    out = data.augment_batch(square, data.Augment(zoom=2.0, zoom_p=0.3), torch.Generator().manual_seed(0))
    ink = out.flatten(1).sum(1)
    zoomed = ink > 1.5 * 64  # twice the side: about four times the ink
    assert 0.25 < zoomed.float().mean() < 0.35  # about zoom_p of the images
    assert torch.allclose(out[~zoomed], square[~zoomed])  # the others are untouched
    assert out[zoomed][:, :, 13:15, 13:15].min() > 0.9  # still centred
