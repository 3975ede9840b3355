"""Your own digits for a MNIST model: `prepare_digit()` makes any picture of one digit look like MNIST.

A MNIST model has only seen light digits on black, scaled to fit 20×20 and placed in 28×28 with their centre
of mass at the centre (LeCun et al.'s recipe); a photo of ink on paper gets nonsense answers until it is made
the same way. `typeface_digits()` prepares printed digits alike: a first look at distribution shift.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the 60,000 training images, scaled to [0, 1]
WORK_SIZE = 256  # larger pictures are shrunk to this longer side first: the result is 20 px tall anyway
MIN_CONTRAST = 0.1  # ink must stand this far (on a 0–1 scale) above the background, or there is no digit
FONT_DIRS = ("/usr/share/fonts",)  # where typeface_digits() looks for TrueType/OpenType fonts
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights, what PIL's convert("L") uses


def _as_hwc(image) -> torch.Tensor:
    """Any supported input as a float tensor (H, W, C) on the 0–255 scale, C = 1–4 (grey, +alpha, RGB, RGBA)."""
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"No image file at {path}.")
        try:
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened)  # phone photos store their rotation in EXIF
                image.load()
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"Cannot read {path} as an image ({err}). Pass a PNG or JPEG file.") from err
    if isinstance(image, Image.Image):
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16/32-bit greyscale
            image = np.array(image, dtype=np.float32)
        else:
            alpha = "A" in image.getbands() or "transparency" in image.info
            image = np.array(image.convert("LA" if alpha else "L"))
    channels_first = isinstance(image, torch.Tensor)  # tensors are (C, H, W), arrays and PIL (H, W, C)
    if isinstance(image, np.ndarray):
        if image.dtype.kind in "iu" and image.dtype != np.uint8:
            image = image.astype(np.int64)  # 16-bit images and the like; torch lacks some of these types
        image = torch.from_numpy(np.array(image))  # a writable copy
    if not isinstance(image, torch.Tensor):
        raise TypeError(
            "prepare_digit takes a PIL image, a numpy array, a torch tensor or a file path, "
            f"not {type(image).__name__}."
        )
    x = image.detach().cpu()
    while x.dim() > 3 and x.shape[0] == 1:  # (1, C, H, W) batches of one
        x = x[0]
    if x.dim() == 2:
        x = x[..., None]
    elif x.dim() == 3 and channels_first and x.shape[0] in (1, 2, 3, 4):
        x = x.permute(1, 2, 0)
    if x.dim() != 3 or x.shape[2] not in (1, 2, 3, 4) or min(x.shape[:2]) < 2:
        raise ValueError(
            "Expected one image: (H, W), (H, W, C) or (C, H, W) with C = 1 to 4 channels, "
            f"got shape {tuple(image.shape)}."
        )
    if x.is_floating_point() or x.dtype == torch.bool:
        x = x.float()
        low, high = x.min().item(), x.max().item()
        if low < 0 or high > 255:
            return (x - low) / max(high - low, 1e-12) * 255  # e.g. an already normalized tensor
        return x * 255 if high <= 1 else x  # bools and floats in [0, 1], or floats on the 0–255 scale
    if x.dtype == torch.uint8:
        return x.float()
    return x.float() / max(x.max().item(), 1) * 255  # 16-bit and other integer images


def _to_grey(x: torch.Tensor) -> torch.Tensor:
    """(H, W, C) on 0–255 → (H, W) grey. Transparent parts are filled with whatever contrasts with the ink."""
    colour = x[..., :3] if x.shape[2] >= 3 else x[..., :1]
    alpha = x[..., -1] / 255 if x.shape[2] in (2, 4) else None
    grey = (colour * torch.tensor(_LUMA)).sum(-1) if colour.shape[2] == 3 else colour[..., 0]
    if alpha is None or bool((alpha == 1).all()):
        return grey
    # A transparent background's colour is meaningless (often black, like the strokes): contrast with the ink.
    ink = (grey * alpha).sum() / alpha.sum().clamp(min=1e-6)
    background = 255.0 if ink < 128 else 0.0
    return grey * alpha + background * (1 - alpha)


def _fit(x: torch.Tensor, size: int) -> torch.Tensor:
    """(H, W) scaled, aspect kept, to a longer side of `size`; anti-aliased, as MNIST's grey levels came about."""
    scale = size / max(x.shape)
    new = [max(1, round(n * scale)) for n in x.shape]
    return F.interpolate(x[None, None], size=new, mode="bilinear", antialias=True, align_corners=False)[0, 0]


