"""Command line: `python -m mnist_course data|run|sweep|links ...` (see --help)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import atomic, course, experiments, train
from .data import normalization_stats
from .experiments import ParameterError
from .files import FILES, DataError, default_root, load_mnist, stage
from .train import NO_BARS_ENV, THREADS_ENV

REPO = Path(__file__).resolve().parent.parent


def cmd_data(args: argparse.Namespace) -> int:
    raw = stage(args.root, source=args.source, download=not args.no_download)
    mnist = load_mnist(args.root, stage_if_missing=False)
    mean, std = normalization_stats(mnist.train_images)
    print(f"MNIST ready in {raw}: {len(FILES)} files verified against their MD5 checksums.")
    print(
        f"train {tuple(mnist.train_images.shape)}, test {tuple(mnist.test_images.shape)}; "
        f"train pixel mean {mean:.4f}, std {std:.4f}"
    )
    return 0


class RunError(RuntimeError):
    """A notebook run failed; the message says which notebook, what and where the output went."""

    def __init__(self, message: str, ename: str = ""):
        super().__init__(message)
        self.ename = ename  # the exception's name inside the notebook, e.g. "TrainingError"


def _execute(notebook: Path, output: Path, parameters: dict | None = None) -> float:
    """Run `notebook` top to bottom in a fresh kernel (working folder: the notebook's), save to `output`.

    `parameters` are set in a cell right after the one tagged `parameters` (papermill's way). Written
    atomically; if a cell fails, the partly executed notebook goes to `<output>.failed.ipynb`
    instead, so a committed notebook is never replaced by a broken run.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    if parameters:
        experiments.inject_parameters(nb, parameters)
    client = NotebookClient(
        nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    )
    start = time.perf_counter()
    try:
        client.execute()
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
def _environment(settings: dict[str, str]):
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


def _mode_settings(fast: bool, results_dir: Path) -> dict[str, str]:
    return {
        course.FAST_ENV: "1" if fast else "0",
        course.RESULTS_ENV: str(results_dir),
        NO_BARS_ENV: "1",  # saved notebooks get the per-epoch lines, not widget placeholders
    }


def run_notebook(notebook: Path, fast: bool, results_dir: Path) -> dict:
    """Execute a committed notebook with its defaults (in place, or into results_dir in fast mode)."""
    output = results_dir / notebook.name if fast else notebook
    print(f"running {notebook} ({'fast' if fast else 'full'} mode) ...", flush=True)
    with _environment(_mode_settings(fast, results_dir)):
        seconds = _execute(notebook, output)
    result_file = results_dir / f"{notebook.stem}.json"
    if not result_file.is_file():
        raise RunError(f"{notebook} did not write {result_file} (does its last cell call report()?)")
    result = json.loads(result_file.read_text()) | {"wall_seconds": round(seconds, 1)}
    atomic.write_text(result_file, json.dumps(result, indent=1))
    print(f"  {_describe(result)} -> {output}")
    return result


def run_variant(notebook: Path, overrides: dict, seed: int, fast: bool, results_dir: Path) -> dict:
    """Run `notebook` with `overrides` and `seed` into results_dir/runs/<notebook>/<variant>/seed<N>.json.

    The committed notebook is never touched: the executed copy goes next to the JSON (git-ignored).
    A run that stops with a TrainingError (e.g. the loss became NaN) is a result too: its file holds
    the error instead of accuracies. Any other failure raises RunError and writes no file.
    """
    parameters = experiments.check_overrides(notebook, {**overrides, "SEED": seed})
    target = experiments.run_file(results_dir, notebook.stem, overrides, seed)
    scratch = target.parent / f".seed{seed}.running"
    shutil.rmtree(scratch, ignore_errors=True)
    settings = _mode_settings(fast, scratch) | {course.CHECKPOINTS_ENV: str(scratch / "checkpoints")}
    record = {"notebook": notebook.stem, "variant": experiments.variant_name(overrides), "seed": seed}
    try:
        with _environment(settings):
            seconds = _execute(notebook, target.with_suffix(".ipynb"), {**overrides, "SEED": seed})
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


def _runs_dir(args: argparse.Namespace) -> Path:
    # Fast runs go to results/fast/ so they never mix with (or overwrite) full runs.
    return Path(args.results_dir) / ("fast" if args.fast else "")


def cmd_run(args: argparse.Namespace) -> int:
    notebooks = [Path(n) for n in args.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    missing = [str(n) for n in notebooks if not n.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    results_dir = _runs_dir(args)
    if args.parameters or args.seeds:
        if len(notebooks) != 1:
            raise ParameterError("-p and --seeds apply to one notebook: name exactly one")
        notebook = notebooks[0]
        overrides = experiments.parse_overrides(args.parameters)
        defaults = experiments.check_overrides(notebook, overrides)  # bad names/values stop here
        for seed in experiments.parse_seeds(args.seeds) if args.seeds else [defaults["SEED"]]:
            print(f"running {notebook.stem} {experiments.variant_name(overrides)} seed {seed} ...", flush=True)
            record = run_variant(notebook, overrides, seed, args.fast, results_dir)
            print(f"  {_describe(record)} -> {experiments.run_file(results_dir, notebook.stem, overrides, seed)}")
        return 0
    for notebook in notebooks:
        run_notebook(notebook, args.fast, results_dir)
    if not args.fast:
        course.update_readme(REPO / "README.md", results_dir)
        print(f"README results table updated from {results_dir}/*.json")
    return 0


def _describe(record: dict) -> str:
    if "error" in record:
        return f"FAILED: {record['error']}"
    return (
        f"{'PASS' if record['passed'] else 'FAIL'}: final {record['final_test_acc']:.2%}, "
        f"min of last 3 {record['min_last3_test_acc']:.2%}, {record['wall_seconds'] / 60:.1f} min"
    )


def _run_in_subprocess(notebook: Path, overrides: dict, seed: int, args: argparse.Namespace, threads: int) -> None:
    """One sweep run as `python -m mnist_course run ...` in its own process, with `threads` threads."""
    command = [sys.executable, "-m", "mnist_course", "run", str(notebook), "--seeds", str(seed)]
    command += ["--results-dir", args.results_dir] + (["--fast"] if args.fast else [])
    command += ["-p", experiments.variant_name(overrides)] if overrides else []
    env = os.environ | {THREADS_ENV: str(threads), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RunError(done.stderr.strip().removeprefix("error: ") or f"exit code {done.returncode}")


def cmd_sweep(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    notebooks = [Path(n) for n in args.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    results_dir = _runs_dir(args)
    if args.workers is None:  # one single-thread run per core: 1.6x the runs per hour of one 2-thread run
        args.workers = train.available_cores() if train.pick_device().type == "cpu" else 1
    plan = [(nb, overrides, seeds) for nb in notebooks for overrides, seeds in experiments.sweep_plan(nb)]
    jobs = experiments.sweep_order(plan)
    todo = [j for j in jobs if not experiments.run_file(results_dir, j[0].stem, j[1], j[2]).is_file()]
    print(
        f"{len(jobs)} runs declared, {len(jobs) - len(todo)} already done, {0 if args.summary else len(todo)} to run "
        f"({'fast' if args.fast else 'full'} mode, {args.workers} at a time)",
        flush=True,
    )
    if args.summary:
        todo = []  # only the tables, from the runs already there
    failures = []
    threads = max(1, train.available_cores() // args.workers)

    def one(job):
        nb, overrides, seed = job
        name = f"{nb.stem} {experiments.variant_name(overrides)} seed {seed}"
        try:
            if args.workers == 1:
                run_variant(nb, overrides, seed, args.fast, results_dir)
            else:
                _run_in_subprocess(nb, overrides, seed, args, threads)
        except RunError as err:
            failures.append(f"{name}: {err}")
        return name

    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="sweep", unit="run", file=sys.stdout,
               disable=not todo)  # fmt: skip
    try:
        with ThreadPoolExecutor(args.workers) as pool:
            for name in pool.map(one, todo):
                bar.set_postfix_str(name)
                bar.update()
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: finished runs are kept; run the same command again to resume", file=sys.stderr)
        return 130
    bar.close()
    stems = [nb.stem for nb in dict.fromkeys(notebooks)]
    runs = {stem: experiments.load_runs(results_dir, stem) for stem in stems}  # read once for both
    tables = [experiments.summary_table(stem, experiments.summaries_of(runs[stem])) for stem in stems]
    tables.append(experiments.run_time_line(runs))
    print("\n\n".join(tables))
    if not args.fast:
        course.replace_block(REPO / "README.md", "\n\n".join(tables), course.SWEEP_MARKERS)
        course.update_readme(REPO / "README.md", results_dir)  # its "over seeds" column
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    if args.job:
        bench._job(args.job)
    elif args.load:
        bench.load(args.images)
    else:
        bench.speed(args.batches, args.repeats, args.precision)
    return 0


def cmd_links(_args: argparse.Namespace) -> int:
    url = course.repo_url(REPO / "pyproject.toml")
    files = [
        REPO / "README.md",
        *sorted((REPO / "notebooks").glob("*.py")),
        *sorted((REPO / "notebooks").glob("*.ipynb")),
    ]
    changed = course.sync_links(files, url)
    print(f"repository URL {url}: updated {len(changed)} file(s)" + "".join(f"\n  {p}" for p in changed))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="stage MNIST into data/MNIST/raw and verify it")
    data.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="folder with the four MNIST files (.gz or raw); default: $MNIST_COURSE_DATA_FROM",
    )
    data.add_argument("--root", default=None, help=f"data folder (default: {default_root()})")
    data.add_argument("--no-download", action="store_true", help="never try the network")
    data.set_defaults(func=cmd_data)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("notebooks", nargs="*", help="default: every notebooks/*.ipynb")
        p.add_argument("--fast", action="store_true", help="subset and 1-2 epochs; results go to results/fast/")
        p.add_argument("--results-dir", default=str(REPO / "results"), help="where results JSON files go")

    run = sub.add_parser(
        "run",
        help="execute notebooks, write results/*.json and the README table; with -p/--seeds, one "
        "notebook's variant into results/runs/",
    )
    common(run)
    run.add_argument(
        "-p", dest="parameters", action="append", default=[], metavar="NAME=VALUE",
        help="set a parameter of the notebook's parameters cell (repeatable); the committed notebook is untouched",
    )  # fmt: skip
    run.add_argument("--seeds", help="run each of these seeds, e.g. 1-5 or 1,3,7 (default: the notebook's SEED)")
    run.set_defaults(func=cmd_run)
    sweep = sub.add_parser("sweep", help="run every variant and seed the notebooks declare (skips finished runs)")
    common(sweep)
    sweep.add_argument(
        "--workers", type=int, default=None,
        help="runs at a time, each with cores/workers threads (default: one per core on the CPU, else 1)",
    )  # fmt: skip
    sweep.add_argument("--summary", action="store_true", help="run nothing: the tables of the runs done so far")
    sweep.set_defaults(func=cmd_sweep)
    bench = sub.add_parser("bench", help="measure the course's training path against the classic one")
    bench.add_argument("--batches", type=int, default=100, help="training batches per repeat")
    bench.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is printed)")
    bench.add_argument(
        "--precision", default="float32", choices=("float32", "bfloat16", "float16"),
        help="also time the course path with fit(precision=...): autocast to this type",
    )  # fmt: skip
    bench.add_argument("--load", action="store_true", help="N trainings at once instead: contention")
    bench.add_argument("--images", type=int, default=10_000, help="with --load: images per training")
    bench.add_argument("--job", type=int, default=0, help=argparse.SUPPRESS)  # one --load training
    bench.set_defaults(func=cmd_bench)
    links = sub.add_parser("links", help="point Colab badges and install lines at pyproject's repository URL")
    links.set_defaults(func=cmd_links)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DataError, RunError, ParameterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
