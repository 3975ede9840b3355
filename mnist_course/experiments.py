"""The tables and figures a lesson prints about its experiments, computed from the committed runs
(runs.py reads them): a variant against the default over seeds, recorded extras, the frontier, the
validation split, the full runs' histories. Nothing here is typed: every number comes from a file.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .course import decode_predictions
from .history import History
from .runs import (
    DEFAULT_VARIANT,
    NO_RESULTS,
    RUNNER_PARAMETERS,
    Summary,
    averaged,
    collapsed,
    load_runs,
    mean_std,
    notebook_parameters,
    overrides_of,
    results_folder,
    run_file,
    run_options,
    summaries,
    summarize,
    variant_name,
    why_stopped,
)
from .stats import holm, mean_interval, welch


def _test_line(values: list[float], baseline: list[float]) -> tuple[str, float | None, str]:
    """Welch's test of `values` against `baseline` (accuracies as fractions): the table cell (the
    difference in points and its 95% interval), p (None with fewer than 2 runs a side), and the words."""
    delta = 100 * (sum(values) / len(values) - sum(baseline) / len(baseline)) if values and baseline else 0.0
    if len(values) < 2 or len(baseline) < 2:
        return f"{delta:+.2f}", None, f"{delta:+.2f} points; fewer than 2 runs a side, so no test"
    w = welch(values, baseline)
    if not (math.isfinite(w.t) and math.isfinite(w.p)):  # no spread on either side: nothing to test against
        return f"{delta:+.2f}", None, f"{delta:+.2f} points; the runs of each side are identical, so no test"
    cell = f"{100 * w.difference:+.2f} [{100 * w.low:+.2f}, {100 * w.high:+.2f}]"
    words = f"{100 * w.difference:+.2f} points, 95% CI [{100 * w.low:+.2f}, {100 * w.high:+.2f}], " \
            f"Welch t = {w.t:.1f} on {w.df:.1f} df, p = {w.p:.2g}"  # fmt: skip
    return cell, w.p, words


def verdict(p: float | None, difference: float, alpha: float = 0.05) -> str:
    """"higher" or "lower" when p < alpha, else "not distinguishable from the baseline with these seeds"."""
    if p is None or p >= alpha:
        return "not distinguishable from the baseline with these seeds"
    return "higher" if difference > 0 else "lower"


def difference(values: list[float], baseline: list[float]) -> str:
    """How `values` (accuracies as fractions, one per run) differ from `baseline` on average, by
    Welch's t-test: the difference in points, its 95% interval and p, and the verdict at 5%."""
    if not values or not baseline:
        return "no runs to compare yet"
    _, p, words = _test_line(values, baseline)
    return f"{verdict(p, sum(values) / len(values) - sum(baseline) / len(baseline))} ({words})"


@dataclass(frozen=True)
class Point:
    """One row of a comparison for the chart: its seeds' min-of-last-3 accuracies (fractions) and the
    95% t-interval of their mean (equal to the mean with one seed)."""

    label: str
    values: list[float]
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """A measured table: `print()` gives plain text for a terminal; Jupyter, Colab and the website
    show it as an HTML table (`_repr_html_`, from pandas), which wraps to the page instead of running
    off its edge. `points` feed `plots.plot_comparison`, the same rows as a chart."""

    columns: list[str]
    rows: list[tuple[str, ...]]
    readings: list[str]
    points: list[Point] = field(default_factory=list)
    note: str = ""
    target: float = 0.994

    def __str__(self) -> str:
        table = [*_aligned([tuple(self.columns), *self.rows]), ""] if self.columns else []
        return "\n".join([*([self.note] if self.note else []), *table, *self.readings])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import pandas as pd  # only where a notebook renders the table

        rows = [[_html_cell(cell) for cell in row] for row in self.rows]
        table = pd.DataFrame(rows, columns=self.columns).to_html(index=False, border=0, escape=False) if rows else ""
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        readings = "".join(f"<li>{html.escape(line)}</li>" for line in self.readings)
        return f"{note}{table}<ul>{readings}</ul>"


