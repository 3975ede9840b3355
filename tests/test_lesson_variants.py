"""A real lesson run with a changed knob, in fast mode, as a student or `sweep --fast` would run it."""

import json
from pathlib import Path

import pytest

from mnist_course.__main__ import main

REPO = Path(__file__).resolve().parents[1]


def test_a_variant_over_the_budget_is_a_result_not_a_crash(tmp_path):
    # Session 3's wider frontier models exceed its 8,000-parameter budget on purpose. In fast mode
    # that must not trip the notebook's guard, which checks that the run learned, not the budget.
    notebook = REPO / "notebooks" / "03_1x1_transitions.ipynb"
    argv = ["run", str(notebook), "-p", "WIDTH=1.25", "--seeds", "1", "--fast", "--results-dir", str(tmp_path)]
    assert main(argv) == 0
    record = json.loads((tmp_path / "fast" / "runs" / "03_1x1_transitions" / "WIDTH=1.25" / "seed1.json").read_text())
    assert record["params"] > record["max_params"] and not record["passed"]
    assert record["learned"] and record["parameters"]["WIDTH"] == 1.25


@pytest.mark.parametrize("stem", ["02_bn_dropout_gap", "03_1x1_transitions"])
def test_an_impossible_depth_stops_with_the_notebooks_own_message(stem, tmp_path, capsys):
    # Six unpadded 3x3 blocks do not fit the 12x12 map after the pool: the model cell says so before
    # any training, and no run file is written.
    argv = ["run", str(REPO / "notebooks" / f"{stem}.ipynb"), "-p", "LATE_BLOCKS=6", "--seeds", "1", "--fast",
            "--results-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "LATE_BLOCKS = 6" in capsys.readouterr().err
    assert not list((tmp_path / "fast" / "runs").glob("**/seed1.json"))
