"""Check the built course website as a reader sees it, in a real headless browser.

    bash site/build.sh
    python tests/site/check_site.py SCREENSHOT_DIR [--site site/_build/html] [--browser /usr/bin/chromium]

Serves the built HTML on 127.0.0.1 and opens every page of site/_toc.yml in Chromium (driven by
Playwright, using the browser given by --browser; `playwright install` is never needed). For each
page it checks that:

- the page answers 200, and every file it loads from the site (CSS, JS, images) exists;
- every <img> from the site has loaded (naturalWidth > 0);
- every link to another file of the site points to one that exists;
- no JavaScript error is raised;
- every link from the page's text to a section of a page of the site (`page.html#section`) lands
  on an element with that id;
- a lesson (a notebook) shows at least --min-figures figures in its cell outputs, and its Colab
  links (badge, launch button) open this notebook in the repository of pyproject.toml's
  [project.urls] Repository;
- every other page (the README, docs/, benchmarks/, CONTRIBUTING) has one title (<h1>) and text;
- the home page (the README) shows the results table, with a row for every lesson, and links to
  every page of docs/;
- docs/experiments shows the sweep tables: one per lesson, each with a `default` row of accuracies;

and saves a full-page PNG screenshot of the page into SCREENSHOT_DIR. Every notebook in notebooks/
and every Markdown page in docs/ and benchmarks/ must be a page of the site. Requests that leave the
machine (the Colab badge image) are blocked, so the check runs offline; --online lets them through
and then requires those images to load too.

Exit status 0 when every check passes, 1 otherwise (each problem is printed). The file is not named
test_*.py, so the normal `pytest` run does not collect it.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS_HEADERS = ("session", "params", "final test acc", "min of last 3")
SWEEP_HEADERS = ("params", "seeds", "passed", "min of last 3 (mean ± std)")
SWEEP_PAGE = "docs/experiments"
PAGE_FOLDERS = ("notebooks/*.ipynb", "docs/*.md", "benchmarks/*.md")  # each file there must be a page
MIN_TEXT = 500  # characters of text a Markdown page must show (an empty or broken page has a few)

# Wait for every <img> (made eager, so none waits for a scroll) to load or fail, at most 15 s.
IMAGES_JS = """
async () => {
  const imgs = Array.from(document.images);
  imgs.forEach((img) => { img.loading = "eager"; });
  const settled = Promise.all(imgs.map((img) => img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done); img.addEventListener("error", done);
  })));
  await Promise.race([settled, new Promise((done) => setTimeout(done, 15000))]);
  return imgs.map((img) => ({
    src: img.currentSrc || img.src,
    width: img.naturalWidth,
    figure: img.closest(".cell_output, .output") !== null,
  }));
}
"""

# The page's own text: its <h1> titles, its length, and the links in it (not the theme's navigation).
ARTICLE_JS = """
() => {
  const article = document.querySelector("article") || document.querySelector("main") || document.body;
  return {
    titles: Array.from(article.querySelectorAll("h1")).map((h) => h.innerText.trim()),
    chars: article.innerText.trim().length,
    links: Array.from(article.querySelectorAll("a[href]")).map((a) => a.href),
  };
}
"""

# Tables wider than the page's text column: cut off, or only readable by scrolling sideways.
WIDE_TABLES_JS = """
() => {
  const article = document.querySelector("article") || document.querySelector("main") || document.body;
  const column = article.getBoundingClientRect();
  return Array.from(article.querySelectorAll("table"))
    .filter((table) => table.scrollWidth > column.width + 1 || table.getBoundingClientRect().right > column.right + 1)
    .map((table) => `${Math.round(table.scrollWidth)}px in a ${Math.round(column.width)}px column: `
      + (table.innerText.trim().split("\\n")[0] || "").slice(0, 60));
}
"""

TABLES_JS = """
() => Array.from(document.querySelectorAll("table")).map((table) =>
  Array.from(table.querySelectorAll("tr")).map((tr) =>
    Array.from(tr.querySelectorAll("th, td")).map((cell) => cell.innerText.trim())))
"""


@functools.cache
def element_ids(html_file: Path) -> frozenset[str]:
    """Every id="..." of a built page: the targets a `page.html#section` link can land on."""
    return frozenset(re.findall(r'\bid="([^"]+)"', html_file.read_text(encoding="utf8", errors="replace")))


def repository_url() -> str:
    """[project.urls] Repository in pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf8")
    section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    match = section and re.search(r'^\s*Repository\s*=\s*"([^"]+)"', section.group(1), re.M)
    if not match:
        sys.exit("pyproject.toml: no Repository in [project.urls]")
    return match.group(1).rstrip("/")


