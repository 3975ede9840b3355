"""Parameters, variants, run files and sweeps, on a tiny notebook that trains nothing."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mnist_course import course, experiments, model_info, runs, stats
from mnist_course.__main__ import main
from mnist_course.runner import notebooks, plan, readme, sweep
from mnist_course.runs import ParameterError

PARAMETERS = """SEED = 1
AUGMENT = True  # random affine on the training images
SCHEDULE = "onecycle"  # one of: onecycle, step, constant
DROPOUT = 0.05  # 0 = off
WIDTH = 1.0
DIVERGE = False  # one of: True, False"""

SWEEP = {"default": [1, 2], "SCHEDULE=step,DROPOUT=0": [1]}

# Reports an accuracy that depends on the parameters, so the summary arithmetic can be checked.
BODY = """
import mnist_course as mc
from torch import nn
acc = 0.99 + SEED / 1000 - (0.002 if SCHEDULE == "step" else 0)
if DIVERGE:
    raise mc.TrainingError("The loss became nan at epoch 1, batch 3")
history = mc.History(epochs=[dict(epoch=i, train_loss=0.1, train_acc=acc, eval_loss=0.1, eval_acc=acc, lr=0.1,
                                  seconds=2.0 * WIDTH) for i in (1, 2, 3)])
print("checkpoints in", mc.checkpoint_dir("tiny"))
mc.report("tiny", nn.Linear(2, 2), history, max_params=10)
"""


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    monkeypatch.setitem(plan.SWEEPS, "tiny", SWEEP)
    nb = new_notebook(cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}), new_code_cell(BODY)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_values_parse_as_python_literals_or_text():
    assert runs.parse_overrides(["AUGMENT=False", "DROPOUT=0.1,SCHEDULE=step", "NAME='adam'"]) == {
        "AUGMENT": False, "DROPOUT": 0.1, "SCHEDULE": "step", "NAME": "adam",
    }  # fmt: skip
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        runs.parse_overrides(["AUGMENT"])
    assert notebooks.parse_seeds("1-5") == [1, 2, 3, 4, 5]
    assert notebooks.parse_seeds("1,3,7-8") == [1, 3, 7, 8]
    with pytest.raises(ParameterError, match="1-5"):
        notebooks.parse_seeds("one")


def test_variant_names_leave_out_the_seed():
    assert runs.variant_name({}) == "default"
    assert runs.variant_name({"SEED": 3}) == "default"
    assert runs.variant_name({"SCHEDULE": "step", "DROPOUT": 0.0}) == "SCHEDULE=step,DROPOUT=0.0"


def test_parameters_cell_is_read_with_defaults_help_and_choices(notebook):
    params = runs.notebook_parameters(notebook)
    assert list(params) == ["SEED", "AUGMENT", "SCHEDULE", "DROPOUT", "WIDTH", "DIVERGE"]
    assert params["SCHEDULE"].default == "onecycle" and params["SCHEDULE"].choices == ["onecycle", "step", "constant"]
    assert params["DROPOUT"].default == 0.05 and params["DROPOUT"].choices is None


def test_bad_names_types_and_choices_are_clear_errors(notebook):
    with pytest.raises(ParameterError, match="no parameter BATCHNORM; it has: SEED, AUGMENT"):
        notebooks.check_overrides(notebook, {"BATCHNORM": False})
    with pytest.raises(ParameterError, match="expected a bool"):
        notebooks.check_overrides(notebook, {"AUGMENT": "no"})
    with pytest.raises(ParameterError, match="must be one of 'onecycle', 'step', 'constant'"):
        notebooks.check_overrides(notebook, {"SCHEDULE": "cosine"})
    values = notebooks.check_overrides(notebook, {"DROPOUT": 0})  # an int where a float is expected
    assert values["DROPOUT"] == 0.0 and isinstance(values["DROPOUT"], float) and values["SEED"] == 1


