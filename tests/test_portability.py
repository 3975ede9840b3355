"""What has to hold on every supported Python (3.10-3.13) and on Windows, checked here on Linux."""

import io
import sys
from pathlib import Path

import pytest
from torch import nn

from mnist_course import atomic, course
from mnist_course.runner import readme as readme_tables
from mnist_course.train import History

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_repo_url_without_tomllib_matches_the_real_pyproject(monkeypatch):
    with_tomllib = readme_tables.repo_url(PYPROJECT)  # on 3.10 this already takes the fallback
    monkeypatch.setitem(sys.modules, "tomllib", None)  # `import tomllib` now fails, as on Python 3.10
    assert readme_tables.repo_url(PYPROJECT) == with_tomllib
    assert with_tomllib.startswith("https://github.com/") and not with_tomllib.endswith("/")


@pytest.mark.parametrize(
    "text, url",
    [
        ('[project.urls]\nRepository = "https://github.com/a/b/"\n', "https://github.com/a/b/"),
        ("[project.urls] # links\nHomepage = 'x'\n'Repository' = 'https://github.com/a/b'  # the one\n",
         "https://github.com/a/b"),
        ('[tool.x]\nRepository = "wrong"\n\n[project.urls]\nRepository="https://github.com/a/b"\n[tool.y]\n',
         "https://github.com/a/b"),
    ],
)  # fmt: skip
def test_pyproject_fallback_reads_only_project_urls(text, url):
    assert readme_tables._repository_line(text) == url


@pytest.mark.parametrize("text", ['[project]\nRepository = "x"\n', '[project.urls]\n[tool.x]\nRepository = "x"\n'])
def test_pyproject_fallback_without_the_line_is_an_error(text):
    with pytest.raises(ValueError, match=r"\[project.urls\]"):
        readme_tables._repository_line(text)


@pytest.fixture
def windows_encoding(monkeypatch, tmp_path):
    """Path.read_text/write_text without an encoding use cp1252, as on a Western-European Windows."""
    # pathlib asks io.text_encoding (3.10+) for the encoding when none is given.
    monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: encoding or "cp1252")
    probe = tmp_path / "probe.txt"
    probe.write_bytes("≤".encode())
    assert probe.read_text() == "â‰¤", "this Python's pathlib does not use io.text_encoding: the test proves nothing"


def test_readme_table_and_links_are_utf8_on_windows(windows_encoding, tmp_path, monkeypatch):
    monkeypatch.setenv(course.RESULTS_ENV, str(tmp_path / "results"))
    monkeypatch.setenv(course.FAST_ENV, "0")
    history = History(epochs=[dict(epoch=1, train_loss=0.1, train_acc=0.99, eval_loss=0.1, eval_acc=0.995, lr=0.1,
                                   seconds=1.0)])  # fmt: skip
    course.report("01_x", nn.Linear(10, 10), history, max_params=200)
    readme = tmp_path / "README.md"
    readme.write_bytes(f"≤ 25,000 → {readme_tables.TABLE_START}\n{readme_tables.TABLE_END}\n".encode())
    readme_tables.update_readme(readme, tmp_path / "results")  # cp1252 cannot encode ≤ or →
    assert "| 110 (≤ 200) |" in readme.read_bytes().decode("utf-8")
    notebook = tmp_path / "nb.py"
    notebook.write_bytes("# 3×3 — git+https://github.com/a/b\n".encode())
    assert readme_tables.sync_links([notebook], "https://github.com/c/d") == [notebook]
    assert notebook.read_bytes().decode("utf-8") == "# 3×3 — git+https://github.com/c/d\n"


def test_atomic_replace_retries_only_on_windows(tmp_path, monkeypatch):
    tmp, target = tmp_path / "new", tmp_path / "old"
    real_replace, failures = atomic.os.replace, []

    def held_open_twice(src, dst):
        if len(failures) < 2:
            failures.append(dst)
            raise PermissionError(13, "The process cannot access the file", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", held_open_twice)
    monkeypatch.setattr(atomic.time, "sleep", lambda seconds: None)
    tmp.write_text("x")
    monkeypatch.setattr(atomic, "WINDOWS", False)
    with pytest.raises(PermissionError):
        atomic.replace(tmp, target)
    assert len(failures) == 1 and tmp.exists()
    monkeypatch.setattr(atomic, "WINDOWS", True)
    atomic.replace(tmp, target)
    assert len(failures) == 2 and target.read_text() == "x" and not tmp.exists()
    failures.clear()
    tmp.write_text("y")
    with pytest.raises(PermissionError):
        atomic.replace(tmp, target, attempts=2)
    assert target.read_text() == "x"
