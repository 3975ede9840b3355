import pytest
import torch
from torch import nn

from mnist_course import cpu, data, train
from mnist_course.lr_finder import trace_schedule
from mnist_course.train import History, TrainingError, fit


def tiny_model(log_probs: bool = False) -> nn.Module:
    layers = [
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.1), nn.MaxPool2d(4),
        nn.Flatten(), nn.Linear(4 * 6 * 6, 10),
    ]  # fmt: skip
    if log_probs:
        layers.append(nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


def tiny_loaders(root):
    """384 augmented training images in 6 batches, 64 test images."""
    aug = data.Augment(degrees=10, translate=0.1)
    return data.make_loaders(batch_size=64, augment=aug, subset_size=384, seed=0, root=root)


@pytest.fixture
def loaders(mnist_root):
    return tiny_loaders(mnist_root)


def run(loaders, epochs=2, scheduler=None, seed=0, **kwargs):
    train.seed_everything(seed)
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = scheduler(opt, len(loaders[0])) if scheduler else None
    history = fit(model, *loaders, epochs, opt, sched, progress=False, **kwargs)
    return model, opt, sched, history


def test_history_json_round_trip(tmp_path):
    h = History(eval_name="val", target_epoch=2)
    h.epochs.append(dict(epoch=1, train_loss=0.5, train_acc=0.8, eval_loss=0.4, eval_acc=0.9, lr=0.1, seconds=1.0))
    h.epochs.append(dict(epoch=2, train_loss=0.3, train_acc=0.9, eval_loss=0.2, eval_acc=0.95, lr=0.1, seconds=1.0))
    assert History.from_json(h.to_json()) == h
    h.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json") == h
    assert h.final_acc == 0.95 and h.min_last(3) == 0.9
    assert "val_acc" in str(h) and "95.00%" in str(h)


def test_logits_and_log_probs_give_the_same_loss():
    logits = torch.randn(8, 10)
    y = torch.randint(0, 10, (8,))
    log_probs = torch.log_softmax(logits, 1)
    assert torch.allclose(train.loss_fn(logits, y), train.loss_fn(log_probs, y))
    assert torch.allclose(train.loss_fn(log_probs, y), nn.functional.nll_loss(log_probs, y))


def test_onecycle_steps_per_batch(loaders):
    def onecycle(opt, steps):
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=steps)

    _, opt, sched, history = run(loaders, scheduler=onecycle)
    assert sched.last_epoch == 2 * len(loaders[0])
    # Stepped per batch, OneCycle has warmed up and annealed below its starting lr (max_lr / 25).
    assert opt.param_groups[0]["lr"] < 0.1 / 25 and history.epochs[1]["lr"] < history.epochs[0]["lr"]


def test_steplr_steps_per_epoch(loaders):
    def steplr(opt, _):
        return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)

    _, opt, sched, history = run(loaders, scheduler=steplr)
    assert sched.last_epoch == 2
    assert [round(r["lr"], 6) for r in history.epochs] == [0.05, 0.005]


def test_plateau_gets_the_eval_loss(loaders, monkeypatch):
    seen = []

    def plateau(opt, _):
        s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
        original = s.step
        monkeypatch.setattr(s, "step", lambda metric: seen.append(metric) or original(metric))
        return s

    _, _, _, history = run(loaders, scheduler=plateau)
    assert seen == history.column("eval_loss")


def test_same_seed_same_history(loaders, mnist_root):
    first = run(loaders)[3]
    second = run(tiny_loaders(mnist_root))[3]
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in first.epochs]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in second.epochs]


def test_wrong_output_shape_fails_before_training(loaders):
    model = nn.Sequential(nn.Conv2d(1, 10, 28))  # (B, 10, 1, 1): forgot to flatten
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TrainingError, match=r"shape \(64, 10, 1, 1\).*expected \(64, 10\).*Flatten"):
        fit(model, *loaders, 1, opt, progress=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 7))
    with pytest.raises(TrainingError, match=r"\(64, 7\).*expected \(64, 10\)"):
        fit(model, *loaders, 1, torch.optim.SGD(model.parameters(), lr=0.1), progress=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(100, 10))
    with pytest.raises(TrainingError, match=r"failed on a batch of shape \(64, 1, 28, 28\)"):
        fit(model, *loaders, 1, torch.optim.SGD(model.parameters(), lr=0.1), progress=False)


