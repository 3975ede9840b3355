"""Experiments: a notebook run with other parameter values, over seeds, and summaries of those runs.

Every session notebook has one code cell tagged `parameters` (papermill's convention) holding `SEED`
and the knobs its lesson is about, and one cell tagged `sweep` that declares what
`python -m mnist_course sweep` runs:

    SWEEP = {"default": [1, 2, 3, 4, 5], "AUGMENT=False": [1, 2, 3], "SCHEDULE=step,OPTIMIZER=adam": [1, 2, 3]}

A *variant* is a set of overrides of the defaults, written `NAME=VALUE[,NAME=VALUE]` ("default"
when there are none). Each run of a variant and seed is one JSON file,
`results/runs/<notebook>/<variant>/seed<N>.json`: the notebook's results (what `report()` writes)
plus the `parameters` it ran with and the `seed`. Summaries and charts are computed from these
files, never typed. This module parses and checks parameters and reads run files; executing
notebooks is the command line's job (`__main__.py`).
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


def variant_name(overrides: dict[str, object]) -> str:
    """The folder name of a variant: its overrides in the order given, or "default"."""
    parts = [f"{k}={v}" for k, v in overrides.items() if k not in RUNNER_PARAMETERS]
    return ",".join(parts) or DEFAULT_VARIANT


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


def inject_parameters(nb, values: dict[str, object]) -> None:
    """Insert a cell setting `values` right after the cell tagged `parameters`, as papermill does.

    Done here with nbformat because every value is a Python literal, so `repr` writes it exactly;
    papermill's own injection needs metadata that not every notebook has.
    """
    import nbformat

    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "# Parameters set by python -m mnist_course\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


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


def sweep_plan(notebook: str | Path) -> list[tuple[dict[str, object], list[int]]]:
    """The variants and seeds declared in the notebook's cell tagged `sweep` (`SWEEP = {...}`), checked."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "sweep" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{notebook} needs exactly one cell tagged 'sweep' with SWEEP = {{...}}")
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["SWEEP"]:
            declared = ast.literal_eval(node.value)
            break
    else:
        raise ParameterError(f"the sweep cell of {notebook} does not assign SWEEP = {{...}}")
    plan = []
    for name, seeds in declared.items():
        overrides = {} if name == DEFAULT_VARIANT else parse_overrides([name])
        check_overrides(notebook, overrides)
        plan.append((overrides, list(seeds)))
    return plan


def sweep_order(plan: list[tuple]) -> list[tuple]:
    """`[(notebook, overrides, seeds), ...]` -> `[(notebook, overrides, seed), ...]` in the order to run.

    Headline numbers first (every seed of each default), then one seed of every variant, then the
    next seed of each: a sweep stopped part-way has measured as much of everything as it could.
    """
    ranked = [((bool(o), rank, i), (nb, o, s)) for i, (nb, o, seeds) in enumerate(plan) for rank, s in enumerate(seeds)]
    return [job for _, job in sorted(ranked, key=lambda r: r[0])]


def run_file(results_dir: str | Path, notebook: str, overrides: dict[str, object], seed: int) -> Path:
    """Where the run of `notebook` (a stem, e.g. "01_fc_baseline") with `overrides` and `seed` is kept."""
    return Path(results_dir) / RUNS / notebook / variant_name(overrides) / f"seed{seed}.json"


def load_runs(results_dir: str | Path, notebook: str) -> dict[str, list[dict]]:
    """Every run file of `notebook` under results_dir/runs: variant -> runs sorted by seed."""
    runs: dict[str, list[dict]] = {}
    for path in sorted(Path(results_dir, RUNS, notebook).glob("*/seed*.json")):
        runs.setdefault(path.parent.name, []).append(json.loads(path.read_text()))
    return {v: sorted(r, key=lambda run: run["seed"]) for v, r in runs.items()}


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


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(variant: str, runs: list[dict]) -> Summary:
    """Mean ± std of the min-of-last-3 and final accuracy, passes, params and seconds per epoch."""
    done = [r for r in runs if "error" not in r]
    if not done:
        nan = float("nan")
        return Summary(variant, len(runs), 0, len(runs), nan, nan, nan, nan, 0, nan)
    min3 = _mean_std([r["min_last3_test_acc"] for r in done])
    final = _mean_std([r["final_test_acc"] for r in done])
    epoch_seconds = [row["seconds"] for r in done for row in r["history"]["epochs"]]
    return Summary(
        variant, len(runs), sum(r["passed"] for r in done), len(runs) - len(done), *min3, *final,
        done[0]["params"], statistics.fmean(epoch_seconds),
        sum(r["min_last3_test_acc"] >= r.get("target_acc", 0.994) for r in done),
    )  # fmt: skip


