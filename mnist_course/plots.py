"""Pictures of data and results. Every function returns its matplotlib Figure (Jupyter shows it)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .data import Augment, augment_batch
from .lr_finder import LRFinderResult
from .runs import Summary
from .train import History


def _grid(n: int, cols: int, size: float = 1.2) -> tuple[Figure, list]:
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, list(axes.flat)


def show_samples(images: torch.Tensor, labels: torch.Tensor, n: int = 24, cols: int = 8) -> Figure:
    """A grid of the first `n` images (uint8 (N, 28, 28) or normalized (N, 1, 28, 28)) with their labels."""
    fig, axes = _grid(min(n, len(images)), cols)
    for ax, image, label in zip(axes, images, labels, strict=False):
        ax.imshow(image.squeeze().cpu().numpy(), cmap="gray")
        ax.set_title(str(int(label)), fontsize=10)
    fig.tight_layout()
    return fig


def show_augmentations(images: torch.Tensor, augment: Augment, variants: int = 7, seed: int = 0) -> Figure:
    """Each row: one uint8 image, then `variants` random augmentations of it (each drawn separately)."""
    generator = torch.Generator().manual_seed(seed)
    fig, axes = _grid(len(images) * (variants + 1), variants + 1)
    for row, image in enumerate(images):
        x = image.float().div(255)
        versions = [x, *augment_batch(x.expand(variants, 1, *x.shape).contiguous(), augment, generator)]
        for col, version in enumerate(versions):
            ax = axes[row * (variants + 1) + col]
            ax.imshow(version.squeeze().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title("original" if col == 0 else f"#{col}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_history(history: History, title: str = "", target: float | None = 99.4, last: int = 5) -> Figure:
    """Loss and accuracy per epoch, train vs evaluation set, and the evaluation accuracy of the `last`
    epochs zoomed around the `target` (%): the 0–100% axis hides the tenths of a point that decide it."""
    panels = 3 if target is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8))
    epochs, name = history.column("epoch"), history.eval_name
    ax_loss, ax_acc = axes[0], axes[1]
    ax_loss.plot(epochs, history.column("train_loss"), "o-", label="train")
    ax_loss.plot(epochs, history.column("eval_loss"), "o-", label=name)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.plot(epochs, [100 * a for a in history.column("train_acc")], "o-", label="train (augmented)")
    ax_acc.plot(epochs, [100 * a for a in history.column("eval_acc")], "o-", label=name)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    if target is not None:
        zoom, tail = axes[2], [100 * a for a in history.column("eval_acc")[-last:]]
        zoom.plot(epochs[-last:], tail, "o-", color="C1", label=name)
        zoom.axhline(target, color="gray", linestyle="--", label=f"target {target}%")
        zoom.set_ylim(min(min(tail), target) - 0.15, max(max(tail), target) + 0.15)
        zoom.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{name} accuracy, last {last} epochs")
        zoom.set_xticks(epochs[-last:])
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare_histories(histories: dict[str, History], floor: float | None = 98.0, target: float | None = 99.4) -> Figure:
    """Evaluation accuracy per epoch of several runs on one chart (optionally zoomed above `floor` %)."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, history in histories.items():
        ax.plot(history.column("epoch"), [100 * a for a in history.column("eval_acc")], "o-", label=name)
    if target is not None:
        ax.axhline(target, color="gray", linestyle="--", label=f"target {target}%")
    if floor is not None:
        ax.set_ylim(bottom=floor)
    ax.set(xlabel="epoch", ylabel="accuracy (%)", title="evaluation accuracy per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def show_misclassified(predictions: dict[str, torch.Tensor], n: int = 24, cols: int = 8) -> Figure:
    """Wrongly classified images (of `train.predict`'s output), highest loss first, titled "true → predicted"."""
    wrong = (predictions["preds"] != predictions["labels"]).nonzero().flatten()
    shown = wrong[predictions["losses"][wrong].argsort(descending=True)][:n]
    fig, axes = _grid(max(len(shown), 1), cols)
    for ax, i in zip(axes, shown.tolist(), strict=False):
        ax.imshow(predictions["inputs"][i].squeeze().numpy(), cmap="gray")
        ax.set_title(f"{int(predictions['labels'][i])} → {int(predictions['preds'][i])}", fontsize=10, color="crimson")
    fig.suptitle(f"{len(wrong)} misclassified; highest loss first")
    fig.tight_layout()
    return fig


def plot_confusion(predictions: dict[str, torch.Tensor], num_classes: int = 10) -> Figure:
    """Confusion matrix (rows: true digit, columns: predicted) with the count in each cell."""
    pairs = predictions["labels"] * num_classes + predictions["preds"]
    matrix = torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)
    fig, ax = plt.subplots(figsize=(6, 5.4))
    ax.imshow(matrix.float().log1p().numpy(), cmap="Blues")
    for t, p in matrix.nonzero().tolist():
        ax.text(p, t, int(matrix[t, p]), ha="center", va="center", fontsize=8, color="white" if t == p else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(num_classes), yticks=range(num_classes))
    ax.set_title("confusion matrix (log colour scale)")
    fig.tight_layout()
    return fig