class NanAfter(nn.Module):
    """Passes its input through, but returns NaNs from the `after`-th training batch on."""

    def __init__(self, after):
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls >= self.after:
                return x * float("nan")
        return x


def test_nan_loss_stops_at_once_and_keeps_the_checkpoint(loaders, tmp_path):
    steps = len(loaders[0])
    train.seed_everything(0)
    model = nn.Sequential(tiny_model(), NanAfter(steps + 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, batch 3 \(learning rate 0.05\)") as err:
        fit(model, *loaders, 3, opt, checkpoint_dir=tmp_path, progress=False)
    assert "last good checkpoint" in str(err.value)
    assert [r["epoch"] for r in err.value.history.epochs] == [1]
    saved = torch.load(tmp_path / "last.pt", weights_only=False)
    assert saved["history"]["epochs"] == err.value.history.epochs
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


class InterruptingLoader:
    """Wraps a loader and raises KeyboardInterrupt (as Ctrl-C does) at one batch of one epoch."""

    def __init__(self, loader, epoch, batch):
        self.loader, self.epoch, self.batch, self.seen = loader, epoch, batch, 0
        self.generator = loader.generator

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.seen += 1
        for i, item in enumerate(self.loader):
            if self.seen == self.epoch and i == self.batch:
                raise KeyboardInterrupt
            yield item


def test_ctrl_c_returns_history_and_resume_equals_an_uninterrupted_run(loaders, mnist_root, tmp_path):
    def onecycle(opt, steps):
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=3, steps_per_epoch=steps)

    straight = run(loaders, epochs=3, scheduler=onecycle)[3]

    fresh = tiny_loaders(mnist_root)
    interrupted = (InterruptingLoader(fresh[0], epoch=3, batch=2), fresh[1])
    model, opt, sched, partial = run(interrupted, epochs=3, scheduler=onecycle, checkpoint_dir=tmp_path)
    assert partial.interrupted and len(partial.epochs) == 2
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()

    # A new session: new model, optimizer and scheduler objects, then resume.
    train.seed_everything(123)  # different global RNG: resume must restore it
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = onecycle(opt, len(fresh[0]))
    resumed = fit(model, *fresh, 3, opt, sched, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert not resumed.interrupted
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in straight.epochs]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.epochs]


def test_resume_without_checkpoint_is_a_clear_error(loaders, tmp_path):
    with pytest.raises(TrainingError, match="no checkpoint"):
        run(loaders, checkpoint_dir=tmp_path, resume=True)


def test_target_epoch_is_noted_once(loaders, capsys):
    history = run(loaders, epochs=2, target_acc=0.0)[3]
    assert history.target_epoch == 1 and len(history.epochs) == 2
    assert capsys.readouterr().out.count("target 0.00% reached at epoch 1") == 1


