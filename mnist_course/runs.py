"""The committed runs on disk, read-only: where each run's file is, what its variant is called, and
summaries over seeds.

A *variant* is a set of overrides of a lesson's parameters cell (the code cell tagged `parameters`),
written `NAME=VALUE[,NAME=VALUE]` ("default" when there are none). Each run of a variant and seed is
one JSON file, `results/runs/<notebook>/<variant>/seed<N>.json`: what `report()` wrote, plus the
`parameters` it ran with (every value of the parameters cell; a parameter such as session 1's
`RECIPE` may set others in a later cell, so the lesson's code says what a value means) and the `seed`.
Making runs is the runner's job (mnist_course/runner/).
"""

from __future__ import annotations

import ast
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

RUNS = "runs"  # results/runs/<notebook>/<variant>/seed<N>.json
DEFAULT_VARIANT = "default"
# Parameters the runner sets for every run itself; they never name a variant.
RUNNER_PARAMETERS = ("SEED",)
_CHOICES = re.compile(r"one of:\s*(.+)$")


class ParameterError(ValueError):
    """A parameter name or value the notebook does not accept; raised before anything runs."""


@dataclass(frozen=True)
class Parameter:
    name: str
    default: object
    help: str  # the comment after the assignment in the parameters cell

    @property
    def choices(self) -> list[object] | None:
        """Allowed values, when the comment says `one of: a, b, c`."""
        found = _CHOICES.search(self.help)
        return [parse_value(v.strip()) for v in found.group(1).split(",")] if found else None


def parse_value(text: str) -> object:
    """A Python literal (`False`, `0.1`, `3`, `'adam'`) or, failing that, the text itself (`adam`)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(items: list[str]) -> dict[str, object]:
    """`["BN=False", "DROPOUT=0.1"]` or `["BN=False,DROPOUT=0.1"]` -> `{"BN": False, "DROPOUT": 0.1}`."""
    overrides: dict[str, object] = {}
    for item in items:
        for part in filter(None, item.split(",")):
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise ParameterError(f"{part!r} is not NAME=VALUE (e.g. -p DROPOUT=0.1)")
            overrides[name.strip()] = parse_value(value.strip())
    return overrides


def variant_name(overrides: dict[str, object]) -> str:
    """The folder name of a variant: its overrides in the order given, or "default"."""
    parts = [f"{k}={v}" for k, v in overrides.items() if k not in RUNNER_PARAMETERS]
    return ",".join(parts) or DEFAULT_VARIANT


def overrides_of(variant: str) -> dict[str, object]:
    """The overrides a variant's name stands for: the inverse of `variant_name` ("default": none)."""
    return {} if variant == DEFAULT_VARIANT else parse_overrides([variant])


def run_options(variant: str) -> str:
    """The `-p NAME=VALUE` options of `python -m mnist_course run` that make `variant` ("" for the default)."""
    return "" if variant == DEFAULT_VARIANT else "".join(f" -p {part}" for part in variant.split(","))


def notebook_parameters(notebook: str | Path) -> dict[str, Parameter]:
    """The cell tagged `parameters` of `notebook`: name -> default value and the comment after it.

    Read with `ast` rather than papermill's inspection, whose line parser silently drops a parameter
    whose comment contains "=" (e.g. `DROPOUT = 0.05  # 0 = off`).
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{notebook} needs exactly one code cell tagged 'parameters'")
    lines = cells[0].source.splitlines()
    params = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            comment = lines[node.end_lineno - 1][node.end_col_offset :].strip()
            name = node.targets[0].id
            params[name] = Parameter(name, ast.literal_eval(node.value), comment.removeprefix("#").strip())
    return params


def run_file(results_dir: str | Path, notebook: str, overrides: dict[str, object], seed: int) -> Path:
    """Where the run of `notebook` (a stem, e.g. "01_fc_baseline") with `overrides` and `seed` is kept."""
    return Path(results_dir) / RUNS / notebook / variant_name(overrides) / f"seed{seed}.json"


def load_runs(results_dir: str | Path, notebook: str) -> dict[str, list[dict]]:
    """Every run file of `notebook` under results_dir/runs: variant -> runs sorted by seed."""
    runs: dict[str, list[dict]] = {}
    for path in sorted(Path(results_dir, RUNS, notebook).glob("*/seed*.json")):
        runs.setdefault(path.parent.name, []).append(json.loads(path.read_text()))
    return {v: sorted(r, key=lambda run: run["seed"]) for v, r in runs.items()}


COLLAPSE_BELOW = 0.5  # final accuracy under which a finished run's network stopped learning


def collapsed(run: dict) -> bool:
    """A run that finished, but whose network stopped learning: final accuracy below COLLAPSE_BELOW,
    as when it answers one digit for every image (about 10%). That is an outcome of its own, not a
    sample of the variant's accuracy, so summaries count it apart instead of averaging it in."""
    return "error" not in run and run["final_test_acc"] < COLLAPSE_BELOW


