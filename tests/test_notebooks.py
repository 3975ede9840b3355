"""The notebooks as files: jupytext pairs in sync, Colab badges and install lines pointing at this repo."""

import re
from pathlib import Path

import jupytext
import pytest

from mnist_course.runner import readme

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
URL = readme.repo_url(REPO / "pyproject.toml")


def test_the_three_sessions_exist():
    assert [n.stem for n in NOTEBOOKS] == ["01_fc_baseline", "02_bn_dropout_gap", "03_1x1_transitions"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_is_in_sync(notebook):
    paired = notebook.with_suffix(".py")
    assert paired.is_file(), f"{notebook.name} has no paired {paired.name}"
    ipynb, py = jupytext.read(notebook), jupytext.read(paired)
    cells = [(c.cell_type, c.source) for c in ipynb.cells]
    assert cells == [(c.cell_type, c.source) for c in py.cells], (
        f"{notebook.name} and {paired.name} differ: run `jupytext --sync {notebook.relative_to(REPO)}`"
    )


def badge_targets(text):
    return re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/main/([\w./-]+\.ipynb)", text)


def test_every_badge_points_at_an_existing_notebook_of_this_repo():
    owner_repo = URL.removeprefix("https://github.com/")
    readme = (REPO / "README.md").read_text()
    found = badge_targets(readme)
    assert sorted(path for _, path in found) == [f"notebooks/{n.name}" for n in NOTEBOOKS]
    for notebook in NOTEBOOKS:
        own = badge_targets(notebook.read_text())
        assert own == [(owner_repo, f"notebooks/{notebook.name}")], f"{notebook.name}: badge {own}"
        found += own
    for repo, path in found:
        assert repo == owner_repo, f"badge points at {repo}, pyproject says {owner_repo}"
        assert (REPO / path).is_file(), f"badge points at missing {path}"


def test_install_cells_use_the_repository_url():
    for notebook in NOTEBOOKS:
        first_code = next(c for c in jupytext.read(notebook).cells if c.cell_type == "code")
        assert f"git clone {URL} " in first_code.source and "google.colab" in first_code.source


def test_links_command_has_nothing_to_change(tmp_path):
    files = [REPO / "README.md", *REPO.glob("notebooks/*.py"), *NOTEBOOKS]
    copies = []
    for f in files:
        copy = tmp_path / f.name
        copy.write_text(f.read_text())
        copies.append(copy)
    assert readme.sync_links(copies, URL) == []
    changed = readme.sync_links(copies, "https://github.com/someone/fork")
    assert len(changed) == len(copies)
    assert "colab.research.google.com/github/someone/fork/blob/main/notebooks/" in copies[0].read_text()