def test_cli_rejects_a_bad_parameter_before_running(notebook, tmp_path, capsys):
    code = main(["run", str(notebook), "-p", "SCHEDULE=cosine", "--results-dir", str(tmp_path / "r")])
    assert code == 2 and "must be one of" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_run_with_parameters_and_seeds_writes_one_file_per_seed(notebook, tmp_path):
    before = notebook.read_bytes()
    results = tmp_path / "results"
    assert main(["run", str(notebook), "-p", "SCHEDULE=step", "--seeds", "2-3", "--results-dir", str(results)]) == 0
    for seed in (2, 3):
        run = json.loads((results / "runs" / "tiny" / "SCHEDULE=step" / f"seed{seed}.json").read_text())
        assert run["seed"] == seed and run["variant"] == "SCHEDULE=step" and run["mode"] == "full"
        assert run["parameters"] == {
            "SEED": seed, "AUGMENT": True, "SCHEDULE": "step", "DROPOUT": 0.05, "WIDTH": 1.0, "DIVERGE": False,
        }  # fmt: skip
        assert run["final_test_acc"] == pytest.approx(0.99 + seed / 1000 - 0.002) and run["wall_seconds"] > 0
        executed = nbformat.read(results / "runs" / "tiny" / "SCHEDULE=step" / f"seed{seed}.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
        assert f"{course.CHECKPOINTS_ENV}" not in text and "seed" not in text.split("checkpoints in")[1][:5]
    assert notebook.read_bytes() == before  # the committed notebook is never touched
    assert not list((results / "runs" / "tiny" / "SCHEDULE=step").glob(".seed*"))  # scratch folders removed


def test_fast_runs_go_under_results_fast(notebook, tmp_path):
    assert main(["run", str(notebook), "--fast", "--seeds", "1", "--results-dir", str(tmp_path)]) == 0
    run = json.loads((tmp_path / "fast" / "runs" / "tiny" / "default" / "seed1.json").read_text())
    assert run["mode"] == "fast" and not (tmp_path / "runs").exists()


def test_a_diverged_run_is_recorded_as_a_result(notebook, tmp_path):
    assert main(["run", str(notebook), "-p", "DIVERGE=True", "--results-dir", str(tmp_path)]) == 0
    run = json.loads((tmp_path / "runs" / "tiny" / "DIVERGE=True" / "seed1.json").read_text())
    assert "TrainingError" in run["error"] and not run["passed"] and run["parameters"]["DIVERGE"] is True


def test_sweep_runs_what_is_declared_skips_what_exists_and_summarizes(notebook, tmp_path, capsys):
    results = tmp_path / "results"
    assert sweep.sweep_plan(notebook) == [({}, [1, 2]), ({"SCHEDULE": "step", "DROPOUT": 0.0}, [1])]
    assert main(["sweep", str(notebook), "--fast", "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert "3 runs declared, 0 already done, 3 to run" in out
    assert "fast mode: the tables in docs/experiments.md are left alone" in out
    found = runs.load_runs(results / "fast", "tiny")
    table = readme.summary_table("tiny", runs.summaries_of(found))
    assert "| `default` | 6 | 2 | 2/2 | 99.15% ± 0.07% | 99.15% ± 0.07% | 2.0 |" in table
    assert "| `SCHEDULE=step,DROPOUT=0.0` | 6 | 1 | 1/1 | 98.90% ± 0.00% |" in table
    assert "3 runs; their wall times add up to" in readme.run_time_line({"tiny": found})
    seed2 = results / "fast" / "runs" / "tiny" / "default" / "seed2.json"
    seed2.unlink()  # as if the sweep had been interrupted before this run
    assert main(["sweep", str(notebook), "--fast", "--results-dir", str(results)]) == 0
    assert "3 runs declared, 2 already done, 1 to run" in capsys.readouterr().out and seed2.is_file()
    seed2.unlink()
    assert main(["sweep", str(notebook), "--fast", "--summary", "--results-dir", str(results)]) == 0
    assert "0 to run" in capsys.readouterr().out and not seed2.exists()


def test_sweep_runs_defaults_first_then_variants_breadth_first():
    plan = [("a", {}, [1, 2]), ("a", {"X": 1}, [1, 2]), ("b", {}, [1]), ("b", {"Y": 2}, [1, 2])]
    assert sweep.sweep_order(plan) == [
        ("a", {}, 1), ("b", {}, 1), ("a", {}, 2),
        ("a", {"X": 1}, 1), ("b", {"Y": 2}, 1), ("a", {"X": 1}, 2), ("b", {"Y": 2}, 2),
    ]  # fmt: skip


def test_summary_arithmetic_counts_failures_apart():
    def run(seed, min3, final, passed=True):
        epochs = [{"seconds": 3.0}, {"seconds": 5.0}]
        return dict(seed=seed, min_last3_test_acc=min3, final_test_acc=final, passed=passed, params=100,
                    history={"epochs": epochs})  # fmt: skip

    s = runs.summarize("v", [run(1, 0.990, 0.992), run(2, 0.994, 0.996, False), {"seed": 3, "error": "nan"}])
    assert (s.seeds, s.passed, s.failed, s.params) == (3, 0 + 1, 1, 100)
    assert s.min3_mean == pytest.approx(0.992) and s.min3_std == pytest.approx(0.002828, abs=1e-6)
    assert s.final_mean == pytest.approx(0.994) and s.seconds_per_epoch == 4.0


def test_a_notebook_without_a_declared_sweep_is_a_clear_error(tmp_path):
    nb = new_notebook(cells=[new_code_cell("SEED = 1", metadata={"tags": ["parameters"]})])
    path = tmp_path / "nosweep.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ParameterError, match="declares no sweep for nosweep"):
        sweep.sweep_plan(path)


def test_every_declared_sweep_names_real_parameters_and_values():
    for stem in plan.SWEEPS:
        assert sweep.sweep_plan(notebooks.notebook_path(stem))  # check_overrides raises on a bad one


def test_sweep_list_prints_one_run_command_per_pending_run(notebook, tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["sweep", str(notebook), "--list", "--fast", "--results-dir", str(results)]) == 0
    commands = capsys.readouterr().out.splitlines()
    assert commands[0] == f"python -m mnist_course run {notebook} --seeds 1 --fast --results-dir {results}"
    assert commands[-1].endswith("--seeds 1 -p SCHEDULE=step -p DROPOUT=0.0 --fast --results-dir " + str(results))
    assert len(commands) == 3
    assert main(["run", str(notebook), "--fast", "--seeds", "1", "--results-dir", str(results)]) == 0
    capsys.readouterr()
    assert main(["sweep", str(notebook), "--list", "--fast", "--results-dir", str(results)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # the finished run is no longer listed


def _write_run(results, notebook, variant, seed, min3, extra=None, params=100):
    path = results / "runs" / notebook / variant / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(seed=seed, min_last3_test_acc=min3, final_test_acc=min3, passed=min3 >= 0.994, params=params,
                  history={"epochs": [{"seconds": 2.0}]}, extra=extra or {})  # fmt: skip
    path.write_text(json.dumps(record))


def test_compare_variants_tests_each_variant_with_welch_and_corrects_with_holm(tmp_path):
    for seed, acc in enumerate((0.9940, 0.9944, 0.9948), 1):
        _write_run(tmp_path, "nb", "default", seed, acc)
        _write_run(tmp_path, "nb", "X=0", seed, acc - 0.0050 + 0.0001 * seed)  # far below: about 0.50 points
        _write_run(tmp_path, "nb", "Y=1", seed, acc + 0.0004)  # 0.04 points above, same spread: no difference
    text = str(experiments.compare_variants("nb", {"X=0": "x off", "Y=1": "y on", "Z=2": "z"}, tmp_path))
    x = stats.welch([a - 0.0050 + 0.0001 * s for s, a in enumerate((0.9940, 0.9944, 0.9948), 1)],
                    [0.9940, 0.9944, 0.9948])  # fmt: skip
    y = stats.welch([a + 0.0004 for a in (0.9940, 0.9944, 0.9948)], [0.9940, 0.9944, 0.9948])
    px, py = stats.holm([x.p, y.p])
    assert f"{100 * x.difference:+.2f} [{100 * x.low:+.2f}, {100 * x.high:+.2f}]" in text
    assert f"X=0 (x off): lower ({100 * x.difference:+.2f} points" in text and f"Holm-adjusted p = {px:.2g})" in text
    assert "Y=1 (y on): not distinguishable from the baseline with these seeds (+0.04 points" in text
    assert py > 0.05 and px < 0.05
    assert "Z=2: no completed runs yet (python -m mnist_course run notebooks/nb.ipynb -p Z=2 --seeds 1-3)" in text
    assert "99.44% ± 0.04%" in text and "3/3" in text and "0/3" in text  # mean ± std, passes
    assert "s/epoch" not in text  # these runs recorded no machine: no time column


def test_collapsed_runs_are_counted_apart_not_averaged_in(tmp_path):
    for seed, acc in enumerate((0.9940, 0.9944, 0.9948), 1):
        _write_run(tmp_path, "nb", "default", seed, acc)
    _write_run(tmp_path, "nb", "LR=9", 1, 0.1135)  # one digit for every image
    for seed, acc in ((2, 0.9930), (3, 0.9936)):
        _write_run(tmp_path, "nb", "LR=9", seed, acc)
    _write_run(tmp_path, "nb", "LR=99", 1, 0.0980)
    stopped = tmp_path / "runs" / "nb" / "LR=99" / "seed2.json"  # as the runner records a run that stopped
    stopped.write_text(json.dumps({"seed": 2, "passed": False, "error": "nb.ipynb failed in a cell (TrainingError: The "
                                   "loss became nan at epoch 2, batch 5; training stopped. See /tmp/x/last.pt.)"}))
    s = runs.summarize("LR=9", runs.load_runs(tmp_path, "nb")["LR=9"])
    assert (s.seeds, s.collapsed, s.failed, s.measured) == (3, 1, 0, 2) and s.min3_mean == pytest.approx(0.9933)
    assert s.passes() == "0/3 (1 collapsed)"
    comparison = experiments.compare_variants("nb", {"LR=9": "rate 9", "LR=99": "rate 99"}, tmp_path)
    text = str(comparison)
    assert "99.33% ± 0.04%" in text and "LR=9 (rate 9): 1 of 3 runs collapsed (final accuracy 11.35%" in text
    assert "over the other 2 runs" in text and "Welch t" in text.split("LR=9 (rate 9): not")[1]  # tested on the 2
    stop = "LR=99 (rate 99): 1 of 2 runs stopped (The loss became nan at epoch 2, batch 5); 1 of 2 runs collapsed"
    assert stop in text
    assert "0/2 (1 failed, 1 collapsed)" in text and "/tmp/x" not in text and "no run is left to average" in text
    assert [p.label for p in comparison.points] == ["default", "LR=9 (1/3 collapsed)"]  # nothing to draw for LR=99


def test_a_stopped_run_is_named_by_its_error_without_the_paths_around_it():
    shape = ("nb.ipynb failed in a cell (TrainingError: The model failed on a batch of shape (128, 1, 28, 28): "
             "mat1 and mat2 shapes cannot be multiplied (128x400 and 256x10). Check the layer sizes). The partly "
             "executed notebook is in /tmp/x/seed1.failed.ipynb; nb.ipynb was left unchanged.")
    assert runs.why_stopped({"error": shape}) == ("The model failed on a batch of shape (128, 1, 28, 28): mat1 and "
                                                  "mat2 shapes cannot be multiplied (128x400 and 256x10)")
    assert runs.why_stopped({"error": "nb.ipynb did not run"}) == "an error"


def test_seconds_per_epoch_show_only_when_every_run_recorded_one_machine(tmp_path):
    machine = {"cpu": "Some CPU", "gpu": None, "device": "cpu", "threads": 1, "os": "Linux", "python": "3.11"}
    for variant in ("default", "A=1"):
        for seed in (1, 2):
            _write_run(tmp_path, "nb", variant, seed, 0.99)
            path = tmp_path / "runs" / "nb" / variant / f"seed{seed}.json"
            path.write_text(json.dumps(json.loads(path.read_text()) | {"machine": machine}))
    shown = str(experiments.compare_variants("nb", {"A=1": "a"}, tmp_path))
    assert "s/epoch" in shown and "Some CPU" not in shown  # a lesson names no machine
    assert "s/epoch: training seconds per epoch as each run recorded them" in shown  # and says how rough it is
    path.write_text(json.dumps(json.loads(path.read_text()) | {"machine": machine | {"threads": 2}}))
    assert "s/epoch" not in str(experiments.compare_variants("nb", {"A=1": "a"}, tmp_path))


def test_compare_extra_averages_recorded_figures_over_seeds(tmp_path):
    _write_run(tmp_path, "nb", "default", 1, 0.99, extra={"shift": {"clean": 0.99, "rotated": 0.97}})
    _write_run(tmp_path, "nb", "default", 2, 0.99, extra={"shift": {"clean": 0.98, "rotated": 0.95}})
    text = experiments.compare_extra("nb", ["default", "A=1"], "shift", tmp_path)
    assert "default (2 seeds): clean 98.50% ± 0.71%, rotated 96.00% ± 1.41%" in text
    assert "A=1: no runs with shift yet" in text


def test_results_folder_is_found_from_the_notebooks_folder_or_a_clone(tmp_path):
    (tmp_path / "repo" / "results" / "runs").mkdir(parents=True)
    (tmp_path / "repo" / "notebooks").mkdir()
    assert runs.find_results_dir(tmp_path / "repo" / "notebooks") == tmp_path / "repo" / "results"
    assert runs.find_results_dir(tmp_path / "repo") == tmp_path / "repo" / "results"
    (tmp_path / "colab" / "mnist-course" / "results" / "runs").mkdir(parents=True)
    assert runs.find_results_dir(tmp_path / "colab") == tmp_path / "colab" / "mnist-course" / "results"
    assert runs.find_results_dir(tmp_path / "elsewhere") is None


def test_results_folder_is_found_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # where Jupyter runs a notebook
    assert runs.find_results_dir() == tmp_path / "results"


def test_compare_variants_can_compare_against_another_baseline(tmp_path):
    for seed in (1, 2):
        _write_run(tmp_path, "nb", "V=1", seed, 0.990)
        _write_run(tmp_path, "nb", "V=1,LR=0.1", seed, 0.980)
    text = str(experiments.compare_variants("nb", {"V=1,LR=0.1": "faster"}, tmp_path, baseline="V=1"))
    assert text.startswith("the first row is the baseline; each row under it names what it changes")
    assert "\nV=1 " in text
    assert "vs baseline [95% CI]" in text and "-1.00" in text and "so no test" in text and "LR=0.1 (faster): " in text


def test_rows_against_another_baseline_are_named_by_what_they_change(tmp_path):
    # From the parameters the runs recorded: the candidate keeps V=1 and goes back to W's default 0.
    recorded = {
        "V=1,W=2": {"SEED": 1, "V": 1, "W": 2, "LR": 0.05},
        "V=1,LR=0.1": {"SEED": 2, "V": 1, "W": 0, "LR": 0.1},  # another first seed: not a change
    }
    for variant, parameters in recorded.items():
        _write_run(tmp_path, "nb", variant, parameters["SEED"], 0.99)
        path = tmp_path / "runs" / "nb" / variant / f"seed{parameters['SEED']}.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"parameters": parameters}))
    text = str(experiments.compare_variants("nb", {"V=1,LR=0.1": "faster"}, tmp_path, baseline="V=1,W=2"))
    assert "\nW=0,LR=0.1 " in text and "W=0,LR=0.1 (faster): not distinguishable" in text


def test_difference_is_welchs_test_at_five_percent():
    default = [0.9940, 0.9944, 0.9948]
    lower = [a - 0.0050 + 0.0001 * i for i, a in enumerate(default)]
    assert experiments.difference(lower, default).startswith("lower (-0.49 points, 95% CI [")
    assert experiments.difference([a + 0.0004 for a in default], default).startswith(
        "not distinguishable from the baseline with these seeds (+0.04 points"
    )
    assert experiments.difference([0.99], default).endswith("fewer than 2 runs a side, so no test)")
    assert experiments.difference([], default) == "no runs to compare yet"


def test_a_parameter_older_runs_lack_is_read_as_the_notebooks_default(tmp_path):
    # Runs made before PRECISION existed record no PRECISION: the notebook's default fills it in.
    (tmp_path / "notebooks").mkdir()
    cell = new_code_cell('SEED = 1\nDROPOUT = 0.05\nPRECISION = "float32"', metadata={"tags": ["parameters"]})
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "notebooks" / "nb.ipynb")
    results = tmp_path / "results"
    recorded = {"PRECISION=bfloat16": {"SEED": 1, "DROPOUT": 0.05, "PRECISION": "bfloat16"},
                "DROPOUT=0.0": {"SEED": 1, "DROPOUT": 0.0}}  # fmt: skip
    for variant, parameters in recorded.items():
        _write_run(results, "nb", variant, 1, 0.99)
        path = results / "runs" / "nb" / variant / "seed1.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"parameters": parameters}))
    text = str(experiments.compare_variants("nb", {"DROPOUT=0.0": "off"}, results, baseline="PRECISION=bfloat16"))
    assert "DROPOUT=0.0,PRECISION=float32 (off): not distinguishable" in text


def test_a_comparison_is_text_in_a_terminal_and_an_html_table_in_a_notebook(tmp_path):
    for seed, acc in enumerate((0.9940, 0.9944, 0.9948), 1):
        _write_run(tmp_path, "nb", "default", seed, acc)
        _write_run(tmp_path, "nb", "A=1<b>", seed, acc - 0.002)
    comparison = experiments.compare_variants("nb", {"A=1<b>": "a & b"}, tmp_path)
    page = comparison._repr_html_()
    assert page.count("<table") == 1 and page.count("<tr") == 3  # the header, the default, the variant
    assert "<th>min of last 3</th>" in page and "99.44%<br>±&nbsp;0.04%" in page  # the spread under the mean
    assert "A=1&lt;b&gt;" in page and "<b>" not in page  # text is escaped, never markup
    assert "<li>A=1&lt;b&gt; (a &amp; b): lower" in page
    assert repr(comparison) == str(comparison) and str(comparison).startswith("variant ")
    # the chart's rows: each seed, and the mean with scipy's 95% t-interval
    base, variant = comparison.points
    assert base.values == [0.9940, 0.9944, 0.9948] and base.mean == pytest.approx(0.9944)
    half = 4.302652729911275 * 0.0004 / 3**0.5  # t(0.975, 2 df) * sd / sqrt(n), the textbook t-interval
    assert (base.high - base.low) / 2 == pytest.approx(half, rel=1e-6)
    assert variant.label == "A=1<b>" and variant.mean == pytest.approx(0.9924)


def test_a_comparison_without_runs_says_where_to_find_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    comparison = experiments.compare_variants("nb", {"A=1": "a"})
    assert str(comparison) == runs.NO_RESULTS and comparison.points == []
    assert runs.NO_RESULTS.split(":")[0] in comparison._repr_html_()


def test_committed_predictions_are_read_back_as_digits(tmp_path):
    digits = "7210414959"
    (tmp_path / "runs").mkdir()
    (tmp_path / "nb.json").write_text(json.dumps({"predictions": {"set": "test", "digits": digits}}))
    assert experiments.committed_predictions("nb", results_dir=tmp_path).tolist() == [int(d) for d in digits]
    _write_run(tmp_path, "nb", "A=1", 2, 0.99)
    path = tmp_path / "runs" / "nb" / "A=1" / "seed2.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"predictions": {"set": "val", "digits": digits}}))
    assert experiments.committed_predictions("nb", "A=1", 2, tmp_path) is None  # validation digits: not the test set
    assert experiments.committed_predictions("nb", "A=1", 3, tmp_path) is None  # no such run


def test_older_run_files_get_their_multiply_adds_from_the_lessons_model(tmp_path):
    _write_run(tmp_path, "02_bn_dropout_gap", "default", 1, 0.99)
    _write_run(tmp_path, "02_bn_dropout_gap", "PADDING=1", 1, 0.99)
    assert sweep.record_multiply_adds(tmp_path) == 2
    counts = {v: json.loads((tmp_path / "runs" / "02_bn_dropout_gap" / v / "seed1.json").read_text())["multiply_adds"]
              for v in ("default", "PADDING=1")}  # fmt: skip
    model = notebooks.build_model("02_bn_dropout_gap")
    assert counts["default"] == model_info.multiply_adds(model) and counts["PADDING=1"] > 1.8 * counts["default"]
    assert sweep.record_multiply_adds(tmp_path) == 0  # recorded once


def test_committed_layers_come_from_the_full_runs_that_recorded_them(tmp_path):
    (tmp_path / "runs").mkdir()
    layers = [{"name": "0", "kind": "Conv2d", "params": 20}]
    (tmp_path / "01_a.json").write_text(json.dumps({"layers": layers}))
    (tmp_path / "02_b.json").write_text(json.dumps({"params": 5}))  # recorded before layers were
    assert experiments.committed_layers(["01_a", "02_b", "03_c"], tmp_path) == {"session 1": layers}


def test_run_histories_read_one_seed_of_each_variant(tmp_path):
    history = {"epochs": [{"epoch": 1, "eval_acc": 0.98, "seconds": 2.0}], "eval_name": "test"}
    for variant in ("default", "A=1"):
        _write_run(tmp_path, "nb", variant, 1, 0.99)
        path = tmp_path / "runs" / "nb" / variant / "seed1.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"history": history}))
    found = experiments.run_histories("nb", {"with": "default", "without": "A=1", "missing": "B=2"}, 1, tmp_path)
    assert list(found) == ["with", "without"] and found["with"].column("eval_acc") == [0.98]


def test_kernels_started_together_cannot_race_for_a_port():
    import os

    with notebooks._kernel_manager() as km:
        assert km.transport == ("ipc" if os.name == "posix" else "tcp")
        if os.name == "posix":
            assert len(km.ip) < 100  # a Unix socket path must stay short


def test_a_variants_name_and_its_overrides_are_inverses():
    for overrides in ({}, {"VAL_SPLIT": True, "LR": 0.1}, {"HEAD": "flatten"}):
        assert runs.overrides_of(runs.variant_name(overrides)) == overrides


def test_the_frontier_holds_only_the_default_design_at_other_widths(tmp_path):
    _write_run(tmp_path, "03_nb", "default", 1, 0.995, params=7_000)
    for seed in range(1, 6):
        _write_run(tmp_path, "03_nb", "WIDTH=0.8", seed, 0.994 + 0.0001 * (seed > 1), params=4_000)
    _write_run(tmp_path, "03_nb", "WIDTH=0.8,DEPTH=3", 1, 0.990, params=3_000)  # another design: not on it
    _write_run(tmp_path, "01_nb", "default", 1, 0.993, params=20_000)
    points, text = experiments.frontier("03_nb", "WIDTH", others=("01_nb",), results_dir=tmp_path)
    assert list(points) == ["session 1", "session 3 (WIDTH=0.8)", "session 3 (default)"]
    assert "DEPTH" not in text
    assert text.endswith("smallest model reaching the target in at least 4 of 5 seeds: WIDTH=0.8, 4,000 parameters")