def why_stopped(run: dict) -> str:
    """What stopped a run that failed, in the error's own words up to its first sentence break (e.g. "The
    loss became nan at epoch 2, batch 465 (learning rate 0.2265)"): the runner's wording around it
    names files on the machine that ran it, which a lesson's table has no use for."""
    match = re.search(r"Error: (.+?)(?:; |\. )", run["error"])
    return match.group(1) if match else "an error"


def averaged(run: dict) -> bool:
    """Whether a run's accuracies count in a variant's means and tests: it neither failed nor collapsed."""
    return "error" not in run and not collapsed(run)


@dataclass
class Summary:
    """One variant over its seeds. Accuracies are fractions; std is the sample std (0 for one seed)."""

    variant: str
    seeds: int
    passed: int
    failed: int  # runs that stopped with an error (e.g. a NaN loss) and have no accuracy
    min3_mean: float
    min3_std: float
    final_mean: float
    final_std: float
    params: int
    seconds_per_epoch: float
    reached: int = 0  # runs whose min of last 3 reached the target, whatever their parameter budget
    machine: str | None = None  # the one machine every run recorded; None if they differ or some did not say
    multiply_adds: int | None = None  # per image, as the run recorded it (None in runs made before it did)
    collapsed: int = 0  # runs that finished but stopped learning (`collapsed`): counted, not averaged

    @property
    def measured(self) -> int:
        """The runs the accuracies average: neither failed nor collapsed."""
        return self.seeds - self.failed - self.collapsed

    def passes(self) -> str:
        """"passed/seeds", with the runs that failed or collapsed named: "1/3 (2 collapsed)"."""
        apart = [f"{n} {what}" for n, what in ((self.failed, "failed"), (self.collapsed, "collapsed")) if n]
        return f"{self.passed}/{self.seeds}" + (f" ({', '.join(apart)})" if apart else "")


def machine_of(runs: list[dict]) -> str | None:
    """"CPU model, N threads" (or the GPU) if every run recorded the same machine, else None: timings
    from different machines (or from runs made before run files recorded it) must not be compared."""
    seen = set()
    for r in runs:
        m = r.get("machine")
        if m is None:
            return None
        seen.add(f"{m['gpu']}" if m.get("gpu") else f"{m['cpu']}, {m['threads']} thread{'s' * (m['threads'] > 1)}")
    return seen.pop() if len(seen) == 1 else None


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(variant: str, runs: list[dict]) -> Summary:
    """Mean ± std of the min-of-last-3 and final accuracy, passes, params and seconds per epoch, over
    the runs that neither failed nor collapsed (those are counted apart)."""
    errors = sum("error" in r for r in runs)
    fallen = sum(collapsed(r) for r in runs)
    done = [r for r in runs if averaged(r)]
    if not done:
        nan = float("nan")
        return Summary(variant, len(runs), 0, errors, nan, nan, nan, nan, 0, nan, collapsed=fallen)
    min3 = mean_std([r["min_last3_test_acc"] for r in done])
    final = mean_std([r["final_test_acc"] for r in done])
    epoch_seconds = [row["seconds"] for r in done for row in r["history"]["epochs"]]
    return Summary(
        variant, len(runs), sum(r["passed"] for r in done), errors, *min3, *final,
        done[0]["params"], statistics.fmean(epoch_seconds),
        sum(r["min_last3_test_acc"] >= r.get("target_acc", 0.994) for r in done), machine_of(done),
        done[0].get("multiply_adds"), fallen,
    )  # fmt: skip


def summaries(results_dir: str | Path, notebook: str) -> list[Summary]:
    """Summaries of every variant of `notebook` found under results_dir/runs, "default" first."""
    return summaries_of(load_runs(results_dir, notebook))


def summaries_of(runs: dict[str, list[dict]]) -> list[Summary]:
    """Summaries of `load_runs`' variants, "default" first."""
    return [summarize(v, runs[v]) for v in sorted(runs, key=lambda v: (v != DEFAULT_VARIANT, v))]


def find_results_dir(start: str | Path = ".") -> Path | None:
    """The course's `results/` folder as seen from where a notebook runs, or None.

    Looks in `start/results` (the repository root), `start/../results` (a notebook in `notebooks/`)
    and `start/mnist-course/results` (the clone the Colab install cell makes next to the notebook).
    """
    start = Path(start).resolve()
    for candidate in (start / "results", start.parent / "results", start / "mnist-course" / "results"):
        if (candidate / RUNS).is_dir():
            return candidate
    return None


NO_RESULTS = "No results/runs folder found: run this notebook from a clone of the course repository."


def results_folder(results_dir: str | Path | None) -> Path | None:
    """`results_dir` if given, else the one `find_results_dir` finds from here (None: no clone)."""
    return Path(results_dir) if results_dir else find_results_dir()
