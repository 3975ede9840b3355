"""Sphinx extension for the course website (loaded by site/_config.yml's `local_extensions`).

1. The repository URL is defined once, in pyproject.toml's [project.urls] Repository (the notebooks'
   Colab badges and install lines follow it via `python -m mnist_course links`). This extension gives
   that URL to the theme's Colab launch button and repository button, whatever site/_config.yml says.
2. The README links to repository folders that are not pages of the site (`results/`, `benchmarks/`).
   On the site those links go to the folders on GitHub instead of nowhere.
3. Sphinx 7.x lists an inline <script> added by an extension twice (once as filename None, once as
   ''), so sphinx-thebe's `const THEBE_JS_URL = ...` is declared twice and the browser reports a
   SyntaxError on every page. Each page gets every script once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def repository_url(pyproject: Path = PYPROJECT) -> str:
    """[project.urls] Repository from pyproject.toml (tomllib on Python >= 3.11, a plain parse before)."""
    text = pyproject.read_text(encoding="utf8")
    try:
        import tomllib  # novm: Python 3.11+, and 3.10 takes the except branch
    except ModuleNotFoundError:  # Python 3.10
        section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        match = section and re.search(r'^\s*Repository\s*=\s*"([^"]+)"', section.group(1), re.M)
        if not match:
            raise RuntimeError(f"{pyproject}: no Repository in [project.urls]") from None
        return match.group(1).rstrip("/")
    return tomllib.loads(text)["project"]["urls"]["Repository"].rstrip("/")


def _use_pyproject_url(app: Sphinx, config: Config) -> None:
    url = repository_url()
    options = config.html_theme_options
    if options.get("repository_url", url).rstrip("/") != url:
        logger.info(f"[course_site] repository URL from pyproject.toml: {url} (not {options['repository_url']})")
    options["repository_url"] = url
    options.setdefault("repository_branch", "main")


class RepositoryLinks(SphinxPostTransform):
    """Markdown links to repository files or folders that are not pages -> the file on GitHub."""

    default_priority = 5  # before myst-parser's resolver (9), which would warn and leave a dead link

    def run(self, **kwargs: Any) -> None:
        from sphinx import addnodes

        options = self.config.html_theme_options
        base, branch = options["repository_url"], options.get("repository_branch", "main")
        srcdir = Path(self.env.srcdir)
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst":
                continue
            target = node["reftarget"]
            if node.get("refdomain") == "doc":  # a Markdown/notebook file that is not a page of the site
                if target in self.env.all_docs:
                    continue
                files = [srcdir / f"{target}{suffix}" for suffix in self.config.source_suffix]
                path = next((f.resolve() for f in files if f.is_file()), None)
            elif target.startswith(("#", "/")) or ":" in target:
                continue
            else:
                path = ((srcdir / node.get("refdoc", self.env.docname)).parent / target).resolve()
            if path is None or not path.exists() or srcdir.resolve() not in (path, *path.parents):
                continue
            rel = path.relative_to(srcdir.resolve()).as_posix()
            kind = "tree" if path.is_dir() else "blob"
            ref = nodes.reference("", "", internal=False, refuri=f"{base}/{kind}/{branch}/{rel}")
            ref += node.children or [nodes.literal(target, target)]
            node.replace_self(ref)


def _scripts_once(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts, seen = [], set()
    for js in context.get("script_files", []):
        attributes = getattr(js, "attributes", {})
        key = (getattr(js, "filename", str(js)) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            scripts.append(js)
    context["script_files"] = scripts


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _use_pyproject_url)
    app.connect("html-page-context", _scripts_once, priority=900)
    app.add_post_transform(RepositoryLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
