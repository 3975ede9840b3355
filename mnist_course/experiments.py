"""The committed runs, read-only: the tables and figures a lesson prints about its experiments.

Every lesson has one code cell tagged `parameters` (papermill's convention) holding `SEED` and the
knobs it is about. A *variant* is a set of overrides of those defaults, written
`NAME=VALUE[,NAME=VALUE]` ("default" when there are none). Each run of a variant and seed is one
JSON file, `results/runs/<notebook>/<variant>/seed<N>.json`: what `report()` wrote, plus the
`parameters` it ran with and the `seed`. Making runs is the runner's job (mnist_course/runner/);
this module only reads them, so every table is computed from files, never typed.
"""

from __future__ import annotations

import ast
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from .history import History

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


def _default_summary(where: Path, notebook: str) -> Summary | None:
    runs = load_runs(where, notebook).get(DEFAULT_VARIANT)
    return summarize(DEFAULT_VARIANT, runs) if runs else None


def frontier(notebook: str, knob: str, others: tuple[str, ...] = (), results_dir: str | Path | None = None):
    """The parameters-vs-accuracy frontier of `notebook`'s `knob` variants (e.g. "WIDTH"), with the
    default and the defaults of the `others` notebooks: (label -> Summary for `plots.plot_frontier`,
    a text with one line per size and the smallest that reached the target in at least 4 of 5 seeds)."""
    where = Path(results_dir) if results_dir else find_results_dir()
    if where is None:
        return {}, NO_RESULTS
    points = {f"session {int(name[:2])}": s for name in others if (s := _default_summary(where, name))}
    mine = [s for s in summaries(where, notebook) if s.variant.startswith(f"{knob}=") or s.variant == DEFAULT_VARIANT]
    mine.sort(key=lambda s: s.params)
    points |= {f"session {int(notebook[:2])} ({s.variant})": s for s in mine}
    lines = [f"{s.variant:<11} {s.params:>6,} params  reached the target in {s.reached}/{s.seeds}  "
             f"min of last 3 {s.min3_mean:.2%} ± {s.min3_std:.2%}" for s in mine]  # fmt: skip
    robust = [s for s in mine if s.seeds >= 5 and s.reached >= 4]
    smallest = f"{robust[0].variant}, {robust[0].params:,} parameters" if robust else "none with 5 seeds yet"
    return points, "\n".join([*lines, f"smallest model reaching the target in at least 4 of 5 seeds: {smallest}"])


def headline(notebook: str, results_dir: str | Path | None = None) -> str:
    """The default over the sweep's seeds: how often it passed, and the mean ± std of the min of last 3."""
    where = Path(results_dir) if results_dir else find_results_dir()
    s = _default_summary(where, notebook) if where else None
    if s is None:
        return NO_RESULTS if where is None else f"{notebook}: no default runs yet"
    spread = f"min of last 3 {s.min3_mean:.2%} ± {s.min3_std:.2%}"
    return f"over {s.seeds} seeds (the sweep): passed in {s.passed}/{s.seeds}, {spread}"


def val_split_comparison(notebook: str, variant: str = "VAL_SPLIT=True", results_dir: str | Path | None = None) -> str:
    """What a validation split costs and buys, on the test set, from `variant`'s runs (which record
    `extra["val_split"]`) against the default's: the final epoch trained on 50,000 against 60,000
    images, and per run the epoch chosen on validation against the last one."""
    where = Path(results_dir) if results_dir else find_results_dir()
    if where is None:
        return NO_RESULTS
    runs = load_runs(where, notebook)
    val_runs = [r for r in runs.get(variant, []) if "val_split" in r.get("extra", {})]
    splits = [r["extra"]["val_split"] for r in val_runs]
    default_final = [r["final_test_acc"] for r in runs.get(DEFAULT_VARIANT, []) if "error" not in r]
    gains = ", ".join(f"{100 * (s['chosen_test_acc'] - s['final_epoch_test_acc']):+.2f}" for s in splits)
    last = sum(r["extra"]["val_split"]["chosen_epoch"] == r["epochs"] for r in val_runs)
    return "\n".join([
        compare_extra(notebook, [variant], "val_split", where),
        f"default, 60,000 images, final epoch on test: {len(default_final)} seeds",
        "training on 50,000 instead of 60,000 (final epoch, test): "
        + difference([s["final_epoch_test_acc"] for s in splits], default_final),
        f"epoch chosen on validation minus the last epoch (test, per run): {gains} points",
        f"validation chose the last epoch in {last} of {len(splits)} runs",
    ])  # fmt: skip


def full_run_histories(notebooks: list[str], results_dir: str | Path | None = None) -> dict[str, History]:
    """The per-epoch History of each notebook's committed full run (results/<notebook>.json),
    labelled with its parameter count; notebooks without a results file are left out."""
    where = Path(results_dir) if results_dir else find_results_dir()
    found = {}
    for name in notebooks:
        path = where / f"{name}.json" if where else None
        if path is not None and path.is_file():
            saved = json.loads(path.read_text(encoding="utf-8"))
            found[f"{name} ({saved['params']:,} params)"] = History(**saved["history"])
    return found
