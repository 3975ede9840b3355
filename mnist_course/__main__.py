"""Command line: `python -m mnist_course data|run ...` (see --help)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import atomic, course
from .data import FILES, DataError, default_root, load_mnist, normalization_stats, stage
from .train import NO_BARS_ENV

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


def _execute(notebook: Path, output: Path) -> float:
    """Run `notebook` top to bottom in a fresh kernel (working folder: the notebook's), save to `output`.

    Written atomically; if a cell fails, the partly executed notebook goes to `<output>.failed.ipynb`
    instead, so a committed notebook is never replaced by a broken run.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
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
            f"{failed}; {notebook} was left unchanged."
        ) from err
    seconds = time.perf_counter() - start
    atomic.write_text(output, nbformat.writes(nb))
    return seconds


def cmd_run(args: argparse.Namespace) -> int:
    notebooks = [Path(n) for n in args.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    missing = [str(n) for n in notebooks if not n.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    # Full runs update the committed notebooks and results/; fast runs go to results/fast/ so they
    # never overwrite the outputs of a full run.
    results_dir = Path(args.results_dir) / ("fast" if args.fast else "")
    settings = {
        course.FAST_ENV: "1" if args.fast else "0",
        course.RESULTS_ENV: str(results_dir),
        NO_BARS_ENV: "1",  # saved notebooks get the per-epoch lines, not widget placeholders
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)  # the kernels inherit these
    try:
        for notebook in notebooks:
            output = results_dir / notebook.name if args.fast else notebook
            print(f"running {notebook} ({'fast' if args.fast else 'full'} mode) ...", flush=True)
            seconds = _execute(notebook, output)
            result_file = results_dir / f"{notebook.stem}.json"
            if not result_file.is_file():
                raise RunError(f"{notebook} did not write {result_file} (does its last cell call report()?)")
            result = json.loads(result_file.read_text())
            result["wall_seconds"] = round(seconds, 1)
            atomic.write_text(result_file, json.dumps(result, indent=1))
            print(
                f"  {'PASS' if result['passed'] else 'FAIL'}: final {result['final_test_acc']:.2%}, "
                f"min of last 3 {result['min_last3_test_acc']:.2%}, {seconds / 60:.1f} min -> {output}"
            )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if not args.fast:
        course.update_readme(REPO / "README.md", results_dir)
        print(f"README results table updated from {results_dir}/*.json")
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
    run = sub.add_parser("run", help="execute notebooks, write results/*.json and the README table")
    run.add_argument("notebooks", nargs="*", help="default: every notebooks/*.ipynb")
    run.add_argument(
        "--fast",
        action="store_true",
        help="subset and 1-2 epochs; outputs go to results/fast/, committed notebooks untouched",
    )
    run.add_argument("--results-dir", default=str(REPO / "results"), help="where results JSON files go")
    run.set_defaults(func=cmd_run)
    links = sub.add_parser("links", help="point Colab badges and install lines at pyproject's repository URL")
    links.set_defaults(func=cmd_links)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DataError, RunError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
