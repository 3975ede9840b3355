import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from mnist_course import digits, load_mnist
from mnist_course.digits import MNIST_MEAN, MNIST_STD, prepare_digit, typeface_digits


def drawn_seven(size: int = 120, width: int = 10, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """A "7" drawn light on dark, like a stroke on a canvas (greyscale PIL image)."""
    im = Image.new("L", (size, size), 0)
    dx, dy = offset
    ImageDraw.Draw(im).line([(30 + dx, 25 + dy), (90 + dx, 25 + dy), (55 + dx, 100 + dy)], fill=255, width=width)
    return im


def unnormalized(x: torch.Tensor) -> torch.Tensor:
    return (x * MNIST_STD + MNIST_MEAN).reshape(28, 28)


def centre_of_mass(img: torch.Tensor) -> tuple[float, float]:
    idx = torch.arange(28, dtype=img.dtype)
    return float((img.sum(1) * idx).sum() / img.sum()), float((img.sum(0) * idx).sum() / img.sum())


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten().float(), b.flatten().float()]))[0, 1])


def test_both_polarities_give_the_same_tensor():
    light_on_dark = drawn_seven()
    dark_on_light = ImageOps.invert(light_on_dark)
    assert torch.equal(prepare_digit(light_on_dark), prepare_digit(dark_on_light))


def test_shape_dtype_and_normalization():
    x = prepare_digit(drawn_seven())
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x.min().item() == pytest.approx(-MNIST_MEAN / MNIST_STD)  # black background, like MNIST's
    assert x.max().item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD)  # stroke cores at full white
    own = prepare_digit(drawn_seven(), mean=0.5, std=0.25)
    assert torch.allclose(own * 0.25 + 0.5, unnormalized(x).reshape(1, 1, 28, 28), atol=1e-6)


@pytest.mark.parametrize("offset", [(0, 0), (-25, -20), (20, 15)])
def test_centre_of_mass_is_at_the_centre(offset):
    image = drawn_seven(size=200, width=12, offset=offset)
    cy, cx = centre_of_mass(unnormalized(prepare_digit(image)))
    assert abs(cy - 14) <= 0.5 + 1e-4 and abs(cx - 14) <= 0.5 + 1e-4  # whole-pixel shifts, like MNIST


def test_fits_a_20_pixel_box_and_keeps_the_aspect_ratio():
    tall = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(tall).rectangle([45, 10, 54, 89], fill=255)  # a "1": 10 wide, 80 tall
    ink = unnormalized(prepare_digit(tall)) > 0
    height, width = int(ink.any(1).sum()), int(ink.any(0).sum())
    assert height == 20
    assert 2 <= width <= 4  # 20 * 10 / 80 = 2.5, plus anti-aliased edges
    wide = tall.transpose(Image.Transpose.ROTATE_90)
    ink = unnormalized(prepare_digit(wide)) > 0
    assert int(ink.any(0).sum()) == 20 and 2 <= int(ink.any(1).sum()) <= 4
    # a small digit is scaled up to the same 20-pixel box
    small = drawn_seven().resize((30, 30))
    ink = unnormalized(prepare_digit(small)) > 0
    assert max(int(ink.any(1).sum()), int(ink.any(0).sum())) == 20


def test_every_kind_of_input_gives_the_same_digit(tmp_path):
    image = drawn_seven()
    reference = prepare_digit(image)
    array = np.array(image)
    path = tmp_path / "seven.png"
    ImageOps.invert(image).save(path)
    rgb = np.stack([array] * 3, -1)
    black_strokes = np.zeros((*array.shape, 4), np.uint8)
    black_strokes[..., 3] = array  # black ink on a transparent background, as drawing apps export it
    white_strokes = np.full((*array.shape, 4), 255, np.uint8)
    white_strokes[..., 3] = array
    inputs = {
        "path": path,
        "str path": str(path),
        "PIL L": image,
        "PIL RGB": image.convert("RGB"),
        "PIL RGBA black on transparent": Image.fromarray(black_strokes, "RGBA"),
        "PIL RGBA white on transparent": Image.fromarray(white_strokes, "RGBA"),
        "numpy uint8 (H, W)": array,
        "numpy float (H, W)": array / 255.0,
        "numpy (H, W, 3)": rgb,
        "numpy RGBA (H, W, 4)": black_strokes,
        "numpy uint16": array.astype(np.uint16) * 257,
        "tensor uint8 (H, W)": torch.from_numpy(array),
        "tensor float (1, H, W)": torch.from_numpy(array).float().div(255)[None],
        "tensor (3, H, W)": torch.from_numpy(rgb).permute(2, 0, 1),
        "tensor (1, 1, H, W)": torch.from_numpy(array)[None, None],
    }
    for name, value in inputs.items():
        assert torch.allclose(prepare_digit(value), reference, atol=1e-4), name


