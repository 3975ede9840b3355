"""MNIST tensors to batches: splits, subsets, normalization, augmentation, fast loaders on the device.

`make_loaders()` turns `files.load_mnist()`'s uint8 tensors into batches augmented per sample on the
training device (`TensorLoader`, `Augment`). This module knows nothing of training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import files
from .course import FAST_SUBSET, fast_mode


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
    zoom: float = 1.0  # with probability zoom_p, enlarge this much about the centre, on top of `scale`
    zoom_p: float = 0.0  # (the seed assignment's CenterCrop(22) + Resize(28) for 1 image in 10: 28/22, 0.1)
    erase_area: tuple[float, float] = (0.02, 0.1)  # fraction of the image the rectangle covers


def augment_batch(images: torch.Tensor, aug: Augment, generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly transform each image of a float batch (N, 1, H, W) in [0, 1], each with its own draw.

    torchvision's v2 transforms draw one parameter set per call (the same rotation for the whole batch): here
    each sample gets its own affine matrix, all warped at once. Zero padding is black, so black stays black.
    """
    n, _, h, w = images.shape
    dev, dtype = images.device, images.dtype

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=dev, dtype=dtype) * (high - low) + low

    out = images
    if aug.degrees or aug.translate or aug.shear or aug.scale != (1.0, 1.0) or aug.zoom_p:
        angle = uniform(-aug.degrees, aug.degrees) * math.pi / 180
        shear = uniform(-aug.shear, aug.shear) * math.pi / 180
        scale = uniform(*aug.scale)
        if aug.zoom_p:
            scale = torch.where(uniform(0, 1) < aug.zoom_p, scale * aug.zoom, scale)
        # Translation in grid units: the grid spans [-1, 1], i.e. 2 units for the whole image.
        tx, ty = uniform(-aug.translate, aug.translate) * 2, uniform(-aug.translate, aug.translate) * 2
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        # grid_sample wants the output->input map. Rotation and shear ranges are symmetric, so drawing that map
        # directly (rotate · shear / scale, then shift) gives the same distribution as inverting a drawn one.
        row_x = torch.stack([cos, cos * tan - sin, tx * scale], 1)
        row_y = torch.stack([sin, sin * tan + cos, ty * scale], 1)
        theta = torch.stack([row_x, row_y], 1) / scale.view(n, 1, 1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        out = F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
    if aug.erase_p:
        area = uniform(*aug.erase_area) * h * w
        side_h = area.sqrt().round().clamp(1, h)
        side_w = (area / side_h).round().clamp(1, w)
        top = (uniform(0, 1) * (h - side_h + 1)).floor()
        left = (uniform(0, 1) * (w - side_w + 1)).floor()
        rows = torch.arange(h, device=dev, dtype=dtype).view(1, h, 1) - top.view(n, 1, 1)  # from the box's top
        cols = torch.arange(w, device=dev, dtype=dtype).view(1, 1, w) - left.view(n, 1, 1)
        box = (rows >= 0) & (rows < side_h.view(n, 1, 1)) & (cols >= 0) & (cols < side_w.view(n, 1, 1))
        erase = (uniform(0, 1) < aug.erase_p).view(n, 1, 1) & box
        out = out.masked_fill(erase.unsqueeze(1), 0.0)
    return out


def shifted(images: torch.Tensor, degrees: float = 0.0, pixels: int = 0, seed: int = 0) -> torch.Tensor:
    """A copy of uint8 images (N, H, W), each rotated by ±`degrees` and shifted by ±`pixels` along each axis.

    A test set for robustness to shifts: unlike `Augment`, the sizes are exact and only the signs are drawn,
    from `seed`, so the images are the same every time and accuracies on them compare between runs.
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

    Each epoch shuffles with its own generator (runs reproducible from `seed`), scales to [0, 1], augments per
    sample and normalizes with (mean, std). One channel makes a batch both NCHW and channels_last (the strides
    coincide), so the model's weights decide the convolutions' layout (`train.fit`'s `channels_last`).
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
    ):
        if images.dtype != torch.uint8 or images.dim() != 3:
            raise ValueError(f"images must be uint8 (N, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.device = torch.device(device)
        self.images, self.labels = images.to(self.device), labels.to(self.device)
        self.batch_size, self.mean, self.std = batch_size, mean, std
        self.shuffle, self.augment = shuffle, augment
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

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
            yield (x - self.mean) / self.std, self.labels[idx]


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

    With `val_size`, the evaluation loader holds that many images split off the 60k training set (the test
    set stays untouched); without, the 10k test set. `subset_size` keeps a fixed random subset of the training
    images (and a sixth as many evaluation images) for fast runs; fast mode (`course.fast_mode()`) makes it
    20,000 by default, so a lesson needs no `if` of its own. Normalization uses the training images kept.
    """
    if subset_size is None and fast_mode():
        subset_size = FAST_SUBSET
    mnist = files.load_mnist(root)
    train, evaluation = (mnist.train_images, mnist.train_labels), (mnist.test_images, mnist.test_labels)
    if val_size:
        train, evaluation = split(*train, val_size=val_size, seed=seed)
    train = subset(*train, subset_size, seed)
    evaluation = subset(*evaluation, subset_size and max(subset_size // 6, 1), seed)
    mean, std = normalization_stats(train[0])
    common = dict(mean=mean, std=std, device=device)
    return (
        TensorLoader(*train, batch_size, shuffle=True, augment=augment, seed=seed, **common),
        TensorLoader(*evaluation, eval_batch_size, **common),
    )