def _html_cell(text: str) -> str:
    """One escaped table cell, laid out to stay narrow on a page: the spread or the interval on a
    second line under the mean or the difference, and long variant names free to break after a comma."""
    cell = html.escape(text).replace(" ± ", "<br>±&nbsp;").replace(" [", "<br>[").replace(" M", "&nbsp;M")
    cell = cell.replace(", +", ",&nbsp;+").replace(", -", ",&nbsp;-")  # an interval stays on one line
    return cell.replace(",", ",<wbr>") if "=" in cell else cell


def _point(label: str, values: list[float]) -> Point:
    """The chart's row: the mean of `values` with its 95% t-interval."""
    return Point(label, values, *mean_interval(values))


def compare_variants(
    notebook: str,
    variants: dict[str, str],
    results_dir: str | Path | None = None,
    baseline: str = DEFAULT_VARIANT,
) -> Comparison:
    """The table of `baseline` (the default) and `variants` ({variant: what it changes}) over seeds.

    Per row: params, multiply-adds per image, seeds, passes, min-of-last-3 and final accuracy
    (mean ± std), and against the baseline the difference of the mean min-of-last-3 in points with
    its 95% interval and p, from Welch's t-test over the seeds, then Holm-adjusted for the table's family of comparisons
    (seconds per epoch only when every run recorded the same machine). The test compares seeds:
    every run is scored on the same test digits, so that test set's own sampling error is shared
    and cancels in a difference. Variants without runs get the command that makes them. Against a
    baseline other than the default, each row under the baseline's is named by what it changes.
    """
    if (where := results_folder(results_dir)) is None:
        return Comparison([], [], [NO_RESULTS])
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
    columns = ["variant", "params", "mult-adds", "seeds", "passed", "min of last 3", "final",
               f"vs {against} [95% CI]", "p (Holm)", "s/epoch"]  # fmt: skip
    rows, readings, tests, shown, points = [], [], {}, [], []
    min3 = {v: [r["min_last3_test_acc"] for r in rs if averaged(r)] for v, rs in runs.items()}
    for variant in variants:
        if variant in found and base is not None and variant != baseline and min3[variant]:
            tests[variant] = _test_line(min3[variant], min3[baseline])
    family = [v for v in tests if tests[v][1] is not None]
    adjusted = dict(zip(family, holm([tests[v][1] for v in family]), strict=True))
    for variant, what in {baseline: "the baseline", **variants}.items():
        s = found.get(variant)
        if s is None or s.seeds == s.failed:
            readings.append(_no_runs_line(notebook, variant))
            continue
        if s.collapsed or s.failed:
            lost = []
            if s.failed:
                why = "; ".join(why_stopped(r) for r in runs[variant] if "error" in r)
                lost.append(f"{s.failed} of {s.seeds} runs stopped ({why})")
            if s.collapsed:
                finals = ", ".join(f"{r['final_test_acc']:.2%}" for r in runs[variant] if collapsed(r))
                lost.append(f"{s.collapsed} of {s.seeds} runs collapsed (final accuracy {finals}: the network "
                            "stopped learning)")  # fmt: skip
            rest = (f"the accuracy columns are over the other {s.measured} run{'s' * (s.measured != 1)}"
                    if s.measured else "no run is left to average")  # fmt: skip
            readings.append(f"{label.get(variant, variant)} ({what}): {'; '.join(lost)}; {rest}")
        cell, p_cell = "", ""
        if variant in tests:
            cell, p, words = tests[variant]
            p_cell = f"{adjusted[variant]:.2g}" if variant in adjusted else "–"
            delta = s.min3_mean - base.min3_mean
            readings.append(f"{label.get(variant, variant)} ({what}): {verdict(adjusted.get(variant), delta)} "
                            f"({words}; Holm-adjusted p = {p_cell})")  # fmt: skip
        if not s.measured:  # every run collapsed: nothing to average or draw
            rows.append((label.get(variant, variant), "–", "–", str(s.seeds), s.passes(), "–", "–", "", "", ""))
            continue
        shown.append(s)
        fell = f" ({s.collapsed}/{s.seeds} collapsed)" if s.collapsed else ""
        points.append(_point(label.get(variant, variant) + fell, min3[variant]))
        rows.append((
            label.get(variant, variant), f"{s.params:,}", _millions(s.multiply_adds), str(s.seeds),
            s.passes(), f"{s.min3_mean:.2%} ± {s.min3_std:.2%}",
            f"{s.final_mean:.2%} ± {s.final_std:.2%}", cell, p_cell, f"{s.seconds_per_epoch:.1f}",
        ))  # fmt: skip
    if family:
        if len(family) > 1:
            readings.append(f"p (Holm): Welch's p-values adjusted by Holm's method for the {len(family)} comparisons "
                            "of this table, so that the chance of any false 'higher' or 'lower' in it stays at 5%")
    note = "the first row is the baseline; each row under it names what it changes" if relative else ""
    columns, rows = _timed_on_one_machine(columns, rows, shown)
    if "s/epoch" in columns:
        readings.append("s/epoch: training seconds per epoch as each run recorded them, while the computer "
                        "also ran other work: a rough guide to cost, not a speed measurement")
    return Comparison(columns, rows, readings, points, note)


