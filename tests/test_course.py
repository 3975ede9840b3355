import json

import pytest
from torch import nn

from mnist_course import course
from mnist_course.runner import readme as readme_tables
from mnist_course.train import History


def history(accs, interrupted=False):
    h = History(interrupted=interrupted)
    for i, a in enumerate(accs, 1):
        h.epochs.append(dict(epoch=i, train_loss=0.1, train_acc=a, eval_loss=0.1, eval_acc=a, lr=0.1, seconds=2.0))
    return h


MODEL = nn.Linear(10, 10)  # 110 parameters


@pytest.fixture
def full_mode(monkeypatch):
    monkeypatch.setenv(course.FAST_ENV, "0")


def test_fast_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv(course.FAST_ENV, "1")
    assert course.fast_mode()
    monkeypatch.setenv(course.FAST_ENV, "0")
    assert not course.fast_mode()
    monkeypatch.delenv(course.FAST_ENV)
    assert not course.fast_mode()


def test_report_uses_minimum_of_last_three_epochs(full_mode, capsys):
    r = course.report("nb", MODEL, history([0.99, 0.996, 0.993, 0.997]), max_params=200)
    out = capsys.readouterr().out
    assert r["final_test_acc"] == 0.997 and r["min_last3_test_acc"] == 0.993
    assert not r["passed"] and "FAIL  minimum test accuracy over the last 3 epochs 99.30% >= 99.40%" in out
    assert "PASS  parameters 110 <= 200" in out and "==> FAIL" in out and r["mode"] == "full"
    assert course.report("nb", MODEL, history([0.99, 0.995, 0.994, 0.996]), max_params=200)["passed"]
    assert not course.report("nb", MODEL, history([0.995] * 3), max_params=100)["passed"]


def test_report_in_fast_mode_checks_the_floor_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv(course.FAST_ENV, "1")
    r = course.report("nb", MODEL, history([0.96, 0.97]), max_params=200)
    assert r["passed"] and r["mode"] == "fast"
    assert "FAST" in capsys.readouterr().out
    with pytest.raises(course.NotLearnedError, match="must reach 95%"):  # the tests' guard: it stopped learning
        course.report("nb", MODEL, history([0.5, 0.9]), max_params=200)


def test_learned_is_the_floor_alone_not_the_budget(monkeypatch):
    # The notebooks' fast-mode guard asserts "learned": a variant over the budget must not trip it.
    monkeypatch.setenv(course.FAST_ENV, "1")
    over_budget = course.report("nb", MODEL, history([0.96, 0.97]), max_params=100)
    assert over_budget["learned"] and not over_budget["passed"]
    with pytest.raises(course.NotLearnedError):
        course.report("nb", MODEL, history([0.96, course.FAST_FLOOR - 0.01]), max_params=200)


def test_fast_mode_shortens_the_epochs_and_subsets_the_loaders(monkeypatch, mnist_root):
    from mnist_course import data

    monkeypatch.setenv(course.FAST_ENV, "1")
    assert course.epochs(15) == course.FAST_EPOCHS
    assert data.make_loaders(root=mnist_root)[0].dataset_size == course.FAST_SUBSET
    monkeypatch.setenv(course.FAST_ENV, "0")
    assert course.epochs(15) == 15 and data.make_loaders(root=mnist_root)[0].dataset_size == 60_000


def test_run_files_say_where_when_and_what_each_digit_was(full_mode, tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv(course.RESULTS_ENV, str(tmp_path))
    predictions = {"preds": torch.tensor([7, 2, 1, 0]), "labels": torch.tensor([7, 2, 1, 1])}
    course.report("nb", MODEL, history([0.99, 0.995, 0.994]), max_params=200, predictions=predictions)
    saved = json.loads((tmp_path / "nb.json").read_text())
    assert saved["predictions"] == {"set": "test", "digits": "7210"}
    assert course.decode_predictions(saved["predictions"]["digits"]).tolist() == [7, 2, 1, 0]
    assert set(saved["machine"]) == {"cpu", "gpu", "device", "threads", "os", "python"}
    assert saved["machine"]["device"] == "cpu" and saved["machine"]["threads"] >= 1 and saved["date"][:2] == "20"
    assert "multiply_adds" not in saved  # a model that takes no digits has no cost per digit
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 10))
    course.report("cnn", cnn, history([0.99, 0.995, 0.994]), max_params=20_000)
    saved = json.loads((tmp_path / "cnn.json").read_text())
    assert saved["multiply_adds"] == 2 * 26 * 26 * 9 + 10 * 2 * 26 * 26
    assert saved["layers"] == [{"name": "0", "kind": "Conv2d", "params": 20},
                               {"name": "2", "kind": "Linear", "params": 13_530}]  # fmt: skip


def test_interrupted_run_does_not_pass(full_mode):
    assert not course.report("nb", MODEL, history([0.999] * 3, interrupted=True), max_params=200)["passed"]


def test_results_file_table_and_readme(full_mode, tmp_path, monkeypatch):
    monkeypatch.setenv(course.RESULTS_ENV, str(tmp_path / "results"))
    course.report("02_x", MODEL, history([0.99, 0.995, 0.994, 0.996]), max_params=200)
    saved = json.loads((tmp_path / "results" / "02_x.json").read_text())
    assert set(saved) >= {"params", "epochs", "final_test_acc", "min_last3_test_acc", "device", "torch_version",
                          "mode", "history", "machine", "date"}  # fmt: skip
    assert History(**saved["history"]).final_acc == 0.996
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{readme_tables.TABLE_START}\nold\n{readme_tables.TABLE_END}\noutro\n")
    readme_tables.update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro") and text.endswith("outro\n")
    assert "| `02_x` | 110 (≤ 200) | 4 | 99.60% | 99.40% | ≥ 99.40% | PASS | not run yet |" in text
    for seed, accs in ((1, [0.995, 0.996, 0.994]), (2, [0.992, 0.993, 0.996])):
        monkeypatch.setenv(course.RESULTS_ENV, str(tmp_path / "results" / "runs" / "02_x" / "default"))
        run = course.report("02_x", MODEL, history(accs), max_params=200) | {"seed": seed}
        (tmp_path / "results" / "runs" / "02_x" / "default" / f"seed{seed}.json").write_text(json.dumps(run))
    assert "| PASS | passed 1/2, 99.30% ± 0.14% |" in readme_tables.results_table(tmp_path / "results")


def test_readme_without_markers_is_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no table here")
    with pytest.raises(ValueError, match="markers"):
        readme_tables.update_readme(readme, tmp_path)
