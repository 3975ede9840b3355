"""The benchmark's measuring pieces on tiny inputs (the figures themselves come from `python -m mnist_course bench`)."""

import json
import math
from pathlib import Path

import torch
from torch import nn

from mnist_course import runs
from mnist_course.layers import FastDropout
from mnist_course.runner import bench

REPO = Path(__file__).resolve().parents[1]


def test_train_rate_counts_images_per_second_through_the_training_loop():
    batches = [(torch.randn(bench.BATCH, 1, 28, 28), torch.randint(0, 10, (bench.BATCH,))) for _ in range(3)]
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    before = model[1].weight.detach().clone()
    rate = bench.train_rate(model, lambda: iter(batches), torch.device("cpu"), 3, 2, channels_last=False)
    assert rate > 0 and math.isfinite(rate)
    assert not torch.equal(before, model[1].weight)  # it really trained
    bf16 = bench.train_rate(model, lambda: iter(batches), torch.device("cpu"), 3, 2, False, precision="bfloat16")
    assert bf16 > 0 and math.isfinite(bf16)


def test_the_benchmark_times_the_models_of_the_committed_runs():
    # bench builds each model from the notebook's cells tagged `model`; the committed full runs
    # (results/<notebook>.json) and the default runs of the sweep record the parameters they trained.
    results = runs.find_results_dir(REPO)
    for name, make in bench.MODELS.items():
        params = sum(p.numel() for p in make().parameters())
        assert params == json.loads((results / f"{name}.json").read_text())["params"], name
        default_runs = runs.load_runs(results, name)["default"]
        assert {run["params"] for run in default_runs} == {params}, name


def test_peak_memory_is_reported_on_the_cpu():
    assert bench.peak_memory_mb(torch.device("cpu")) > 10


def test_train_rates_interleave_the_setups_passes(monkeypatch):
    order = []

    def fake_pass(device, model, make_batches, channels_last, precision):
        return lambda batches: order.append(model) or (0.5, batches * 10)

    monkeypatch.setattr(bench, "_training_pass", fake_pass)
    rates = bench.train_rates({"a": ("A", None, False, "float32"), "b": ("B", None, False, "float32")}, "cpu", 4, 2)
    assert order == ["A", "B"] * 3  # a warm-up pass of each, then the repeats, every setup in turn
    assert rates == {"a": 4 * 10 / 0.5, "b": 4 * 10 / 0.5}


def test_a_pass_counts_the_images_it_trained_on_whatever_the_batch_size():
    batches = [(torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,))) for n in (7, 7, 3)]
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    seconds, images = bench._training_pass(torch.device("cpu"), model, lambda: iter(batches), None, "float32")(3)
    assert images == 17 and seconds > 0


def test_with_fast_dropout_swaps_every_dropout_and_nothing_else():
    rates = [m.p for m in bench.MODELS["03_1x1_transitions"]().modules() if isinstance(m, nn.Dropout)]
    model = bench.with_fast_dropout(bench.MODELS["03_1x1_transitions"])()
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is FastDropout for m in dropouts) and [m.p for m in dropouts] == rates
    assert sum(p.numel() for p in model.parameters()) == 7_515  # the lesson's default: four late blocks of 13


def test_eval_rates_time_each_setup_over_its_whole_loader():
    batches = [(torch.randn(50, 1, 28, 28), torch.randint(0, 10, (50,))) for _ in range(2)]

    class Loader(list):
        dataset = range(100)  # what `_size` reads from a DataLoader

    setups = {name: (bench.MODELS["03_1x1_transitions"](), Loader(batches)) for name in ("a", "b")}
    rates = bench.eval_rates(setups, torch.device("cpu"), repeats=2)
    assert set(rates) == {"a", "b"} and all(rate > 0 and math.isfinite(rate) for rate in rates.values())


def test_classic_loaders_still_work(mnist_root):
    train, test = bench.classic_loaders(batch_size=32, root=mnist_root)
    x, y = next(iter(train))
    assert x.shape == (32, 1, 28, 28) and y.shape == (32,)
    assert len(test.dataset) == 10_000