def plot_lr_find(result: LRFinderResult, ax=None) -> Figure:
    """`lr_find`'s smoothed loss (faint: each batch's) against the learning rate, picks marked; or into `ax`."""
    fig, ax = plt.subplots(figsize=(7, 4)) if ax is None else (ax.figure, ax)
    lrs, losses = result.lrs, result.losses
    ax.plot(lrs, result.raw_losses, color="gray", alpha=0.3, linewidth=0.8, label="loss per batch")
    ax.plot(lrs, losses, color="C0", label="smoothed loss")
    low = lrs.index(result.min_loss_lr)
    ax.plot(lrs[low], losses[low], "o", color="black", label=f"lowest loss at {lrs[low]:.2g}")
    if result.steepest_lr is not None:
        steep = lrs.index(result.steepest_lr)
        ax.plot(lrs[steep], losses[steep], "v", color="C2", label=f"steepest at {lrs[steep]:.2g}")
    ax.axvline(result.suggested_lr, color="crimson", linestyle="--", label=f"suggested {result.suggested_lr:.2g}")
    ax.set_xscale("log")
    ax.set_ylim(min(losses) - 0.05 * abs(min(losses)), 1.5 * max(losses[0], losses[low]))  # clip the blow-up
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss", title="learning-rate range test")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_schedule(history: History, trace: dict, steps_per_epoch: int, floor: float | None = None) -> Figure:
    """Evaluation accuracy per epoch above the learning rate and momentum of every step (`trace_schedule`'s).

    The accuracy axis is zoomed to where the action is: from `floor` %, by default just below the third epoch's.
    """
    fig, (ax_acc, ax_lr) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, height_ratios=(3, 2))
    accs = [100 * a for a in history.column("eval_acc")]
    ax_acc.plot(history.column("epoch"), accs, "o-", label=history.eval_name)
    ax_acc.axhline(99.4, color="gray", linestyle="--", label="target 99.4%")
    bottom = floor if floor is not None else min(accs[min(2, len(accs) - 1) :]) - 0.2
    ax_acc.set_ylim(bottom=bottom, top=max(*accs, 99.4) + 0.15)
    ax_acc.set(ylabel="accuracy (%)", title="evaluation accuracy, learning rate and momentum")
    ax_acc.legend(loc="lower right")
    steps = [(i + 1) / steps_per_epoch for i in range(len(trace["lr"]))]  # in epochs, ending each epoch at its number
    ax_lr.plot(steps, trace["lr"], color="C1", label="learning rate")
    ax_lr.set(xlabel="epoch", ylabel="learning rate")
    ax_momentum = ax_lr.twinx()
    ax_momentum.plot(steps, trace["momentum"], color="C2", linestyle=":", label="momentum")
    ax_momentum.set_ylabel("momentum")
    ax_lr.legend(handles=ax_lr.get_lines() + ax_momentum.get_lines(), loc="upper right")  # one legend, two axes
    for ax in (ax_acc, ax_lr):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_frontier(
    points: dict[str, Summary], references: dict[str, tuple[int, float]] | None = None, target: float = 99.4
) -> Figure:
    """Min-of-last-3 test accuracy (mean ± std over seeds) against parameters, log scale.

    `points`: label -> `runs.Summary`, each labelled with how many seeds reached `target` (whatever
    their size). `references`: label -> (params, accuracy %), reported figures drawn as crosses, not measured.
    """
    fig, ax = plt.subplots(figsize=(11, 5))
    for i, (label, s) in enumerate(points.items()):  # matplotlib has ten colours: then a new marker
        ax.errorbar(s.params, 100 * s.min3_mean, yerr=100 * s.min3_std, fmt="osD^v"[i // 10 % 5], capsize=4,
                    color=f"C{i % 10}", label=f"{label} ({s.reached}/{s.seeds} reached {target}%)")  # fmt: skip
    sizes = [s.params for s in points.values()] + [p for p, _ in (references or {}).values()]
    for i, (label, (params, acc)) in enumerate((references or {}).items()):
        ax.plot(params, acc, "x", color="black", markersize=9)
        # below the cross, each a line lower than the last (the measured points sit above the
        # target), towards the middle of the chart so that no label runs off its edge, and tied to
        # its cross by a thin line
        side = -1 if params > max(sizes) / 2 else 1
        ax.annotate(label, (params, acc), textcoords="offset points", xytext=(6 * side, -14 - 11 * i), fontsize=8,
                    ha="right" if side < 0 else "left", arrowprops={"arrowstyle": "-", "color": "gray", "lw": 0.6},
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})  # fmt: skip
    ax.axhline(target, color="gray", linestyle="--", label=f"target {target}%")
    ax.set_xscale("log")
    ax.set_xlim(0.8 * min(sizes), 1.25 * max(sizes))
    ax.set(xlabel="parameters (log scale)", ylabel="min of last 3 epochs (%)",
           title="accuracy against size: mean ± std over seeds")  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the points fill the chart
    fig.tight_layout()
    return fig


