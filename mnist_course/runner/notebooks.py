"""Executing a lesson notebook: with its defaults (the committed outputs), or as a variant and seed
(one run file of the sweep), and building a lesson's model from its cell tagged `model`.

Parameters are set papermill's way: a cell injected right after the one tagged `parameters`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from .. import atomic, course, runs
from ..runs import ParameterError, notebook_parameters, variant_name
from ..train import NO_BARS_ENV

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"


class RunError(RuntimeError):
    """A notebook run failed; the message says which notebook, what and where the output went."""

    def __init__(self, message: str, ename: str = ""):
        super().__init__(message)
        self.ename = ename  # the exception's name inside the notebook, e.g. "TrainingError"


def notebook_path(stem: str) -> Path:
    return NOTEBOOKS / f"{stem}.ipynb"


def check_overrides(notebook: str | Path, overrides: dict[str, object]) -> dict[str, object]:
    """All parameter values a run uses (defaults updated with `overrides`), after checking each override.

    Raises ParameterError for an unknown name, a value of another type than the default (an int is
    accepted for a float), or a value outside the `one of:` choices of the parameter's comment.
    """
    params = notebook_parameters(notebook)
    for name, value in overrides.items():
        if name not in params:
            raise ParameterError(f"{Path(notebook).name} has no parameter {name}; it has: {', '.join(params)}")
        p = params[name]
        expected = type(p.default)
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = overrides[name] = float(value)
            ok = True
        if not ok:
            raise ParameterError(f"{name}={value!r}: expected a {expected.__name__}, like the default {p.default!r}")
        if p.choices is not None and value not in p.choices:
            raise ParameterError(f"{name}={value!r}: must be one of {', '.join(map(repr, p.choices))}")
    return {name: p.default for name, p in params.items()} | overrides


def parse_seeds(text: str) -> list[int]:
    """`"1-5"` -> [1, 2, 3, 4, 5]; `"1,3,7"` -> [1, 3, 7]; `"2"` -> [2]."""
    seeds: list[int] = []
    try:
        for part in filter(None, text.split(",")):
            low, _, high = part.partition("-")
            seeds.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ParameterError(f"--seeds {text!r}: expected e.g. 1-5 or 1,3,7") from None
    if not seeds:
        raise ParameterError(f"--seeds {text!r} names no seed")
    return seeds


def inject_parameters(nb, values: dict[str, object]) -> None:
    """Insert a cell setting `values` right after the cell tagged `parameters`, as papermill does.

    Done here with nbformat because every value is a Python literal, so `repr` writes it exactly;
    papermill's own injection needs metadata that not every notebook has.
    """
    import nbformat

    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "# Parameters set by python -m mnist_course\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


def build_model(stem: str, overrides: dict[str, object] | None = None):
    """The lesson's model, built by running its parameters cell and its cells tagged `model` on the CPU.

    The benchmark times these, so it always times the model the lesson teaches, never a copy.
    """
    import nbformat
    import torch
    from torch import nn

    import mnist_course as mc

    nb = nbformat.read(notebook_path(stem), as_version=4)
    values = check_overrides(notebook_path(stem), dict(overrides or {}))
    namespace = {"mc": mc, "nn": nn, "torch": torch, "device": torch.device("cpu"), **values}
    cells = [c.source for c in nb.cells if "model" in c.metadata.get("tags", [])]
    if not cells:
        raise ParameterError(f"{stem} has no code cell tagged 'model'")
    for source in cells:
        exec(compile(source, f"<{stem} model cell>", "exec"), namespace)  # the lesson's own code
    return namespace["model"]


def execute(notebook: Path, output: Path, parameters: dict | None = None) -> float:
    """Run `notebook` top to bottom in a fresh kernel (working folder: the notebook's), save to `output`.

    Written atomically; if a cell fails, the partly executed notebook goes to `<output>.failed.ipynb`
    instead, so a committed notebook is never replaced by a broken run. Returns the seconds it took.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    start = time.perf_counter()
    try:
        with _kernel_manager() as km:
            NotebookClient(nb, km=km, timeout=None, resources={"metadata": {"path": str(notebook.parent)}}).execute()
    except CellExecutionError as err:
        failed = output.with_suffix(".failed.ipynb")
        failed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, failed)
        raise RunError(
            f"{notebook} failed in a cell ({err.ename}: {err.evalue}). The partly executed notebook is in "
            f"{failed}; {notebook} was left unchanged.",
            err.ename,
        ) from err
    seconds = time.perf_counter() - start
    atomic.write_text(output, nbformat.writes(nb))
    return seconds


@contextlib.contextmanager
def _kernel_manager():
    """A python3 kernel manager. On POSIX its kernel talks over Unix sockets in a private folder:
    over TCP, kernels started at the same moment (a sweep's workers) can pick the same free port, and
    one of them dies with "Address already in use"."""
    from jupyter_client.manager import KernelManager

    if os.name != "posix":
        yield KernelManager(kernel_name="python3")
        return
    with tempfile.TemporaryDirectory(prefix="mnist-course-kernel-") as folder:
        yield KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(folder, "kernel"))


