"""FastDropout: nn.Dropout's behaviour with a cheaper mask."""

import torch
from torch import nn

from mnist_course import FastDropout, check_rubric


def test_drops_at_the_rate_and_scales_what_it_keeps():
    torch.manual_seed(0)
    x = torch.ones(64, 14, 24, 24)
    out = FastDropout(0.05).train()(x)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.05) < 4 * (0.05 * 0.95 / x.numel()) ** 0.5  # within 4 binomial std
    assert torch.allclose(out[out != 0], torch.tensor(1 / 0.95))


def test_gradient_is_the_mask_scaled_like_the_output():
    x = torch.randn(8, 4, 6, 6, requires_grad=True)
    out = FastDropout(0.3).train()(x)
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0) / 0.7)


def test_channels_last_stays_channels_last_and_the_mask_follows_the_layout():
    torch.manual_seed(1)
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5) + 1
    out = FastDropout(0.5).train()(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out[out != 0], (x * 2)[out != 0])  # each kept value is its own input, scaled


def test_seeded_runs_repeat_and_eval_mode_is_the_identity():
    x = torch.randn(4, 3, 8, 8)
    torch.manual_seed(2)
    first = FastDropout(0.2).train()(x)
    torch.manual_seed(2)
    assert torch.equal(first, FastDropout(0.2).train()(x))
    assert torch.equal(FastDropout(0.2).eval()(x), x)
    assert torch.equal(FastDropout(0.0).train()(x), x) and torch.equal(FastDropout(1.0).train()(x), torch.zeros_like(x))


def test_is_a_dropout_for_the_rubric():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), FastDropout(0.1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert isinstance(model[1], nn.Dropout) and check_rubric(model, max_params=100, require=("dropout",)).passed