def plot_comparison(comparison, title: str = "") -> Figure | None:
    """A comparison table (`experiments.compare_variants`) as a dot-and-interval chart: per row, each
    seed's min-of-last-3 accuracy (small dots), their mean (large dot) and its 95% interval, with the
    baseline's mean and the target as vertical lines. The dots show what a mean ± std hides with 3–5 seeds."""
    points = comparison.points
    if not points:  # no runs found: the table says why
        return None
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(points) + 1.7), layout="constrained")
    for row, point in enumerate(points):
        y = len(points) - 1 - row  # the baseline on top, like the table
        ax.plot([100 * v for v in point.values], [y] * len(point.values), "o", color="gray", alpha=0.5, markersize=4)
        ax.errorbar(100 * point.mean, y, xerr=[[100 * (point.mean - point.low)], [100 * (point.high - point.mean)]],
                    fmt="o", color="C0" if row else "black", capsize=4, markersize=7)  # fmt: skip
    if points:
        ax.axvline(100 * points[0].mean, color="black", linestyle=":", label=f"{points[0].label} (mean)")
    ax.axvline(100 * comparison.target, color="C3", linestyle="--", label=f"target {comparison.target:.1%}")
    ax.set_yticks(range(len(points)), [p.label for p in reversed(points)], fontsize=8)
    ax.set_xlabel("min of last 3 epochs (%): seeds, and their mean with its 95% interval")
    ax.set_title(title, loc="left")
    ax.grid(alpha=0.3, axis="x")
    fig.legend(fontsize=8, loc="outside lower center", ncol=2, frameon=False)  # under the axis: clear of the title
    return fig


def show_receptive_fields(image: torch.Tensor, model: torch.nn.Module) -> Figure:
    """A digit with the receptive field of the centre unit of each convolution drawn on it as a box.

    From `model_info.layer_table`: where the field of the first output starts, its size and the
    jump between outputs. Boxes that reach past the image are cut at its edge (that part is padding).
    """
    from matplotlib.patches import Rectangle

    from .model_info import layer_table

    size = image.shape[-1]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.imshow(image.squeeze().float().cpu().numpy(), cmap="gray")
    convs = [row for row in layer_table(model, (1, size, size)) if row.kind == "Conv2d" and row.rf > 1]
    for i, row in enumerate(convs):
        low = row.start + (row.output[-1] - 1) // 2 * row.jump  # the centre unit's first pixel
        low, high = max(low, 0), min(low + row.rf, size)
        ax.add_patch(Rectangle((low - 0.5, low - 0.5), high - low, high - low, fill=False, lw=2, color=f"C{i % 10}",
                               label=f"{row.name}: RF {row.rf}"))  # fmt: skip
    ax.set_axis_off()
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def show_class_activation_maps(images: torch.Tensor, cams: torch.Tensor, labels: torch.Tensor,
                               preds: torch.Tensor) -> Figure:  # fmt: skip
    """Each digit next to the map of its predicted class and of its true class (`model_info.
    class_activation_maps`), scaled up to the digit's size and on one colour scale per row: where the
    evidence for each answer was, and how strong."""
    fig, axes = plt.subplots(len(images), 3, figsize=(5.4, 1.8 * len(images)), squeeze=False)
    size = images.shape[-2:]
    for row, (x, cam, label, pred) in enumerate(zip(images, cams, labels.tolist(), preds.tolist(), strict=True)):
        maps = torch.nn.functional.interpolate(cam[None, [pred, label]], size=size, mode="bilinear")[0]
        panels = [(x.squeeze(), "gray", f"true {label}", {}),
                  *((m, "magma", f"evidence for {c}", {"vmin": maps.min(), "vmax": maps.max()})  # one scale a row
                    for m, c in zip(maps, (pred, label), strict=True))]  # fmt: skip
        for ax, (picture, cmap, title, scale) in zip(axes[row], panels, strict=True):
            ax.imshow(picture.float().cpu().numpy(), cmap=cmap, **{k: float(v) for k, v in scale.items()})
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_parameter_ledger(models: dict[str, torch.nn.Module | list[dict]]) -> Figure:
    """Parameters per layer of each model, one bar chart per model on a shared scale: where the
    budget sits (session 1: the fully connected layer; sessions 2 and 3: the convolutions). A model
    can also be given as the `layers` a results file recorded (`experiments.committed_layers`)."""
    from .model_info import layer_table

    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.4), sharey=True, squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items(), strict=True):
        if isinstance(model, torch.nn.Module):
            model = [{"name": r.name, "kind": r.kind, "params": r.params} for r in layer_table(model) if r.params]
        ax.bar(range(len(model)), [r["params"] for r in model], color=[f"C{i % 10}" for i in range(len(model))])
        ax.set_xticks(range(len(model)), [f"{r['kind']}\n{r['name']}" for r in model], rotation=90, fontsize=7)
        ax.set_title(f"{name}: {sum(r['params'] for r in model):,} parameters", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("parameters")
    fig.tight_layout()
    return fig
