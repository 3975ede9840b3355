"""How a session notebook runs and reports: fast vs full mode, the results cell, the results files.

`python -m mnist_course run` executes the notebooks with $MNIST_COURSE_RESULTS_DIR set; each
notebook's `report()` then writes `<dir>/<notebook>.json`, and the README's results table is
regenerated from those files.
"""

from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from . import atomic, experiments
from .inspect import count_params
from .train import History

FAST_ENV = "MNIST_COURSE_FAST"
RESULTS_ENV = "MNIST_COURSE_RESULTS_DIR"
CHECKPOINTS_ENV = "MNIST_COURSE_CHECKPOINTS"
FAST_FLOOR = 0.95  # sanity floor for fast mode: a few hundred batches must still learn the digits


def fast_mode() -> bool:
    """True when $MNIST_COURSE_FAST is 1: notebooks then train on a subset for 1–2 epochs (tests, CI)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes")


def checkpoint_dir(name: str) -> Path:
    """`checkpoints/<name>` next to the notebook, or under $MNIST_COURSE_CHECKPOINTS when the runner
    gives each run its own folder (so runs going on at the same time never share a checkpoint)."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or "checkpoints") / name


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"
    return device.type


def cpu_model() -> str:
    """The processor's marketing name where the OS tells it (Linux, macOS), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        done = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return platform.processor() or platform.machine()


def machine(device: torch.device | str) -> dict:
    """Where a run ran, so that timings from different machines are never mixed silently."""
    device = torch.device(device)
    return {
        "cpu": cpu_model(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "device": device.type,
        "threads": torch.get_num_threads(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def encode_predictions(predictions: dict) -> str:
    """The predicted digit of every image, in order, as one string ("7210414..."): 10,000 bytes for
    the test set, enough to compare two runs digit by digit (McNemar) without storing the images."""
    return "".join(str(int(p)) for p in predictions["preds"].tolist())


def decode_predictions(text: str) -> torch.Tensor:
    """The inverse of `encode_predictions`: a tensor of digits."""
    return torch.tensor([int(c) for c in text], dtype=torch.long)


def report(
    notebook: str,
    model: nn.Module,
    history: History,
    max_params: int,
    target_acc: float = 0.994,
    device: torch.device | str = "cpu",
    extra: dict | None = None,
    predictions: dict | None = None,
) -> dict:
    """The results cell: print final-epoch and last-3-minimum accuracy against the target, PASS/FAIL.

    In fast mode the accuracy is checked against a sanity floor instead, and says so. Writes the
    results JSON when $MNIST_COURSE_RESULTS_DIR is set, with `extra` (further measurements of the
    run, e.g. accuracy on shifted digits) under "extra", and where and when it ran. `predictions`
    (`predict()` on the evaluation set after the last epoch) are stored as one string of digits
    under "predictions", with the set they are for ("test" or "val"). Returns the results as a dict: "passed" is
    every check above; "learned" only that the final accuracy clears the sanity floor, which is what
    the notebooks' fast-mode guard needs (a variant may exceed the budget and still teach).
    """
    fast = fast_mode()
    params = count_params(model)
    final, min3 = history.final_acc, history.min_last(3)
    learned = final >= FAST_FLOOR
    checks = [(params <= max_params, f"parameters {params:,} <= {max_params:,}")]
    if fast:  # 1-2 short epochs: the first is still warming up, so only the last one is checked
        checks.append((learned, f"final {history.eval_name} accuracy {final:.2%} >= {FAST_FLOOR:.2%}"))
    else:
        checks.append(
            (
                min3 >= target_acc,
                f"minimum {history.eval_name} accuracy over the last 3 epochs {min3:.2%} >= {target_acc:.2%}",
            )
        )
    if history.interrupted:
        checks.append((False, "the run finished all its epochs (it was interrupted)"))
    passed = all(ok for ok, _ in checks)
    print(f"mode: {'FAST (subset, few epochs: checks a sanity floor, not the target)' if fast else 'full'}")
    print(f"epochs: {len(history.epochs)}   final-epoch {history.eval_name} accuracy: {final:.2%}")
    print(f"minimum over the last 3 epochs: {min3:.2%}")
    for ok, line in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    print(f"==> {'PASS' if passed else 'FAIL'}" + ("" if fast else f" (session target {target_acc:.2%})"))
    results = {
        "notebook": notebook,
        "params": params,
        "max_params": max_params,
        "epochs": len(history.epochs),
        "final_test_acc": final,
        "min_last3_test_acc": min3,
        "target_acc": target_acc,
        "passed": passed,
        "learned": learned,
        "device": device_name(device),
        "torch_version": torch.__version__,
        "machine": machine(device),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "fast" if fast else "full",
        "history": history.to_dict(),
        "extra": extra or {},
    }
    if predictions is not None:
        results["predictions"] = {"set": history.eval_name, "digits": encode_predictions(predictions)}
    if os.environ.get(RESULTS_ENV):
        atomic.write_text(Path(os.environ[RESULTS_ENV]) / f"{notebook}.json", json.dumps(results, indent=1))
    return results


def run_times(notebook: str, results_dir: str | Path | None = None) -> str:
    """How long a notebook took, from its committed runs: full mode (`results/<nb>.json`), fast mode
    (`results/fast/`), a GPU (`results/gpu/`, written by `run --results-dir results/gpu` on one)."""
    where = Path(results_dir) if results_dir else experiments.find_results_dir()
    if where is None:
        return f"Run times: {experiments.NO_RESULTS}"
    lines = []
    for label, folder in (("full mode", where), ("fast mode", where / "fast"), ("GPU, full mode", where / "gpu")):
        path = folder / f"{notebook}.json"
        if path.is_file():
            r = json.loads(path.read_text(encoding="utf-8"))
            minutes = r["wall_seconds"] / 60
            lines.append(f"{label + ':':<16}{minutes:4.1f} min on {r['device']} (torch {r['torch_version']})")
        else:
            lines.append(f"{label + ':':<16}not measured yet")
    return "\n".join(lines)


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
        "| wall time | device | torch |",
        "|---|---:|---:|---:|---:|---:|:-:|---|---:|---|---|",
    ]
    for path in sorted(Path(results_dir).glob("*.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        minutes = r.get("wall_seconds", 0) / 60
        runs = experiments.load_runs(results_dir, r["notebook"]).get(experiments.DEFAULT_VARIANT)
        if runs:
            s = experiments.summarize(experiments.DEFAULT_VARIANT, runs)
            seeds = f"passed {s.passed}/{s.seeds}, {s.min3_mean:.2%} ± {s.min3_std:.2%}"
        else:
            seeds = "not run yet"
        lines.append(
            f"| `{r['notebook']}` | {r['params']:,} (≤ {r['max_params']:,}) | {r['epochs']} | "
            f"{r['final_test_acc']:.2%} | {r['min_last3_test_acc']:.2%} | ≥ {r['target_acc']:.2%} | "
            f"{'PASS' if r['passed'] else 'FAIL'} | {seeds} | {minutes:.1f} min | {r['device']} "
            f"| {r['torch_version']} |"
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
