"""Checkpoints that move between devices, and the MPS path, checked on the CPU.

CI has no GPU and no Mac: a checkpoint "written on a GPU" is one whose tensors are tagged cuda:0, MPS
is a stand-in for its random state, and "resuming on MPS" sends the model to a device that keeps it
on the CPU.
"""

import pytest
import torch
import torch.serialization
from torch import nn

from mnist_course import data, train
from mnist_course.train import fit


def tiny_run(loaders, epochs, **kwargs):
    train.seed_everything(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Dropout(0.1), nn.MaxPool2d(4), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 10))  # fmt: skip
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return fit(model, *loaders, epochs, opt, progress=False, **kwargs)


def tiny_loaders(root):
    """192 augmented training images in 3 batches, 32 test images; each call a fresh loader generator."""
    return data.make_loaders(batch_size=64, augment=data.Augment(degrees=10), subset_size=192, root=root)


@pytest.fixture
def loaders(mnist_root):
    return tiny_loaders(mnist_root)


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.epochs]


def test_checkpoint_written_on_a_gpu_resumes_on_the_cpu(loaders, mnist_root, tmp_path, monkeypatch):
    straight = tiny_run(loaders, 2)
    tiny_run(tiny_loaders(mnist_root), 1, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    with monkeypatch.context() as m:  # every tensor of the checkpoint now says it lives on cuda:0
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(state, tmp_path / "last.pt")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "last.pt", weights_only=False)
    resumed = tiny_run(tiny_loaders(mnist_root), 2, checkpoint_dir=tmp_path, resume=True, device="cpu")
    assert without_seconds(resumed) == without_seconds(straight)


@pytest.fixture
def mps_rng(monkeypatch):
    """Pretend Apple's MPS is present, with a stand-in for its random state; records what is restored."""
    rng = {"state": torch.arange(16, dtype=torch.uint8), "restored": []}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda *a, **k: rng["state"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state, *a, **k: rng["restored"].append(state))
    return rng


def test_checkpoint_keeps_the_mps_random_state(mps_rng, loaders, tmp_path):
    tiny_run(loaders, 1, checkpoint_dir=tmp_path, device="cpu")
    saved = torch.load(tmp_path / "last.pt", weights_only=False)["rng"]
    assert torch.equal(saved["mps"], mps_rng["state"])
    mps_rng["state"] = torch.zeros(16, dtype=torch.uint8)
    tiny_run(loaders, 2, checkpoint_dir=tmp_path, resume=True, device="cpu")
    assert len(mps_rng["restored"]) == 1 and torch.equal(mps_rng["restored"][0], saved["mps"])


def test_resume_for_mps_loads_the_checkpoint_onto_the_cpu(mps_rng, loaders, tmp_path, monkeypatch):
    """Random states must stay CPU tensors, so the checkpoint is not mapped onto the training device."""
    tiny_run(loaders, 1, checkpoint_dir=tmp_path, device="cpu")
    module_to = nn.Module.to

    def to_stays_on_cpu_for_mps(self, *args, **kwargs):
        return self if args and str(args[0]) == "mps" else module_to(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "to", to_stays_on_cpu_for_mps)
    # Resuming a run that has all its epochs trains nothing: it only loads the checkpoint, for "mps".
    history = tiny_run(loaders, 1, checkpoint_dir=tmp_path, resume=True, device="mps")
    assert len(history.epochs) == 1 and len(mps_rng["restored"]) == 1
