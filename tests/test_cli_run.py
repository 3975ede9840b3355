"""`python -m mnist_course run` on two tiny notebooks: one that reports, one that fails."""

import json

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from mnist_course.__main__ import main

REPORTING = """
import mnist_course as mc
from torch import nn
history = mc.History(epochs=[dict(epoch=i, train_loss=0.1, train_acc=0.97, eval_loss=0.1, eval_acc=0.97, lr=0.1,
                                  seconds=1.0) for i in (1, 2)])
mc.report("tiny", nn.Linear(2, 2), history, max_params=10)
"""


def write_notebook(path, source):
    nb = new_notebook(cells=[new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_run_fast_executes_and_writes_results(tmp_path, capsys):
    notebook = tmp_path / "tiny.ipynb"
    write_notebook(notebook, REPORTING)
    assert main(["run", "--fast", "--results-dir", str(tmp_path / "results"), str(notebook)]) == 0
    result = json.loads((tmp_path / "results" / "fast" / "tiny.json").read_text())
    assert result["mode"] == "fast" and result["passed"] and result["params"] == 6 and result["wall_seconds"] > 0
    executed = nbformat.read(tmp_path / "results" / "fast" / "tiny.ipynb", as_version=4)
    assert "==> PASS" in executed.cells[0].outputs[0]["text"]
    assert "PASS: final 97.00%" in capsys.readouterr().out
    assert not nbformat.read(notebook, as_version=4).cells[0].get("outputs")  # the source stays unexecuted


def test_failing_notebook_is_reported_and_left_unchanged(tmp_path, capsys):
    notebook = tmp_path / "broken.ipynb"
    write_notebook(notebook, "raise ValueError('boom')")
    before = notebook.read_bytes()
    assert main(["run", "--results-dir", str(tmp_path / "results"), str(notebook)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ValueError: boom" in err and "Traceback" not in err
    assert notebook.read_bytes() == before
    assert (tmp_path / "broken.failed.ipynb").is_file()