def test_photo_with_uneven_light_and_noise():
    """A dark "7" on grey paper lit from one side, with sensor noise, blur and JPEG: still the same digit."""
    rng = np.random.default_rng(0)
    h, w = 600, 800
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 170 + 60 * xx / w - 30 * yy / h
    ink = np.zeros((h, w))
    ink[120:520, 250:650] = np.asarray(drawn_seven().resize((400, 400))) / 255
    grey = paper * (1 - 0.75 * ink) + rng.normal(0, 6, (h, w))
    rgb = np.stack([grey, grey * 0.95, grey * 0.85], -1).clip(0, 255).astype(np.uint8)  # warm light
    buffer = io.BytesIO()
    Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(1.5)).save(buffer, "JPEG", quality=70)
    photo = Image.open(io.BytesIO(buffer.getvalue()))
    assert correlation(prepare_digit(photo), prepare_digit(drawn_seven())) > 0.9


@pytest.mark.parametrize(
    "blank",
    [
        Image.new("L", (50, 50), 255),
        np.zeros((28, 28), np.uint8),
        torch.full((3, 40, 40), 0.5),
        (np.random.default_rng(0).normal(128, 3, (64, 64))).clip(0, 255).astype(np.uint8),  # blank paper, noise
    ],
)
def test_a_blank_image_raises(blank):
    with pytest.raises(ValueError, match="No digit found"):
        prepare_digit(blank)


def test_unreadable_inputs_raise_clearly(tmp_path):
    broken = tmp_path / "digit.png"
    broken.write_bytes(b"this is not a PNG")
    with pytest.raises(ValueError, match=r"Cannot read .*digit\.png as an image"):
        prepare_digit(broken)
    with pytest.raises(FileNotFoundError, match="No image file at"):
        prepare_digit(tmp_path / "missing.png")
    with pytest.raises(TypeError, match="not list"):
        prepare_digit([[0, 255], [255, 0]])
    with pytest.raises(ValueError, match="got shape"):
        prepare_digit(np.zeros((28, 28, 5), np.uint8))


def test_mnist_digits_come_back_nearly_unchanged(mnist_root):
    """MNIST was made this way, so preparing a MNIST digit again should change it very little.

    Most come back identical; a few move by one pixel, when their centre of mass lies almost exactly
    between two whole-pixel positions (for a thin "1" a 1-pixel shift costs much correlation).
    """
    images = load_mnist(mnist_root).test_images[:200]
    scores = torch.tensor([correlation(unnormalized(prepare_digit(img)), img / 255) for img in images])
    assert scores.median() > 0.99
    assert (scores > 0.9).float().mean() >= 0.95


def test_typeface_digits_with_only_the_builtin_font(tmp_path, monkeypatch):
    monkeypatch.setattr(digits, "FONT_DIRS", (str(tmp_path / "no-fonts-here"),))
    images, labels = typeface_digits()
    assert images.dtype == torch.uint8 and images.shape == (10, 28, 28)
    assert labels.tolist() == list(range(10))
    for img in images.float():
        cy, cx = centre_of_mass(img)
        assert abs(cy - 14) <= 0.55 and abs(cx - 14) <= 0.55  # 0.5 before rounding to uint8
        assert img.max() == 255 and img[0].sum() == 0 and img[:, 0].sum() == 0  # light on black, margin kept


def test_typeface_digits_skips_what_it_cannot_use(tmp_path):
    not_a_font = tmp_path / "broken.ttf"
    not_a_font.write_bytes(b"nope")
    fonts = [digits._default_font(48), not_a_font]
    fonts += digits._font_files()[:1]  # one installed TrueType font, when there is one
    images, labels = typeface_digits(fonts)
    assert len(images) == len(labels) == 10 * (len(fonts) - 1)
    assert typeface_digits([])[0].shape == (0, 28, 28)
