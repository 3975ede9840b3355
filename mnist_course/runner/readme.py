"""The course's generated text: the README's results table, the sweep's tables in docs/experiments.md,
and every link to the repository (Colab badges, install lines), all from files, never typed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .. import atomic, runs
from ..runs import Summary


def repo_url(pyproject: str | Path) -> str:
    """The project's GitHub URL, defined once in pyproject.toml's [project.urls] Repository."""
    text = Path(pyproject).read_text(encoding="utf-8")
    try:
        import tomllib  # novm: Python 3.11+, and 3.10 takes the except branch
    except ModuleNotFoundError:  # Python 3.10: no TOML parser in the standard library
        return _repository_line(text).rstrip("/")
    return tomllib.loads(text)["project"]["urls"]["Repository"].rstrip("/")


def _repository_line(text: str) -> str:
    """`Repository = "…"` from the [project.urls] table of pyproject.toml text, without a TOML parser.

    Enough for the one line this project writes (a quoted string without escapes, optional comment);
    anything else is an error that says so rather than a wrong URL.
    """
    in_urls = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_urls = line.partition("#")[0].strip() == "[project.urls]"
        elif in_urls:
            found = re.fullmatch(r"""["']?Repository["']?\s*=\s*(["'])([^"'\\]*)\1\s*(#.*)?""", line)
            if found:
                return found.group(2)
    raise ValueError('pyproject.toml has no `Repository = "https://github.com/OWNER/REPO"` in [project.urls]')


# The three places the course names its own repository: Colab badges, `pip install git+…`, `git clone`.
_REPO_REFERENCE = re.compile(
    r"(colab\.research\.google\.com/github/|git\+https://github\.com/|git clone https://github\.com/)"
    r"[\w.-]+/[\w-]+(\.git)?"
)


def sync_links(files: list[Path], url: str) -> list[Path]:
    """Point every Colab badge, `pip install git+…` and `git clone` in `files` at `url`.

    Returns the files that changed. Run via `python -m mnist_course links` after editing the URL.
    """
    owner_repo = url.removeprefix("https://github.com/")
    changed = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        new = _REPO_REFERENCE.sub(lambda m: f"{m.group(1)}{owner_repo}", text)
        if new != text:
            atomic.write_text(path, new)
            changed.append(path)
    return changed



def summary_table(notebook: str, summaries: list[Summary]) -> str:
    """Markdown table of the summaries of one notebook's variants."""
    lines = [
        f"| `{notebook}` variant | params | seeds | passed | min of last 3 (mean ± std) | final (mean ± std) "
        "| s/epoch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        lines.append(
            f"| `{s.variant}` | {s.params:,} | {s.seeds} | {s.passes()} | "
            f"{s.min3_mean:.2%} ± {s.min3_std:.2%} | {s.final_mean:.2%} ± {s.final_std:.2%} | "
            f"{s.seconds_per_epoch:.1f} |"
        )
    return "\n".join(lines)


def run_time_line(runs_by_notebook: dict[str, dict[str, list[dict]]]) -> str:
    """What the runs (notebook -> `load_runs`) cost: how many there are and the sum of their wall
    times, per notebook. A sweep runs one per core at a time, so its elapsed time is about this sum
    divided by the workers."""
    seconds_by_notebook = {
        nb: [r.get("wall_seconds", 0.0) for seeds in variants.values() for r in seeds]
        for nb, variants in runs_by_notebook.items()
    }
    total = sum(len(seconds) for seconds in seconds_by_notebook.values())
    hours = sum(sum(seconds) for seconds in seconds_by_notebook.values()) / 3600
    parts = ", ".join(f"{nb} {len(s)} runs {sum(s) / 3600:.1f} h" for nb, s in seconds_by_notebook.items())
    return f"{total} runs; their wall times add up to {hours:.1f} hours ({parts})."


def sync_repository_links(repo: Path) -> list[Path]:
    """`python -m mnist_course links`: the README's and the notebooks' links, pointed at pyproject's URL."""
    notebooks = repo / "notebooks"
    pages = [repo / "README.md", *sorted(notebooks.glob("*.py")), *sorted(notebooks.glob("*.ipynb"))]
    return sync_links(pages, repo_url(repo / "pyproject.toml"))


TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"
RESULTS_MARKERS = (TABLE_START, TABLE_END)
SWEEP_MARKERS = ("<!-- sweep:start -->", "<!-- sweep:end -->")


def results_table(results_dir: str | Path) -> str:
    """Markdown table of every results/*.json (one row per notebook, sorted by name).

    The "over seeds" column summarizes the notebook's default runs in results_dir/runs/ (see
    experiments.py): how many seeds passed, and the mean ± std of the min-of-last-3 accuracy.
    """
    lines = [
        "| session | params | epochs | final test acc | min of last 3 | target | result | over seeds (min of last 3) "
        "| wall time | ran on |",
        "|---|---:|---:|---:|---:|---:|:-:|---|---:|---|",
    ]
    for path in sorted(Path(results_dir).glob("*.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        minutes = r.get("wall_seconds", 0) / 60
        defaults = runs.load_runs(results_dir, r["notebook"]).get(runs.DEFAULT_VARIANT)
        if defaults:
            s = runs.summarize(runs.DEFAULT_VARIANT, defaults)
            seeds = f"passed {s.passed}/{s.seeds}, {s.min3_mean:.2%} ± {s.min3_std:.2%}"
        else:
            seeds = "not run yet"
        lines.append(
            f"| `{r['notebook']}` | {r['params']:,} (≤ {r['max_params']:,}) | {r['epochs']} | "
            f"{r['final_test_acc']:.2%} | {r['min_last3_test_acc']:.2%} | ≥ {r['target_acc']:.2%} | "
            f"{'PASS' if r['passed'] else 'FAIL'} | {seeds} | {minutes:.1f} min | {r['device']}, "
            f"torch {r['torch_version']} |"
        )
    return "\n".join(lines)


def replace_block(readme: str | Path, text: str, markers: tuple[str, str]) -> None:
    """Replace what stands between the two `markers` lines of the README with `text`."""
    readme = Path(readme)
    start, end = markers
    content = readme.read_text(encoding="utf-8")
    if start not in content or end not in content:
        raise ValueError(f"{readme} has no {start} … {end} markers to put the table between")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    atomic.write_text(readme, pattern.sub(lambda _: f"{start}\n{text}\n{end}", content))


def update_readme(readme: str | Path, results_dir: str | Path) -> None:
    """Regenerate the README's results table from results_dir/*.json."""
    replace_block(readme, results_table(results_dir), RESULTS_MARKERS)


def update_sweep_tables(page: str | Path, results_dir: str | Path, stems: list[str]) -> str:
    """Regenerate the sweep's tables (one per notebook, and what the runs cost) between the sweep
    markers of `page` (docs/experiments.md) from results_dir/runs; returns the tables."""
    found = {stem: runs.load_runs(results_dir, stem) for stem in stems}  # read once for both
    tables = [summary_table(stem, runs.summaries_of(found[stem])) for stem in stems]
    text = "\n\n".join([*tables, run_time_line(found)])
    replace_block(page, text, SWEEP_MARKERS)
    return text