def _millions(count: int | None) -> str:
    return "–" if count is None else f"{count / 1e6:.2f} M"


def _timed_on_one_machine(
    columns: list[str], rows: list[tuple[str, ...]], shown: list[Summary]
) -> tuple[list[str], list[tuple[str, ...]]]:
    """The table with its s/epoch column only if every run of every row shown recorded the same
    machine: seconds from different machines (or unrecorded ones) say more about the machines than
    the models. The machine is not named: a lesson speaks of models (each run file records it)."""
    machines = {s.machine for s in shown}
    if len(machines) == 1 and None not in machines:
        return columns, rows
    return columns[:-1], [row[:-1] for row in rows]


def _no_runs_line(notebook: str, variant: str) -> str:
    command = f"python -m mnist_course run notebooks/{notebook}.ipynb{run_options(variant)} --seeds 1-3"
    return f"{variant}: no completed runs yet ({command})"


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Plain-text table lines: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            for row in rows]  # fmt: skip


def _change_against(variant: str, baseline: str, runs: dict[str, list[dict]], defaults: dict[str, object]) -> str:
    """What `variant` sets differently from `baseline`, as a variant name (e.g. "LR=0.1"): from the
    parameters their first runs recorded, else from their names; the notebook's `defaults` fill what
    either lacks (runs made before a parameter existed), and "?" marks what nothing says."""

    def values(v: str) -> dict[str, object]:
        recorded = runs.get(v, [{}])[0].get("parameters")
        return defaults | (recorded if recorded is not None else overrides_of(v))

    mine, theirs = values(variant), values(baseline)
    names = [*mine, *(k for k in theirs if k not in mine)]
    changed = {
        k: mine.get(k, "?") for k in names if k not in RUNNER_PARAMETERS and mine.get(k, "?") != theirs.get(k, "?")
    }
    return variant_name(changed) if changed else "same"


def compare_extra(notebook: str, variants: list[str], key: str, results_dir: str | Path | None = None) -> str:
    """Mean ± std over seeds of the numbers a notebook recorded under `extra[key]` (e.g. the shift
    robustness of session 1), one line per variant; fractions in [0, 1] are shown as percentages."""
    if (where := results_folder(results_dir)) is None:
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
            mean, std = mean_std([float(r[name]) for r in records])
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
    a text with one line per size and the smallest that reached the target in at least 4 of 5 seeds).
    Only variants that change `knob` alone count, so every point is the current default's design."""
    if (where := results_folder(results_dir)) is None:
        return {}, NO_RESULTS
    points = {f"session {int(name[:2])}": s for name in others if (s := _default_summary(where, name))}
    mine = [s for s in summaries(where, notebook)
            if s.variant == DEFAULT_VARIANT or set(overrides_of(s.variant)) == {knob}]
    mine.sort(key=lambda s: s.params)
    points |= {f"session {int(notebook[:2])} ({s.variant})": s for s in mine}
    lines = [f"{s.variant:<11} {s.params:>6,} params  reached the target in {s.reached}/{s.seeds}  "
             f"min of last 3 {s.min3_mean:.2%} ± {s.min3_std:.2%}" for s in mine]  # fmt: skip
    robust = [s for s in mine if s.seeds >= 5 and s.reached >= 4]
    smallest = f"{robust[0].variant}, {robust[0].params:,} parameters" if robust else "none with 5 seeds yet"
    return points, "\n".join([*lines, f"smallest model reaching the target in at least 4 of 5 seeds: {smallest}"])


