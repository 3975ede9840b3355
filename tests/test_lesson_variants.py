"""A real lesson run with a changed knob, in fast mode, as a student or `sweep --fast` would run it."""

import json
from pathlib import Path

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