@contextlib.contextmanager
def environment(settings: dict[str, str]):
    """Set environment variables (which the notebook kernels inherit) for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def mode_settings(fast: bool, results_dir: Path) -> dict[str, str]:
    return {
        course.FAST_ENV: "1" if fast else "0",
        course.RESULTS_ENV: str(results_dir),
        NO_BARS_ENV: "1",  # saved notebooks get the per-epoch lines, not widget placeholders
    }


def run_notebook(notebook: Path, fast: bool, results_dir: Path) -> dict:
    """Execute a committed notebook with its defaults (in place, or into results_dir in fast mode)."""
    output = results_dir / notebook.name if fast else notebook
    print(f"running {notebook} ({'fast' if fast else 'full'} mode) ...", flush=True)
    with environment(mode_settings(fast, results_dir)):
        seconds = execute(notebook, output)
    result_file = results_dir / f"{notebook.stem}.json"
    if not result_file.is_file():
        raise RunError(f"{notebook} did not write {result_file} (does its last cell call report()?)")
    result = json.loads(result_file.read_text()) | {"wall_seconds": round(seconds, 1)}
    atomic.write_text(result_file, json.dumps(result, indent=1))
    print(f"  {describe(result)} -> {output}")
    return result


def run_variant(notebook: Path, overrides: dict, seed: int, fast: bool, results_dir: Path) -> dict:
    """Run `notebook` with `overrides` and `seed` into results_dir/runs/<notebook>/<variant>/seed<N>.json.

    The committed notebook is never touched: the executed copy goes next to the JSON (git-ignored).
    A run that stops with a TrainingError (e.g. the loss became NaN) is a result too: its file holds
    the error instead of accuracies. Any other failure raises RunError and writes no file.
    """
    parameters = check_overrides(notebook, {**overrides, "SEED": seed})
    target = runs.run_file(results_dir, notebook.stem, overrides, seed)
    scratch = target.parent / f".seed{seed}.running"
    shutil.rmtree(scratch, ignore_errors=True)
    settings = mode_settings(fast, scratch) | {course.CHECKPOINTS_ENV: str(scratch / "checkpoints")}
    record = {"notebook": notebook.stem, "variant": variant_name(overrides), "seed": seed}
    try:
        with environment(settings):
            seconds = execute(notebook, target.with_suffix(".ipynb"), {**overrides, "SEED": seed})
        result = json.loads((scratch / f"{notebook.stem}.json").read_text())
        record |= result | {"wall_seconds": round(seconds, 1)}
    except RunError as err:
        if err.ename != "TrainingError":
            raise
        record |= {"error": str(err), "mode": "fast" if fast else "full", "passed": False}
    except FileNotFoundError:
        raise RunError(f"{notebook} did not write its results (does its last cell call report()?)") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    record |= {"parameters": parameters, "seed": seed}
    atomic.write_text(target, json.dumps(record, indent=1))
    return record


def describe(record: dict) -> str:
    """One line on a run: PASS/FAIL, final and min-of-last-3 accuracy, minutes (or its error)."""
    if "error" in record:
        return f"FAILED: {record['error']}"
    return (
        f"{'PASS' if record['passed'] else 'FAIL'}: final {record['final_test_acc']:.2%}, "
        f"min of last 3 {record['min_last3_test_acc']:.2%}, {record['wall_seconds'] / 60:.1f} min"
    )


def variant_command(notebook: Path, variant: str, seeds: str) -> str:
    """The command, run from the repository's root, that makes a variant's runs of `notebook`."""
    path = notebook.resolve()
    shown = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
    return f"python -m mnist_course run {shown} --seeds {seeds}{runs.run_options(variant)}"


def run_command(notebooks: list[Path], parameters: list[str], seeds: str | None, fast: bool, results_dir: Path) -> int:
    """`python -m mnist_course run`: the notebooks with their defaults (the committed outputs and the
    README's results table), or with `-p`/`--seeds` one notebook's variant into results/runs/."""
    from . import readme

    if not (parameters or seeds):
        for notebook in notebooks:
            run_notebook(notebook, fast, results_dir)
        if not fast:
            readme.update_readme(REPO / "README.md", results_dir)
            print(f"README results table updated from {results_dir}/*.json")
        return 0
    if len(notebooks) != 1:
        raise ParameterError("-p and --seeds apply to one notebook: name exactly one")
    overrides = runs.parse_overrides(parameters)
    defaults = check_overrides(notebooks[0], overrides)  # bad names and values stop here
    for seed in parse_seeds(seeds) if seeds else [defaults["SEED"]]:
        print(f"running {notebooks[0].stem} {variant_name(overrides)} seed {seed} ...", flush=True)
        record = run_variant(notebooks[0], overrides, seed, fast, results_dir)
        print(f"  {describe(record)} -> {runs.run_file(results_dir, notebooks[0].stem, overrides, seed)}")
    return 0