def toc_pages(toc_file: Path) -> list[str]:
    """Document names in the table of contents, root first (e.g. 'README', 'notebooks/01_fc_baseline')."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf8"))
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("chapters", []) + entry.get("sections", []))
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return [re.sub(r"\.(md|ipynb)$", "", page) for page in pages]


class Server:
    """The built site on http://127.0.0.1:PORT/, in a thread."""

    def __init__(self, directory: Path):
        self.errors: list[str] = []  # "404 /path" for every request the server could not answer
        handler = functools.partial(_Handler, directory=str(directory), errors=self.errors)
        self.httpd = _HTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _HTTPServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser closed a connection: fine
            super().handle_error(request, client_address)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args: object, errors: list[str], **kwargs: object):
        self.errors = errors
        super().__init__(*args, **kwargs)

    def log_request(self, code: object = "-", size: object = "-") -> None:
        status = int(getattr(code, "value", code)) if str(getattr(code, "value", code)).isdigit() else 0
        if status >= 400 and urlsplit(self.path).path != "/favicon.ico":  # Chromium asks for one itself
            self.errors.append(f"{status} {self.path}")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def check_page(browser, server: Server, site: Path, page_name: str, shots: Path, args, expect: dict) -> list[str]:
    """Open one page, run its checks, save its screenshot; return the problems found."""
    problems: list[str] = []
    local = urlsplit(server.url).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []
    if not args.online:

        def route(r):
            if urlsplit(r.request.url).netloc == local or r.request.url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda err: problems.append(f"JavaScript error: {err}"))
    page.on(
        "response",
        lambda resp: (
            problems.append(f"{resp.status} for {resp.url}")
            if resp.status >= 400 and urlsplit(resp.url).netloc == local
            else None
        ),
    )
    page.on(
        "requestfailed",
        lambda req: (
            problems.append(f"request failed: {req.url} ({req.failure})") if urlsplit(req.url).netloc == local else None
        ),
    )

    url = server.url + page_name + ".html"
    response = page.goto(url, wait_until="load")
    if response is None or response.status != 200:
        problems.append(f"{url} answered {response.status if response else 'nothing'}")
        context.close()
        return problems
    page.wait_for_load_state("networkidle")

    images = page.evaluate(IMAGES_JS)
    external = [img for img in images if urlsplit(img["src"]).netloc not in (local, "")]
    for img in images:
        if img["width"] == 0 and (args.online or img not in external):
            problems.append(f"image not loaded: {img['src']}")
    figures = sum(1 for img in images if img["figure"] and img["width"] > 0)

    for href in page.eval_on_selector_all("a[href]", "els => els.map((a) => a.href)"):
        parts = urlsplit(href)
        if parts.netloc != local:
            continue
        path = unquote(parts.path).lstrip("/")
        target = site / path / "index.html" if path.endswith("/") or not path else site / path
        if not target.is_file():
            problems.append(f"link to a missing file: {href}")

    article = page.evaluate(ARTICLE_JS)
    for href in article["links"]:
        parts = urlsplit(href)
        target = site / unquote(parts.path).lstrip("/")
        if parts.netloc == local and parts.fragment and target.is_file():
            if unquote(parts.fragment) not in element_ids(target):
                problems.append(f"link to a missing section: {href}")

    problems += [f"table wider than its column: {t}" for t in page.evaluate(WIDE_TABLES_JS)]
    notes = []
    if page_name.startswith("notebooks/"):
        stem = page_name.split("/", 1)[1]
        if figures < args.min_figures:
            problems.append(f"{figures} figures in the cell outputs, expected at least {args.min_figures}")
        want = f"https://colab.research.google.com/github/{expect['repo']}/blob/main/notebooks/{stem}.ipynb"
        colab = [h for h in page.eval_on_selector_all("a[href]", "els => els.map((a) => a.href)") if "colab." in h]
        if not colab:
            problems.append("no link to Colab")
        problems += [f"Colab link {h} is not {want}" for h in colab if h != want]
        notes.append(f"{len(colab)} Colab links")
    else:  # the README, docs/, benchmarks/, CONTRIBUTING: a Markdown page
        if len(article["titles"]) != 1:
            problems.append(f"{len(article['titles'])} titles (<h1>) on the page, expected 1")
        if article["chars"] < MIN_TEXT:
            problems.append(f"only {article['chars']} characters of text, expected at least {MIN_TEXT}")
        notes.append(f"title {article['titles'][0]!r}" if article["titles"] else "no title")
    if page_name == expect["root"]:
        linked = {unquote(urlsplit(h).path).lstrip("/") for h in article["links"] if urlsplit(h).netloc == local}
        problems += [f"the home page does not link to {doc}" for doc in expect["docs"] if f"{doc}.html" not in linked]
    if page_name == SWEEP_PAGE:
        sweeps = [
            t for t in page.evaluate(TABLES_JS)
            if t and t[0][0].lower().endswith("variant") and all(h in [c.lower() for c in t[0]] for h in SWEEP_HEADERS)
        ]  # fmt: skip
        for stem in expect["lessons"]:
            table = next((t for t in sweeps if stem in t[0][0]), None)
            if table is None:
                problems.append(f"no sweep table for {stem} (headers: variant, {', '.join(SWEEP_HEADERS)})")
            elif not any(row[0] == "default" and any(c.endswith("%") for c in row) for row in table[1:]):
                problems.append(f"sweep table of {stem}: no default row with accuracies")
        notes.append(f"{len(sweeps)} sweep tables")
    if page_name == expect["root"]:
        tables = page.evaluate(TABLES_JS)
        results = [t for t in tables if t and all(h in [c.lower() for c in t[0]] for h in RESULTS_HEADERS)]
        if not results:
            problems.append(f"no results table (headers {', '.join(RESULTS_HEADERS)}) on the home page")
        else:
            rows = results[0][1:]
            for stem in expect["lessons"]:
                row = next((r for r in rows if stem in r[0]), None)
                if row is None or not any(c.endswith("%") for c in row):
                    problems.append(f"results table: no row with accuracies for {stem}")
            notes.append(f"results table with {len(rows)} rows")

    shot = shots / (page_name.replace("/", "-") + ".png")
    page.screenshot(path=str(shot), full_page=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    context.close()

    loaded = sum(1 for img in images if img["width"] > 0)
    skipped = f", {len(external)} external not checked" if external and not args.online else ""
    notes = ", ".join([f"{loaded}/{len(images)} images loaded{skipped}", f"{figures} figures", *notes])
    print(f"{'ok  ' if not problems else 'FAIL'} {page_name}.html: 200, {notes}, {height}px -> {shot}")
    if blocked:
        print(f"     blocked {len(blocked)} request(s) off this machine: {', '.join(sorted(set(blocked)))}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("screenshots", type=Path, help="folder for the full-page PNG screenshots")
    parser.add_argument("--site", type=Path, default=ROOT / "site/_build/html", help="the built HTML")
    parser.add_argument("--toc", type=Path, default=ROOT / "site/_toc.yml")
    parser.add_argument("--browser", default="/usr/bin/chromium", help="Chromium or Chrome executable")
    parser.add_argument("--min-figures", type=int, default=3, help="figures each lesson must show")
    parser.add_argument("--online", action="store_true", help="let requests off this machine through")
    args = parser.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"error: {site}/index.html not found: build the site first (bash site/build.sh)")
        return 1
    if not Path(args.browser).is_file():
        print(f"error: no browser at {args.browser} (Debian: apt-get install chromium)")
        return 1
    args.screenshots.mkdir(parents=True, exist_ok=True)

    pages = toc_pages(args.toc)
    lessons = [p.split("/", 1)[1] for p in pages if p.startswith("notebooks/")]
    problems: dict[str, list[str]] = {}
    files = sorted(f.relative_to(ROOT).as_posix() for pattern in PAGE_FOLDERS for f in ROOT.glob(pattern))
    missing = [f for f in files if f.rsplit(".", 1)[0] not in pages]
    if missing:
        problems["site/_toc.yml"] = [f"not a page of the site: {f}" for f in missing]
    repo = urlsplit(repository_url()).path.strip("/")
    docs = [p for p in pages if p.startswith("docs/")]
    expect = {"root": pages[0], "lessons": lessons, "docs": docs, "repo": repo}

    with Server(site) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.browser, headless=True, args=CHROMIUM_ARGS)
        print(f"{browser.version} ({args.browser}) on {server.url}, pages from {args.toc}")
        # index.html is a redirect to the root page: it must land there.
        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url, wait_until="load")
        page.wait_for_url(f"**/{pages[0]}.html", timeout=10_000)
        context.close()
        for name in pages:
            found = check_page(browser, server, site, name, args.screenshots, args, expect)
            if found:
                problems[name] = found
        browser.close()

    if server.errors:
        problems["server"] = [f"answered {error}" for error in server.errors]
    for name, found in problems.items():
        for problem in dict.fromkeys(found):  # each once, in order
            print(f"problem: {name}: {problem}")
    n_problems = sum(len(set(found)) for found in problems.values())
    print(f"site check: {len(pages)} pages, {n_problems} problems, screenshots in {args.screenshots}")
    return 1 if n_problems else 0


if __name__ == "__main__":
    sys.exit(main())
