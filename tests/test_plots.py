import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mnist_course import plots  # noqa: E402
from mnist_course.data import Augment  # noqa: E402
from mnist_course.experiments import Comparison, Point  # noqa: E402
from mnist_course.runs import Summary  # noqa: E402
from mnist_course.train import History  # noqa: E402


def history(acc):
    h = History()
    for i, a in enumerate(acc, 1):
        h.epochs.append(dict(epoch=i, train_loss=1 / i, train_acc=a - 0.01, eval_loss=0.5 / i, eval_acc=a, lr=0.1,
                             seconds=1.0))  # fmt: skip
    return h


def predictions():
    labels = torch.arange(10).repeat(3)
    preds = labels.clone()
    preds[[0, 5, 7]] = torch.tensor([3, 1, 2])
    return {"inputs": torch.rand(30, 1, 28, 28), "labels": labels, "preds": preds, "losses": torch.rand(30)}


def test_every_plot_returns_a_figure():
    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    figures = [
        plots.show_samples(images, torch.arange(8)),
        plots.show_augmentations(images[:2], Augment(degrees=15, erase_p=0.5), variants=3),
        plots.plot_history(history([0.97, 0.98, 0.99]), title="t"),
        plots.compare_histories({"a": history([0.98, 0.99]), "b": history([0.985, 0.995])}),
        plots.show_misclassified(predictions()),
        plots.plot_confusion(predictions()),
        plots.plot_schedule(history([0.97, 0.98, 0.99]), {"lr": [0.1] * 6, "momentum": [0.9] * 6}, steps_per_epoch=2),
        plots.plot_frontier(
            {"a": Summary("default", 3, 2, 0, 0.994, 0.001, 0.995, 0.001, 7852, 9.0)},
            references={"claim": (9798, 99.43)},
        ),
        plots.plot_comparison(Comparison(["variant"], [("default",), ("A=1",)], [], [
            Point("default", [0.994, 0.995], 0.9945, 0.988, 1.0), Point("A=1", [0.993], 0.993, 0.993, 0.993)])),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    assert plots.plot_comparison(Comparison([], [], ["no runs"])) is None  # nothing to draw: the table says why


def test_misclassified_gallery_shows_highest_loss_first():
    p = predictions()
    p["losses"][[0, 5, 7]] = torch.tensor([0.5, 3.0, 1.0])
    fig = plots.show_misclassified(p)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["5 → 1", "7 → 2", "0 → 3"]
    assert fig._suptitle.get_text().startswith("3 misclassified")


def test_confusion_counts():
    fig = plots.plot_confusion(predictions())
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert texts == {"1", "2", "3"}


def test_pictures_that_need_no_training():
    from torch import nn

    from mnist_course.model_info import class_activation_maps

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 10))  # fmt: skip
    digit = torch.rand(1, 28, 28)
    fig = plots.show_receptive_fields(digit, model)
    assert isinstance(fig, Figure) and [p.get_width() for p in fig.axes[0].patches] == [3, 5]
    x = torch.rand(2, 1, 28, 28)
    cams = class_activation_maps(model, x)
    fig = plots.show_class_activation_maps(x, cams, torch.tensor([1, 2]), torch.tensor([1, 7]))
    assert len(fig.axes) == 6
    fig = plots.plot_parameter_ledger({"a": model, "b": nn.Sequential(nn.Flatten(), nn.Linear(784, 10))})
    assert len(fig.axes) == 2 and len(fig.axes[1].patches) == 1  # one layer with parameters
    recorded = [{"name": "0", "kind": "Conv2d", "params": 20}, {"name": "2", "kind": "Linear", "params": 13_530}]
    fig = plots.plot_parameter_ledger({"from a results file": recorded})
    assert [p.get_height() for p in fig.axes[0].patches] == [20, 13_530]


def test_history_zooms_on_the_last_epochs_around_the_target():
    fig = plots.plot_history(history([0.9, 0.98, 0.99, 0.993, 0.995, 0.996]), target=99.4)
    zoom = fig.axes[2]
    low, high = zoom.get_ylim()
    assert len(fig.axes) == 3 and low < 99.3 < 99.4 < 99.6 < high < 99.8
    assert len(plots.plot_history(history([0.9, 0.98]), target=None).axes) == 2