def headline(notebook: str, results_dir: str | Path | None = None) -> str:
    """The default over the sweep's seeds: how often it passed, and the mean ± std of the min of last 3."""
    where = results_folder(results_dir)
    s = _default_summary(where, notebook) if where else None
    if s is None:
        return NO_RESULTS if where is None else f"{notebook}: no default runs yet"
    spread = f"min of last 3 {s.min3_mean:.2%} ± {s.min3_std:.2%}"
    return f"over {s.seeds} seeds (the sweep): passed in {s.passes()}, {spread}"


def val_split_comparison(notebook: str, variant: str = "VAL_SPLIT=True", results_dir: str | Path | None = None) -> str:
    """What a validation split costs and buys, on the test set, from `variant`'s runs (which record
    `extra["val_split"]`) against the default's: the final epoch trained on 50,000 against 60,000
    images, and per run the epoch chosen on validation against the last one."""
    if (where := results_folder(results_dir)) is None:
        return NO_RESULTS
    runs = load_runs(where, notebook)
    val_runs = [r for r in runs.get(variant, []) if "val_split" in r.get("extra", {})]
    splits = [r["extra"]["val_split"] for r in val_runs]
    default_final = [r["final_test_acc"] for r in runs.get(DEFAULT_VARIANT, []) if averaged(r)]
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
    where = results_folder(results_dir)
    found = {}
    for name in notebooks:
        if saved := (_full_run(where, name) if where else {}):
            found[f"{name} ({saved['params']:,} params)"] = History(**saved["history"])
    return found


def _full_run(where: Path, notebook: str) -> dict:
    """The notebook's committed full run, results/<notebook>.json, or {} when there is none."""
    path = where / f"{notebook}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def committed_predictions(
    notebook: str, variant: str | None = None, seed: int | None = None, results_dir: str | Path | None = None
) -> torch.Tensor | None:
    """The test-set predictions (one digit per test image, in the test set's order) of a committed
    run: the notebook's full run (results/<notebook>.json) when `variant` is None, else that sweep run.
    None when the file is missing or holds no test predictions (older runs, validation-split runs)."""
    if (where := results_folder(results_dir)) is None:
        return None
    if variant is None:
        saved = _full_run(where, notebook)
    else:
        path = run_file(where, notebook, overrides_of(variant), seed or 1)
        saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    saved = saved.get("predictions") or {}
    return decode_predictions(saved["digits"]) if saved.get("set") == "test" else None


def committed_layers(notebooks: list[str], results_dir: str | Path | None = None) -> dict[str, list[dict]]:
    """Each notebook's layers with parameters, as its committed full run recorded them
    (results/<notebook>.json), labelled "session N", for `plots.plot_parameter_ledger`; notebooks
    whose file is missing or older than that record are left out."""
    where = results_folder(results_dir)
    found = {}
    for name in notebooks:
        if layers := (_full_run(where, name) if where else {}).get("layers"):
            found[f"session {int(name[:2])}"] = layers
    return found


def run_histories(
    notebook: str, variants: dict[str, str], seed: int = 1, results_dir: str | Path | None = None
) -> dict[str, History]:
    """The per-epoch History of one committed sweep run per variant ({label: variant}, the same
    seed for all), for `plots.compare_histories`; variants without that run are left out."""
    found = {}
    runs = load_runs(where, notebook) if (where := results_folder(results_dir)) else {}
    for label, variant in variants.items():
        run = next((r for r in runs.get(variant, []) if r["seed"] == seed and "history" in r), None)
        if run is not None:
            found[label] = History(**run["history"])
    return found
