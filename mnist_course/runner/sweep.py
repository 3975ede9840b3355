"""The sweep: every variant and seed of runner/plan.py that has no run file yet.

Each run writes its own file, so a sweep resumes where it stopped, and runs made on other machines
merge by copying their results/runs folders. `pending_commands` lists one `run` command per missing
run, for GNU parallel, a SLURM array or any other job runner (docs/experiments.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from .. import atomic, cpu, runs
from ..model_info import multiply_adds
from ..runs import RUNNER_PARAMETERS, ParameterError, variant_name
from .notebooks import RunError, build_model, check_overrides, run_variant, variant_command
from .plan import SWEEPS

Job = tuple[Path, dict, int]  # notebook, overrides, seed


def sweep_plan(notebook: Path) -> list[tuple[dict[str, object], list[int]]]:
    """The variants (as overrides) and seeds plan.py declares for a notebook, each checked against its
    parameters cell."""
    if notebook.stem not in SWEEPS:
        raise ParameterError(f"runner/plan.py declares no sweep for {notebook.stem}; it has: {', '.join(SWEEPS)}")
    plan = []
    for name, seeds in SWEEPS[notebook.stem].items():
        overrides = runs.overrides_of(name)
        check_overrides(notebook, overrides)
        plan.append((overrides, list(seeds)))
    return plan


def sweep_order(plan: list[tuple]) -> list[Job]:
    """`[(notebook, overrides, seeds), ...]` -> `[(notebook, overrides, seed), ...]` in the order to run.

    Headline numbers first (every seed of each default), then one seed of every variant, then the
    next seed of each: a sweep stopped part-way has measured as much of everything as it could.
    """
    ranked = [((bool(o), rank, i), (nb, o, s)) for i, (nb, o, seeds) in enumerate(plan) for rank, s in enumerate(seeds)]
    return [job for _, job in sorted(ranked, key=lambda r: r[0])]


def jobs(notebooks: list[Path]) -> list[Job]:
    """Every declared run of `notebooks`, in the order to run."""
    return sweep_order([(nb, overrides, seeds) for nb in notebooks for overrides, seeds in sweep_plan(nb)])


def pending(all_jobs: list[Job], results_dir: Path) -> list[Job]:
    """The runs that have no file under results_dir yet."""
    return [j for j in all_jobs if not runs.run_file(results_dir, j[0].stem, j[1], j[2]).is_file()]


def pending_commands(todo: list[Job], fast: bool = False, results_dir: Path | None = None) -> list[str]:
    """One self-contained command per pending run, to run anywhere in a clone of the repository."""
    extra = (" --fast" if fast else "") + (f" --results-dir {results_dir}" if results_dir else "")
    return [variant_command(nb, variant_name(o), str(seed)) + extra for nb, o, seed in todo]


def _in_subprocess(job: Job, fast: bool, results_dir: Path, threads: int) -> None:
    """One run as `python -m mnist_course run ...` in its own process, with `threads` threads."""
    nb, overrides, seed = job
    command = [sys.executable, "-m", "mnist_course", "run", str(nb), "--seeds", str(seed)]
    base = results_dir.parent if fast else results_dir  # `run --fast` adds the fast/ folder itself
    command += ["--results-dir", str(base)] + (["--fast"] if fast else [])
    command += ["-p", variant_name(overrides)] if overrides else []
    env = os.environ | {cpu.THREADS_ENV: str(threads), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RunError(done.stderr.strip().removeprefix("error: ") or f"exit code {done.returncode}")


def run_all(todo: list[Job], total: int, workers: int, fast: bool, results_dir: Path) -> list[str]:
    """Run `todo`, `workers` at a time (each its own process with cores/workers threads), with a
    progress bar over all `total` runs; returns the failures. Ctrl-C keeps the finished runs."""
    from tqdm.auto import tqdm

    failures = []
    threads = max(1, cpu.available_cores() // workers)

    def one(job: Job) -> str:
        nb, overrides, seed = job
        name = f"{nb.stem} {variant_name(overrides)} seed {seed}"
        try:
            if workers == 1:
                run_variant(nb, overrides, seed, fast, results_dir)
            else:
                _in_subprocess(job, fast, results_dir, threads)
        except RunError as err:
            failures.append(f"{name}: {err}")
        return name

    bar = tqdm(total=total, initial=total - len(todo), desc="sweep", unit="run", file=sys.stdout, disable=not todo)
    with bar, ThreadPoolExecutor(workers) as pool:
        for name in pool.map(one, todo):
            bar.set_postfix_str(name)
            bar.update()
    return failures


def command(notebooks: list[Path], results_dir: Path, workers: int | None, fast: bool, summary: bool) -> int:
    """`python -m mnist_course sweep`: run what is missing, then regenerate the tables (docs/experiments.md
    and the README's "over seeds" column) from every run file."""
    from . import readme
    from .notebooks import REPO

    declared = jobs(notebooks)
    missing = pending(declared, results_dir)
    todo = [] if summary else missing
    # On the CPU one single-thread run per core: 1.6x the runs per hour of one run on two threads.
    workers = workers or (cpu.available_cores() if not torch.cuda.is_available() else 1)
    print(f"{len(declared)} runs declared, {len(declared) - len(missing)} already done, {len(todo)} to run "
          f"({'fast' if fast else 'full'} mode, {workers} at a time)", flush=True)  # fmt: skip
    try:
        failures = run_all(todo, len(declared), workers, fast, results_dir)
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; run the same command again to resume", file=sys.stderr)
        return 130
    if fast:
        print("fast mode: the tables in docs/experiments.md are left alone")
    else:
        print(f"multiply-adds added to {record_multiply_adds(results_dir)} older run files")
        # every declared notebook's table, whichever notebooks this sweep ran: the page holds them all
        print(readme.update_sweep_tables(REPO / "docs" / "experiments.md", results_dir, sorted(SWEEPS)))
        readme.update_readme(REPO / "README.md", results_dir)  # its "over seeds" column
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


def record_multiply_adds(results_dir: Path) -> int:
    """Add `multiply_adds` to run files made before `report()` recorded it, from the lesson's model
    built with the run's parameters (a count, not a measurement: the same model gives the same
    number). Returns how many files were updated."""
    import json

    counts: dict[tuple[str, str], int] = {}
    updated = 0
    for path in sorted((results_dir / runs.RUNS).glob("*/*/seed*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if "multiply_adds" in record or "error" in record:
            continue
        stem, variant = path.parent.parent.name, path.parent.name
        if (stem, variant) not in counts:
            overrides = runs.overrides_of(variant)
            overrides = {k: v for k, v in overrides.items() if k not in RUNNER_PARAMETERS}
            counts[stem, variant] = multiply_adds(build_model(stem, overrides))
        record["multiply_adds"] = counts[stem, variant]
        atomic.write_text(path, json.dumps(record, indent=1))
        updated += 1
    return updated
