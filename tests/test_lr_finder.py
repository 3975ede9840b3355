import copy
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from mnist_course import plots  # noqa: E402
from mnist_course.data import TensorLoader  # noqa: E402
from mnist_course.lr_finder import LRFinderResult, lr_find  # noqa: E402


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.2), nn.Flatten(), nn.Linear(256, 10)
    )


def tiny_loader(n: int = 256, batch_size: int = 32, shuffle: bool = True, random_labels: bool = False) -> TensorLoader:
    """8×8 images: one fixed random pattern per class plus noise, so the loss can fall.

    With `random_labels` the labels have nothing to do with the images: no model can fit them, so
    a large learning rate only makes the loss blow up.
    """
    g = torch.Generator().manual_seed(0)
    templates = torch.randint(0, 256, (10, 8, 8), generator=g)
    labels = torch.arange(n) % 10
    images_of = labels[torch.randperm(n, generator=g)] if random_labels else labels
    noise = torch.randint(-40, 41, (n, 8, 8), generator=g)
    images = (templates[images_of] + noise).clamp(0, 255).to(torch.uint8)
    return TensorLoader(images, labels, batch_size, mean=0.5, std=0.3, shuffle=shuffle, seed=0)


def snapshot(model, optimizer, loader):
    return {
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "modes": [m.training for m in model.modules()],
        "rng": torch.get_rng_state(),
        "loader_rng": loader.generator.get_state(),
    }


def assert_same(a, b):
    assert a["weights"].keys() == b["weights"].keys()
    for k in a["weights"]:
        assert torch.equal(a["weights"][k], b["weights"][k]), k
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for i, state in a["optimizer"]["state"].items():
        assert state.keys() == b["optimizer"]["state"][i].keys()
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizer"]["state"][i][key])), (i, key)
    assert a["modes"] == b["modes"]
    assert torch.equal(a["rng"], b["rng"])
    assert torch.equal(a["loader_rng"], b["loader_rng"])


def test_rates_grow_geometrically_from_start_to_end():
    model, loader = tiny_model(), tiny_loader()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = lr_find(model, loader, opt, start_lr=1e-4, end_lr=1e-2, num_iter=25, progress=False)
    assert len(result.lrs) == len(result.losses) == len(result.raw_losses) == 25
    assert result.lrs[0] == pytest.approx(1e-4) and result.lrs[-1] == pytest.approx(1e-2)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:], strict=False)]
    assert all(r == pytest.approx(100 ** (1 / 24)) for r in ratios)


@pytest.mark.filterwarnings("ignore:The loss was lowest near the start")  # a sweep of one decade
def test_smoothing_is_bias_corrected():
    model, loader = tiny_model(), tiny_loader()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = lr_find(model, loader, opt, start_lr=1e-5, end_lr=1e-4, num_iter=10, beta=0.9, progress=False)
    assert result.losses[0] == pytest.approx(result.raw_losses[0])  # not 0.1 × it, as a plain EMA from 0 gives
    average = 0.0
    for i, raw in enumerate(result.raw_losses):
        average = 0.9 * average + 0.1 * raw
        assert result.losses[i] == pytest.approx(average / (1 - 0.9 ** (i + 1)))


@pytest.mark.parametrize("make_optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    lambda p: torch.optim.Adam(p, lr=1e-3),
])  # fmt: skip
def test_everything_is_restored_exactly(make_optimizer):
    model, loader = tiny_model(), tiny_loader()
    opt = make_optimizer(model.parameters())
    # Give the optimizer some state (momentum buffers, Adam moments and step) and the model mixed modes.
    model.train()
    for x, y in list(loader)[:2]:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model[1].eval()  # BatchNorm in eval mode, the rest training
    before = snapshot(model, opt, loader)
    result = lr_find(model, loader, opt, start_lr=1e-5, end_lr=10, num_iter=60, progress=False)
    assert result.lrs  # it ran
    assert_same(before, snapshot(model, opt, loader))


def test_training_after_the_test_is_as_if_it_never_ran():
    def train_a_bit(run_finder: bool) -> dict:
        model, loader = tiny_model(), tiny_loader()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if run_finder:
            lr_find(model, loader, opt, num_iter=30, progress=False)
        torch.manual_seed(1)
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return model.state_dict()

    with_finder, without = train_a_bit(True), train_a_bit(False)
    assert all(torch.equal(with_finder[k], without[k]) for k in without)