def summary_table(notebook: str, summaries: list[Summary]) -> str:
    """Markdown table of the summaries of one notebook's variants."""
    lines = [
        f"| `{notebook}` variant | params | seeds | passed | min of last 3 (mean ± std) | final (mean ± std) "
        "| s/epoch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        failed = f" ({s.failed} failed)" if s.failed else ""
        lines.append(
            f"| `{s.variant}` | {s.params:,} | {s.seeds} | {s.passed}/{s.seeds}{failed} | "
            f"{s.min3_mean:.2%} ± {s.min3_std:.2%} | {s.final_mean:.2%} ± {s.final_std:.2%} | "
            f"{s.seconds_per_epoch:.1f} |"
        )
    return "\n".join(lines)


def summaries(results_dir: str | Path, notebook: str) -> list[Summary]:
    """Summaries of every variant of `notebook` found under results_dir/runs, "default" first."""
    return summaries_of(load_runs(results_dir, notebook))


def summaries_of(runs: dict[str, list[dict]]) -> list[Summary]:
    """Summaries of `load_runs`' variants, "default" first."""
    return [summarize(v, runs[v]) for v in sorted(runs, key=lambda v: (v != DEFAULT_VARIANT, v))]


def run_time_line(runs_by_notebook: dict[str, dict[str, list[dict]]]) -> str:
    """What the runs (notebook -> `load_runs`) cost: how many there are and the sum of their wall
    times, per notebook. A sweep runs one per core at a time, so its elapsed time is about this sum
    divided by the workers."""
    seconds_by_notebook = {
        nb: [r.get("wall_seconds", 0.0) for runs in variants.values() for r in runs]
        for nb, variants in runs_by_notebook.items()
    }
    total = sum(len(seconds) for seconds in seconds_by_notebook.values())
    hours = sum(sum(seconds) for seconds in seconds_by_notebook.values()) / 3600
    parts = ", ".join(f"{nb} {len(s)} runs {sum(s) / 3600:.1f} h" for nb, s in seconds_by_notebook.items())
    return f"{total} runs; their wall times add up to {hours:.1f} hours ({parts})."


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


def _spread(mean: float, std: float, test_images: int = 10_000) -> float:
    """Spread of one run's accuracy: the seeds' std, but never below the binomial standard error of
    one reading on the test set (three seeds can agree by chance)."""
    return max(std, (mean * (1 - mean) / test_images) ** 0.5)


def _error_of_difference(a: tuple[float, float, int], b: tuple[float, float, int], test_images: int) -> float:
    """Standard error, in points, of the difference of two means, each given as (mean, std, runs)."""
    return 100 * sum(_spread(mean, std, test_images) ** 2 / runs for mean, std, runs in (a, b)) ** 0.5


def _reading(delta: float, error: float) -> str:
    """`compare_variants`' verdict on a difference in points: within the noise unless beyond 2 errors."""
    verdict = "within the noise" if abs(delta) <= 2 * error else ("higher" if delta > 0 else "lower")
    return f"{verdict} ({delta:+.2f} points, {abs(delta) / error:.1f}x its error)"


def difference(values: list[float], baseline: list[float], test_images: int = 10_000) -> str:
    """How `values` (accuracies as fractions, one per run) differ from `baseline` on average, read
    with `compare_variants`' rule: the difference of the means in points against its standard error
    (each side's spread over runs, floored at one test reading's binomial error)."""
    if not values or not baseline:
        return "no runs to compare yet"
    (a, a_std), (b, b_std) = _mean_std(values), _mean_std(baseline)
    error = _error_of_difference((a, a_std, len(values)), (b, b_std, len(baseline)), test_images)
    return _reading(100 * (a - b), error)


def compare_variants(
    notebook: str,
    variants: dict[str, str],
    results_dir: str | Path | None = None,
    test_images: int = 10_000,
    baseline: str = DEFAULT_VARIANT,
) -> str:
    """A text table of `baseline` (the default) and `variants` ({variant: what it changes}) over seeds.

    Per row: params, seeds, passes, min-of-last-3 and final accuracy (mean ± std), the difference
    from the baseline in points with its standard error, and a reading: "within the noise" unless the
    difference exceeds twice its standard error. The standard error uses each variant's spread
    over seeds, floored at the binomial error of one test reading (≈ 0.08 points near 99.4%).
    Variants without runs get the command that makes them. Against a baseline other than the
    default, each row under the baseline's is named by what it changes against it (long names made
    the table hard to read), and a line above the table says so.
    """
    where = Path(results_dir) if results_dir else find_results_dir()
    if where is None:
        return NO_RESULTS
    runs = load_runs(where, notebook)
    found = {variant: summarize(variant, variant_runs) for variant, variant_runs in runs.items()}
    base = found.get(baseline)
    relative = baseline != DEFAULT_VARIANT
    label = {}
    if relative:
        source = where.parent / "notebooks" / f"{notebook}.ipynb"  # its defaults, where the clone has it
        defaults = {n: p.default for n, p in notebook_parameters(source).items()} if source.is_file() else {}
        label = {v: _change_against(v, baseline, runs, defaults) for v in variants}
    against = "baseline" if relative else baseline
    rows = [("variant", "params", "seeds", "passed", "min of last 3", "final", f"vs {against} (points)", "s/epoch")]
    readings = []
    for variant, what in {baseline: "the baseline", **variants}.items():
        s = found.get(variant)
        if s is None or s.seeds == s.failed:
            command = f"python -m mnist_course run notebooks/{notebook}.ipynb" + (
                "" if variant == DEFAULT_VARIANT else f" -p {' -p '.join(variant.split(','))}"
            )
            readings.append(f"{variant}: no completed runs yet ({command} --seeds 1-3)")
            continue
        diff = ""
        if base is not None and variant != baseline and base.seeds > base.failed:
            delta = 100 * (s.min3_mean - base.min3_mean)
            error = _error_of_difference(
                (s.min3_mean, s.min3_std, s.seeds - s.failed),
                (base.min3_mean, base.min3_std, base.seeds - base.failed),
                test_images,
            )
            diff = f"{delta:+.2f} ± {error:.2f}"
            readings.append(f"{label.get(variant, variant)} ({what}): {_reading(delta, error)}")
        failed = f" ({s.failed} failed)" if s.failed else ""
        rows.append((
            label.get(variant, variant), f"{s.params:,}", str(s.seeds), f"{s.passed}/{s.seeds}{failed}",
            f"{s.min3_mean:.2%} ± {s.min3_std:.2%}", f"{s.final_mean:.2%} ± {s.final_std:.2%}", diff,
            f"{s.seconds_per_epoch:.1f}",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]  # fmt: skip
    header = ["the first row is the baseline; each row under it names what it changes"] if relative else []
    return "\n".join([*header, *lines, "", *readings])


def _change_against(variant: str, baseline: str, runs: dict[str, list[dict]], defaults: dict[str, object]) -> str:
    """What `variant` sets differently from `baseline`, as a variant name (e.g. "LR=0.1"): from the
    parameters their first runs recorded, else from their names; the notebook's `defaults` fill what
    either lacks (runs made before a parameter existed), and "?" marks what nothing says."""

    def values(v: str) -> dict[str, object]:
        recorded = runs.get(v, [{}])[0].get("parameters")
        return defaults | (recorded if recorded is not None else parse_overrides([v]) if v != DEFAULT_VARIANT else {})

    mine, theirs = values(variant), values(baseline)
    names = [*mine, *(k for k in theirs if k not in mine)]
    changed = {
        k: mine.get(k, "?") for k in names if k not in RUNNER_PARAMETERS and mine.get(k, "?") != theirs.get(k, "?")
    }
    return variant_name(changed) if changed else "same"


def compare_extra(notebook: str, variants: list[str], key: str, results_dir: str | Path | None = None) -> str:
    """Mean ± std over seeds of the numbers a notebook recorded under `extra[key]` (e.g. the shift
    robustness of session 1), one line per variant; fractions in [0, 1] are shown as percentages."""
    where = Path(results_dir) if results_dir else find_results_dir()
    if where is None:
        return NO_RESULTS
    runs = load_runs(where, notebook)
    lines = []
    for variant in variants:
        records = [r["extra"][key] for r in runs.get(variant, []) if key in r.get("extra", {})]
        if not records:
            lines.append(f"{variant}: no runs with {key} yet")
            continue
        cells = []
        for name in records[0]:
            mean, std = _mean_std([float(r[name]) for r in records])
            is_fraction = all(0 <= r[name] <= 1 and isinstance(r[name], float) for r in records)
            cells.append(f"{name} {mean:.2%} ± {std:.2%}" if is_fraction else f"{name} {mean:.1f} ± {std:.1f}")
        seeds = f"{len(records)} seed" + ("s" if len(records) > 1 else "")
        lines.append(f"{variant} ({seeds}): " + ", ".join(cells))
    return "\n".join(lines)
