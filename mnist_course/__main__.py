"""Command line: `python -m mnist_course data|run|sweep|bench|links ...` (see --help).

Argument parsing and dispatch only: the work is done by `files` (data) and `runner/` (the rest).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import files
from .data import normalization_stats
from .files import DataError
from .runner import bench, readme, sweep
from .runner.notebooks import REPO, RunError, run_command
from .runs import ParameterError


def cmd_data(args: argparse.Namespace) -> int:
    raw = files.stage(args.root, source=args.source, download=not args.no_download)
    mnist = files.load_mnist(args.root, stage_if_missing=False)
    mean, std = normalization_stats(mnist.train_images)
    print(f"MNIST ready in {raw}: {len(files.FILES)} files verified against their MD5 checksums.")
    print(f"train {tuple(mnist.train_images.shape)}, test {tuple(mnist.test_images.shape)}; "
          f"train pixel mean {mean:.4f}, std {std:.4f}")  # fmt: skip
    return 0


def _notebooks(args: argparse.Namespace) -> list[Path]:
    notebooks = [Path(n) for n in args.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    missing = [str(n) for n in notebooks if not n.is_file()]
    if missing:
        raise RunError(f"no such notebook: {', '.join(missing)}")
    return notebooks


def _results_dir(args: argparse.Namespace) -> Path:  # fast runs never mix with (or overwrite) full runs
    return Path(args.results_dir) / ("fast" if args.fast else "")


def cmd_run(args: argparse.Namespace) -> int:
    return run_command(_notebooks(args), args.parameters, args.seeds, args.fast, _results_dir(args))


def cmd_sweep(args: argparse.Namespace) -> int:
    notebooks, results_dir = _notebooks(args), _results_dir(args)
    if args.list:
        own_dir = None if Path(args.results_dir) == REPO / "results" else Path(args.results_dir)
        print("\n".join(sweep.pending_commands(sweep.pending(sweep.jobs(notebooks), results_dir), args.fast, own_dir)))
        return 0
    return sweep.command(notebooks, results_dir, args.workers, args.fast, args.summary)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.job:
        bench.job(args.job)
    elif args.load:
        bench.load(args.images)
    else:
        bench.speed(args.batches, args.repeats, args.precision)
    return 0


def cmd_links(_args: argparse.Namespace) -> int:
    changed = readme.sync_repository_links(REPO)
    print(f"repository URL {readme.repo_url(REPO / 'pyproject.toml')}: updated {len(changed)} file(s)"
          + "".join(f"\n  {p}" for p in changed))  # fmt: skip
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m mnist_course", description=__doc__.splitlines()[0])
    sub = main.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="stage MNIST into data/MNIST/raw and verify it")
    data.add_argument("--from", dest="source", metavar="DIR", help="folder with the four MNIST files (.gz or raw)")
    data.add_argument("--root", default=None, help=f"data folder (default: {files.default_root()})")
    data.add_argument("--no-download", action="store_true", help="never try the network")
    run = sub.add_parser("run", help="execute notebooks; with -p/--seeds, one notebook's variant into results/runs/")
    run.add_argument("-p", dest="parameters", action="append", default=[], metavar="NAME=VALUE",
                     help="set a parameter of the notebook's parameters cell (repeatable)")  # fmt: skip
    run.add_argument("--seeds", help="run each of these seeds, e.g. 1-5 or 1,3,7 (default: the notebook's SEED)")
    sweep_ = sub.add_parser("sweep", help="run every declared variant and seed that has no run file yet")
    sweep_.add_argument("--workers", type=int, default=None, help="runs at a time (default: one per CPU core)")
    sweep_.add_argument("--summary", action="store_true", help="run nothing: rewrite the tables from the runs")
    sweep_.add_argument("--list", action="store_true", help="print one `run` command per pending run, run nothing")
    for p in (run, sweep_):
        p.add_argument("notebooks", nargs="*", help="default: every notebooks/*.ipynb")
        p.add_argument("--fast", action="store_true", help="subset and 2 epochs; results go to results/fast/")
        p.add_argument("--results-dir", default=str(REPO / "results"), help="where results JSON files go")
    bench_ = sub.add_parser("bench", help="time the course's training path against the classic one")
    bench_.add_argument("--batches", type=int, default=100, help="training batches per repeat")
    bench_.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is printed)")
    bench_.add_argument("--precision", default="float32", choices=("float32", "bfloat16", "float16"),
                        help="also time the course path under autocast to this type")  # fmt: skip
    bench_.add_argument("--load", action="store_true", help="N trainings at once instead: contention")
    bench_.add_argument("--images", type=int, default=10_000, help="with --load: images per training")
    bench_.add_argument("--job", type=int, default=0, help=argparse.SUPPRESS)  # one --load training
    sub.add_parser("links", help="point Colab badges and install lines at pyproject's repository URL")
    commands = {"data": cmd_data, "run": cmd_run, "sweep": cmd_sweep, "bench": cmd_bench, "links": cmd_links}
    for name, func in commands.items():
        sub.choices[name].set_defaults(func=func)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