def test_restored_after_an_error():
    model, loader = tiny_model(), tiny_loader()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = snapshot(model, opt, loader)

    def failing():
        yield from list(loader)[:3]
        raise KeyboardInterrupt

    class Failing:  # an iterable of batches that is interrupted after 3 of them
        generator = loader.generator

        def __iter__(self):
            return failing()

    with pytest.raises(KeyboardInterrupt):
        lr_find(model, Failing(), opt, progress=False)
    assert_same(before, snapshot(model, opt, loader))


def test_divergence_stops_early():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))  # no BatchNorm to rescue it
    loader = tiny_loader(random_labels=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = lr_find(model, loader, opt, start_lr=1e-4, end_lr=1e4, num_iter=200, progress=False)
    assert result.diverged
    assert len(result.lrs) < 200
    assert result.lrs[-1] < 1e4
    finite = [v for v in result.losses if math.isfinite(v)]
    assert finite == result.losses  # a NaN/inf loss is never recorded
    # it stopped at the first smoothed loss above 4x the best one before it
    assert result.losses[-1] > 4 * min(result.losses[:-1])
    assert all(v <= 4 * min(result.losses[: i + 1]) for i, v in enumerate(result.losses[:-1]))


def test_suggestion_is_within_the_swept_range():
    model, loader = tiny_model(), tiny_loader()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = lr_find(model, loader, opt, start_lr=1e-5, end_lr=10, num_iter=100, progress=False)
    assert isinstance(result, LRFinderResult)
    assert result.lrs[0] <= result.suggested_lr <= result.lrs[-1]
    assert result.min_loss_lr in result.lrs
    assert result.losses[result.lrs.index(result.min_loss_lr)] == min(result.losses)
    assert result.suggested_lr == pytest.approx(result.min_loss_lr / 10)
    assert result.steepest_lr in result.lrs
    assert "suggested_lr" in repr(result) and "losses=" not in repr(result)  # short repr in notebooks


def test_start_lr_too_high_warns_and_suggests_the_start():
    model, loader = tiny_model(), tiny_loader()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="start_lr is too high"):
        result = lr_find(model, loader, opt, start_lr=50, end_lr=1e4, num_iter=30, progress=False)
    assert result.suggested_lr == result.lrs[0]


def test_loader_shorter_than_the_test_is_started_again():
    class Counting:
        def __init__(self, loader):
            self.loader, self.epochs = loader, 0

        def __iter__(self):
            self.epochs += 1
            return iter(self.loader)

    loader = Counting(tiny_loader(n=96, batch_size=32))  # 3 batches per epoch
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = lr_find(model, loader, opt, start_lr=1e-5, end_lr=1e-3, num_iter=20, progress=False)
    assert len(result.lrs) == 20
    assert loader.epochs == 7


@pytest.mark.filterwarnings("ignore:The loss was lowest near the start")
def test_plain_list_of_batches_and_bad_arguments():
    model = tiny_model()
    batches = list(tiny_loader(n=64))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert len(lr_find(model, batches, opt, end_lr=1e-3, num_iter=5, progress=False).lrs) == 5
    with pytest.raises(ValueError, match="no batches"):
        lr_find(model, [], opt, progress=False)
    with pytest.raises(ValueError, match="start_lr"):
        lr_find(model, batches, opt, start_lr=1, end_lr=0.1, progress=False)
    with pytest.raises(ValueError, match="num_iter"):
        lr_find(model, batches, opt, num_iter=1, progress=False)


def test_plot_lr_find():
    model, loader = tiny_model(), tiny_loader()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = lr_find(model, loader, opt, start_lr=1e-5, end_lr=10, num_iter=60, progress=False)
    fig = plots.plot_lr_find(result)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert any(text.get_text().startswith("suggested") for text in ax.get_legend().get_texts())
    lines = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert lines and lines[0].get_xdata()[0] == pytest.approx(result.suggested_lr)
    _, own_ax = plt.subplots()
    assert plots.plot_lr_find(result, ax=own_ax) is own_ax.figure