def _dilate(x: torch.Tensor, k: int) -> torch.Tensor:
    """Maximum over a k×k square (two 1-D passes: the same result, k times cheaper). -_dilate(-x) erodes."""
    x = F.max_pool2d(x[None, None], (1, k), stride=1, padding=(0, k // 2))
    return F.max_pool2d(x, (k, 1), stride=1, padding=(k // 2, 0))[0, 0]


def _otsu(x: torch.Tensor, bins: int = 256) -> float:
    """Otsu's threshold for values in [0, 1]: the cut that best separates two groups (max between-class variance)."""
    hist = torch.histc(x.double(), bins=bins, min=0, max=1)
    p = hist / hist.sum()
    centres = (torch.arange(bins, dtype=torch.float64) + 0.5) / bins
    w0 = p.cumsum(0)  # weight of the dark group for a cut after each bin
    m0 = (p * centres).cumsum(0)
    between = (m0[-1] * w0 - m0) ** 2 / (w0 * (1 - w0)).clamp(min=1e-12)
    return (int(between.argmax()) + 1) / bins


def _mnist_like(grey: torch.Tensor) -> torch.Tensor:
    """(H, W) grey on 0–255, either polarity → (28, 28) in [0, 1], light digit on black, centred like MNIST."""
    grey = _fit(grey, WORK_SIZE) if max(grey.shape) > WORK_SIZE else grey
    h, w = grey.shape
    # 1. Light ink on black: the border is mostly background; if it is nearer the bright end, invert.
    ring = max(1, min(h, w) // 20)
    border = torch.ones(h, w, dtype=torch.bool)
    border[ring:-ring, ring:-ring] = False
    back = grey[border].median()
    if grey.max() - back < back - grey.min():
        grey = 255 - grey  # exact on the 0–255 scale, so both polarities of an image give the same result
    x = grey / 255
    # 2. Flatten the background (shadows, uneven light): subtract its local level, an opening with a square
    #    wider than any stroke (a white top-hat), on replicate-padded edges so gradients flatten up to them.
    k = max(3, max(h, w) // 3) | 1
    padded = F.pad(x[None, None], (k, k, k, k), mode="replicate")[0, 0]
    flat = (x - _dilate(-_dilate(-padded, k), k)[k:-k, k:-k]).clamp(min=0)
    # 3. Otsu's cut splits ink from background; stroke cores (median ink and brighter) become 1 like MNIST's,
    #    the background's noise (median + 4 robust sigmas) 0, the edges between stay grey.
    t = _otsu(flat)
    ink, background = flat[flat > t], flat[flat <= t]
    if ink.numel() == 0 or ink.median() < MIN_CONTRAST:
        raise ValueError(
            "No digit found: the image is blank or almost uniform (no ink stands out from the background). "
            "Pass a picture of one digit, dark on light or light on dark."
        )
    level = ink.median()
    noise = background.median() + 4 * 1.4826 * (background - background.median()).abs().median()
    floor = min(noise.item(), t)
    x = ((flat - floor) / (level - floor)).clamp(0, 1)
    # 4. Crop to the ink (lone specks removed) and its grey fringe within 2 px; fainter pixels farther out go.
    mask = flat > t
    solid = mask & (F.avg_pool2d(mask[None, None].float(), 3, 1, 1, count_include_pad=True)[0, 0] * 9 >= 2)
    near = _dilate((solid if solid.any() else mask).float(), 5) > 0
    x = x * near
    rows, cols = (x > 0).any(1).nonzero().flatten(), (x > 0).any(0).nonzero().flatten()
    x = x[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # 5. Scale to fit 20×20.
    x = _fit(x, 20)
    x = (x / x.max()).clamp(0, 1)
    # 6. Centre of mass on pixel (14, 14), as MNIST's (14.0 ± 0.3): whole-pixel shifts, no ink falling off.
    mass = x.sum()
    cy = (x.sum(1) * torch.arange(x.shape[0])).sum() / mass
    cx = (x.sum(0) * torch.arange(x.shape[1])).sum() / mass
    top = min(max(math.floor(14 - cy.item() + 0.5), 0), 28 - x.shape[0])
    left = min(max(math.floor(14 - cx.item() + 0.5), 0), 28 - x.shape[1])
    return F.pad(x, (left, 28 - left - x.shape[1], top, 28 - top - x.shape[0]))


def prepare_digit(image, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> torch.Tensor:
    """Any picture of one digit → a normalized MNIST-style input of shape (1, 1, 28, 28), ready for `model(x)`.

    `image`: a file path, PIL image, numpy array ((H, W) or (H, W, C)) or tensor ((H, W) or (C, H, W)); grey,
    RGB or RGBA; uint8 or floats in [0, 1]; a photo or a drawing, dark on light or light on dark. (mean, std)
    are MNIST's by default: pass the ones your model was trained with. Raises ValueError when no digit stands
    out. One digit per picture (crop first); a hard-edged shadow across the border can fool the light/dark test.
    """
    x = _mnist_like(_to_grey(_as_hwc(image)))
    return ((x - mean) / std).reshape(1, 1, 28, 28)


def _font_files() -> list[Path]:
    suffixes = {".ttf", ".otf", ".ttc"}
    return sorted(p for d in FONT_DIRS if Path(d).is_dir() for p in Path(d).rglob("*") if p.suffix.lower() in suffixes)


def _default_font(size: int):
    try:
        return ImageFont.load_default(size=size)  # a scalable font, Pillow >= 10.1 with FreeType
    except TypeError:
        return ImageFont.load_default()  # older Pillow: a small bitmap font, prepare_digit scales it up


def _render(text: str, font, size: int) -> torch.Tensor:
    """`text` in black on a white canvas with a margin, as a (H, W) tensor on the 0–255 scale."""
    canvas = Image.new("L", (2 * size, 2 * size), 255)
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    draw.text(((canvas.width - x0 - x1) / 2, (canvas.height - y0 - y1) / 2), text, fill=0, font=font)
    return torch.from_numpy(np.asarray(canvas).copy()).float()


def typeface_digits(fonts=None, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits 0–9 printed in several typefaces, prepared like MNIST: (images uint8 (N, 28, 28), labels (N,)).

    `fonts`: font files or PIL fonts; None means PIL's built-in font (so it works with none installed) plus
    every font under FONT_DIRS. Fonts that fail to load or have no digit glyphs are skipped. uint8 like
    `load_mnist()`'s images, so the same loaders and plots take them.
    """
    if fonts is None:
        fonts = [_default_font(size), *_font_files()]
    images, labels = [torch.zeros(0, 28, 28, dtype=torch.uint8)], []  # empty, not an error, when no font works
    for font in fonts:
        try:
            if isinstance(font, (str, os.PathLike)):
                font = ImageFont.truetype(str(font), size)
            rendered = [_render(str(d), font, size) for d in range(10)]
        except (OSError, ValueError):
            continue  # not a font PIL can use at this size (e.g. a bitmap-only colour emoji font)
        if all(torch.equal(rendered[0], r) for r in rendered[1:]):
            continue  # no digits in this font: ten identical "missing glyph" boxes
        try:
            prepared = [_mnist_like(r) for r in rendered]
        except ValueError:
            continue  # a glyph rendered blank
        images.append((torch.stack(prepared) * 255).round().to(torch.uint8))
        labels += range(10)
    return torch.cat(images), torch.tensor(labels, dtype=torch.long)