def test_clip_grad_norm_caps_the_gradient_before_each_step(loaders):
    # A huge rate with clipping moves each weight tensor by at most lr * max_norm per step.
    train.seed_everything(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    x, y = next(iter(loaders[0]))
    fit(model, [(x, y)], loaders[1], 1, opt, device="cpu", clip_grad_norm=0.01, progress=False)
    moved = sum((p.detach() - b).pow(2).sum() for p, b in zip(model.parameters(), before, strict=True)).sqrt()
    assert moved <= 10.0 * 0.01 + 1e-5


def test_model_returning_log_probs_trains(loaders):
    train.seed_everything(0)
    model = tiny_model(log_probs=True)
    history = fit(model, *loaders, 1, torch.optim.Adam(model.parameters(), 1e-2), progress=False)
    assert history.epochs[0]["eval_acc"] > 0.3


def test_one_epoch_on_5k_reaches_90_percent(mnist_root, monkeypatch):
    monkeypatch.setenv("MNIST_COURSE_FAST", "0")  # the whole test set, not fast mode's share
    train.seed_everything(0)
    device = train.pick_device()
    train_loader, test_loader = data.make_loaders(batch_size=64, subset_size=5000, device=device, root=mnist_root)
    full_test = data.make_loaders(root=mnist_root, device=device)[1]
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    fit(model, train_loader, test_loader, 1, opt, device=device, progress=True)
    _, acc = train.evaluate(model, full_test, device)
    assert acc >= 0.90


def test_pick_device_prefers_an_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert train.pick_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert train.pick_device().type == "cpu"


def test_ctrl_c_during_evaluation_keeps_the_finished_epochs(loaders, tmp_path):
    train_loader, test_loader = loaders
    # __iter__ calls on the evaluation loader: 1 = the shape check, 2 = epoch 1, 3 = epoch 2.
    interrupted = (train_loader, InterruptingLoader(test_loader, epoch=3, batch=0))
    history = run(interrupted, epochs=3, checkpoint_dir=tmp_path)[3]
    assert history.interrupted and [r["epoch"] for r in history.epochs] == [1]
    saved = torch.load(tmp_path / "last.pt", weights_only=False)
    assert [r["epoch"] for r in saved["history"]["epochs"]] == [1]


def test_trace_schedule_follows_fit_and_restores_the_state():
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, epochs=3, steps_per_epoch=10)
    trace = trace_schedule(optimizer, scheduler, epochs=3, steps_per_epoch=10)
    assert len(trace["lr"]) == 30 and trace["lr"][0] == pytest.approx(0.05 / 25)
    assert max(trace["lr"]) == pytest.approx(0.05, rel=0.01)
    # OneCycleLR overrides SGD's momentum: 0.95 at the start, 0.85 at the peak rate
    assert trace["momentum"][0] == pytest.approx(0.95) and min(trace["momentum"]) == pytest.approx(0.85, abs=1e-3)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 / 25) and scheduler.last_epoch == 0
    step_optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = torch.optim.lr_scheduler.StepLR(step_optimizer, step_size=2, gamma=0.1)
    trace = trace_schedule(step_optimizer, step, epochs=3, steps_per_epoch=2)  # StepLR: once per epoch
    assert trace["lr"] == pytest.approx([0.01] * 4 + [0.001] * 2) and trace["momentum"] == [0.9] * 6
    assert step_optimizer.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_autocast_trains_and_float16_resumes_with_its_loss_scale(loaders, tmp_path, precision):
    model, opt, _, history = run(loaders, epochs=1, precision=precision, checkpoint_dir=tmp_path)
    assert history.epochs[0]["eval_acc"] > 0.3 and all(p.dtype == torch.float32 for p in model.parameters())
    saved = torch.load(tmp_path / "last.pt", weights_only=False)
    assert saved["precision"] == precision
    assert (saved["scaler"]["scale"] > 0) if precision == "float16" else saved["scaler"] is None  # float16 only
    train.seed_everything(0)
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    resumed = fit(model, *loaders, 2, opt, checkpoint_dir=tmp_path, resume=True, precision=precision, progress=False)
    assert len(resumed.epochs) == 2


def test_lower_precision_changes_the_numbers_and_float32_is_the_default(mnist_root):
    def first_loss(**kwargs):  # fresh loaders: their augmentation draws are part of the seeded run
        return run(tiny_loaders(mnist_root), epochs=1, **kwargs)[3].epochs[0]["train_loss"]

    plain = first_loss()
    assert first_loss(precision="float32") == plain and first_loss(precision="bfloat16") != plain


def test_unknown_precision_is_an_error_before_training(loaders):
    with pytest.raises(ValueError, match="use 'float32', 'bfloat16' or 'float16'"):
        run(loaders, precision="int8")


def test_resuming_in_another_precision_is_a_clear_error(loaders, tmp_path):
    run(loaders, epochs=1, checkpoint_dir=tmp_path)  # float32
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.raises(TrainingError, match="trained with precision='float32': resume with the same precision"):
        fit(model, *loaders, 2, opt, checkpoint_dir=tmp_path, resume=True, precision="float16", progress=False)


def test_default_layout_is_nchw_only_for_batchnorm_models_on_several_cpu_threads(monkeypatch, loaders):
    plain, normed = nn.Sequential(nn.Conv2d(1, 4, 3)), nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert cpu.prefers_channels_last(plain, "cpu") and not cpu.prefers_channels_last(normed, "cpu")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert cpu.prefers_channels_last(plain, "cpu") and cpu.prefers_channels_last(normed, "cpu")
    assert not cpu.prefers_channels_last(plain, "cuda")

    def conv_layout_after_fit(threads: int) -> bool:
        monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        fit(model, *loaders, 1, opt, device="cpu", progress=False)
        return model[0].weight.stride()[1] == 1  # (out, in, h, w) strides; one input channel: only this differs

    assert conv_layout_after_fit(1) and not conv_layout_after_fit(2)
