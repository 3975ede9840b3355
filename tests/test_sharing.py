"""Course trainings on one machine split its cores: one share per training registered in TRAININGS_DIR."""

import os
import subprocess
import sys

import pytest
import torch

from mnist_course import cpu, train

pytestmark = pytest.mark.skipif(os.name == "nt", reason="core sharing is off on Windows")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu, "TRAININGS_DIR", tmp_path / "trainings")
    monkeypatch.setattr(cpu, "available_cores", lambda: 4)
    monkeypatch.delenv(cpu.THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    yield tmp_path / "trainings"
    torch.set_num_threads(before)


def test_threads_are_split_between_the_trainings_running_now(registry):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with cpu.sharing_cores("cpu"):
            assert (registry / str(os.getpid())).is_file()
            assert cpu.balance_threads() == 4 and torch.get_num_threads() == 4  # alone: every core
            (registry / str(other.pid)).touch()  # a second training starts
            assert cpu.balance_threads() == 2
            (registry / "999999999").touch()  # left by a training that was killed: not counted, removed
            assert cpu.balance_threads() == 2 and not (registry / "999999999").exists()
        assert not (registry / str(os.getpid())).exists()  # unregistered when the block ends
    finally:
        other.kill()
        other.wait()
    assert not cpu._alive(other.pid)


def test_nothing_is_shared_on_an_accelerator_or_with_fixed_threads(registry, monkeypatch):
    with cpu.sharing_cores("cuda"):
        assert not registry.exists() and cpu.balance_threads() == torch.get_num_threads()
    monkeypatch.setenv(cpu.THREADS_ENV, "1")
    with cpu.sharing_cores("cpu"):
        assert not registry.exists()


def test_fit_registers_while_it_trains(registry, monkeypatch):
    seen = []
    monkeypatch.setattr(cpu, "balance_threads", lambda: seen.append((registry / str(os.getpid())).is_file()))
    batches = [(torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)))]
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    train.fit(model, batches, batches, 2, torch.optim.SGD(model.parameters(), lr=0.1), device="cpu", progress=False)
    assert seen == [True, True] and not (registry / str(os.getpid())).exists()
