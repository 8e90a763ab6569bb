"""`make book`: the web edition of the course, a static site built offline from what `make course` ran.

    python tools/book.py [--out build/book]

Three steps:

1. **Stage** the pages under ``<out>/src``: the README as the front page, the learner edition's README,
   the docs pages and the notebooks. A notebook page is the notebook's current text with the outputs of
   its executed copy (``results/notebooks/``, written by `make course`): a copy whose code differs from
   the notebook's is stale and stops the build, so a page never shows outputs of other code. Widget
   outputs become their static first view (tools/widget_pictures.py). Links are rewritten once for the
   site: to a staged page, to a copied image, or, for everything else in the repository (code, results
   JSON, the learner notebooks), to its page on GitHub.
2. **Build** with Sphinx + myst-nb + sphinx-book-theme (docs/conf.py), warnings as errors (``-W -n``).
3. **Check** the HTML offline: every internal link and image resolves, anchors included, and no page
   loads a script, style sheet or font from the network.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from widget_pictures import FLAG, WIDGET, add_first_views  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
GITHUB = "https://github.com/maskgit-course/maskgit-course"
IMAGE = re.compile(r"\.(png|jpe?g|gif|svg)$", re.I)
# [text](target) and [text](target "title"), <img src="target">, <a href="target">
LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))|((?:src|href)=\")([^\"]+)(\")")


class BookError(RuntimeError):
    """The site cannot be built as it is; the message says why and what to run."""


def pages(repo: Path = REPO) -> dict[str, str]:
    """Repository path → site path of every page of the web edition."""
    site = {"README.md": "index.md", "learner/README.md": "learner/README.md"}
    site |= {p.relative_to(repo).as_posix(): p.relative_to(repo).as_posix() for p in sorted((repo / "docs").rglob("*.md"))}
    site |= {f"notebooks/{p.name}": f"notebooks/{p.name}" for p in sorted((repo / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    return site


def rewrite_links(text: str, page: str, site: dict[str, str], repo: Path, staged: Path) -> str:
    """The links of one page (``page``: its repository path) pointed at the site, copying images it shows."""
    here = posixpath.dirname(page)
    site_here = posixpath.dirname(site[page])

    def target_of(link: str) -> str:
        if link.startswith(("#", "mailto:")) or urlsplit(link).scheme:
            return link
        path, _, fragment = link.partition("#")
        fragment = f"#{fragment}" if fragment else ""
        target = posixpath.normpath(posixpath.join(here, unquote(path)))
        if target in site:
            return posixpath.relpath(site[target], site_here or ".") + fragment
        if IMAGE.search(target) and (repo / target).is_file():
            (staged / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / target, staged / target)
            return posixpath.relpath(target, site_here or ".")
        if (repo / target).exists():
            kind = "tree" if (repo / target).is_dir() else "blob"
            return f"{GITHUB}/{kind}/main/{target}{fragment}"
        return link  # a broken link stays broken: Sphinx and the link check name it

    def replace(match: re.Match) -> str:
        if match.group(1):
            return match.group(1) + target_of(match.group(2)) + match.group(3)
        return match.group(4) + target_of(match.group(5)) + match.group(6)

    return LINK.sub(replace, text)


def notebook_page(name: str, repo: Path = REPO, executed_dir: Path | None = None):
    """The notebook's current cells with the outputs of its executed copy; refuses a stale copy."""
    executed_dir = executed_dir or repo / "results" / "notebooks"
    source = nbformat.read(repo / "notebooks" / name, as_version=4)
    copy = executed_dir / name
    if not copy.is_file():
        raise BookError(f"no executed copy of {name} in {_shown(executed_dir, repo)}: run `make course` first")
    executed = nbformat.read(copy, as_version=4)
    add_first_views(executed)
    code = [c for c in source.cells if c.cell_type == "code"]
    ran = [c for c in executed.cells if c.cell_type == "code"]
    for i, (mine, theirs) in enumerate(zip(code, ran, strict=False)):  # lengths checked below
        if mine.source != theirs.source:
            raise BookError(f"{_shown(copy, repo)} is stale (code cell {i + 1} differs from notebooks/{name}): "
                            f"run `make course` (or tools/run_notebooks.py notebooks/{name}) again")
    if len(code) != len(ran):
        raise BookError(f"{_shown(copy, repo)} is stale ({len(ran)} code cells, notebooks/{name} has {len(code)}): "
                        f"run `make course` again")
    for mine, theirs in zip(code, ran, strict=True):
        mine.outputs = [shown for output in theirs.outputs for shown in _static(output, name)]
        mine.execution_count = theirs.execution_count
    source.cells = [c for c in source.cells if not _is_install_cell(c)]  # the page's badges launch the runtimes
    source.metadata.pop("widgets", None)
    return source


def _is_install_cell(cell) -> bool:
    """Cell 1 of every notebook: the Colab/Kaggle install, which does nothing elsewhere."""
    return cell.cell_type == "code" and '"google.colab" in sys.modules' in cell.source


def _static(output, name: str) -> list:
    """One output as a static page shows it: a widget becomes its caption and first view."""
    data = output.get("data", {})
    if WIDGET not in data:
        return [output]
    kind = output.get("metadata", {}).get(FLAG)
    if kind is None:
        raise BookError(f"a widget output of {name} has no first view (its state was not saved): run `make course` again")
    if kind == "text/plain":
        return [nbformat.v4.new_output("stream", name="stdout", text=data["text/plain"] + "\n")]
    return [nbformat.v4.new_output("display_data", data={"text/markdown": f"*{data['text/plain']}*"}),
            nbformat.v4.new_output("display_data", data={"image/png": data["image/png"]})]


def stage(staged: Path, repo: Path = REPO, executed_dir: Path | None = None) -> list[str]:
    """Write every page of the site under ``staged``; returns their site paths."""
    shutil.rmtree(staged, ignore_errors=True)
    site = pages(repo)
    for page, target in site.items():
        out = staged / target
        out.parent.mkdir(parents=True, exist_ok=True)
        if page.endswith(".ipynb"):
            nb = notebook_page(Path(page).name, repo, executed_dir)
            for cell in nb.cells:
                if cell.cell_type == "markdown":
                    cell.source = rewrite_links(cell.source, page, site, repo, staged)
            nbformat.write(nb, out)
        else:
            out.write_text(rewrite_links((repo / page).read_text(), page, site, repo, staged))
    with (staged / "index.md").open("a") as front:
        front.write(_toctrees(site))
    return sorted(site.values())


def _toctrees(site: dict[str, str]) -> str:
    """The site's navigation: the notebooks, then the docs, then the learner edition."""
    notebooks = [p.removesuffix(".ipynb") for p in site.values() if p.startswith("notebooks/")]
    docs = ["docs/index"] + [p.removesuffix(".md") for p in site.values() if p.startswith("docs/") and p != "docs/index.md"]

    def tree(caption: str, entries: list[str]) -> str:
        return "\n```{toctree}\n:hidden:\n:caption: " + caption + "\n\n" + "\n".join(entries) + "\n```\n"

    return tree("The course", notebooks) + tree("Documentation", docs) + tree("Learner edition", ["learner/README"])


def build(staged: Path, html: Path, repo: Path = REPO) -> None:
    """Sphinx, warnings as errors; its own output only on failure."""
    command = [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q", "-b", "html",
               "-c", str(repo / "docs"), "-d", str(html.parent / "doctrees"), str(staged), str(html)]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"PYTHONHASHSEED": "0"})
    if done.returncode != 0:
        raise BookError("sphinx-build failed:\n" + (done.stderr or done.stdout).strip())


class _Page(HTMLParser):
    """The links, sources and ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)
            if key in ("href", "src") and value:
                self.urls.append((tag, key, value))


def check_links(html: Path) -> list[str]:
    """Every broken internal link, missing image or anchor, and script or style sheet fetched from the
    network (the site must read offline; a remote picture, such as a badge, may stay remote), one line each."""
    html = html.resolve()
    parsed = {}
    for path in sorted(html.rglob("*.html")):
        if "_static" in path.relative_to(html).parts:
            continue  # the theme's templates, not pages
        page = _Page()
        page.feed(path.read_text(errors="replace"))
        parsed[path] = page
    problems = []
    for path, page in parsed.items():
        for tag, key, url in page.urls:
            parts = urlsplit(url)
            where = f"{path.relative_to(html)}: <{tag} {key}={url}>"
            if parts.scheme in ("http", "https") or url.startswith("//"):
                if tag == "script" or (tag == "link" and ".css" in url):
                    problems.append(f"{where} loads from the network")  # remote pictures (badges) may
                continue
            if parts.scheme or (not parts.path and not parts.fragment):
                continue  # mailto:, data:, javascript:
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in parsed[target].ids:
                problems.append(f"{where}: no #{parts.fragment} there")
    return problems


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _shown(path: Path, repo: Path) -> str:
    try:
        return str(path.relative_to(repo))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "book", help="the staged pages go to OUT/src, the site to OUT/html")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        shown = stage(args.out / "src")
        build(args.out / "src", args.out / "html")
    except BookError as error:
        print(f"make book: {error}", file=sys.stderr)
        return 1
    problems = check_links(args.out / "html")
    for problem in problems:
        print(f"broken: {problem}", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(f"the web edition: {len(shown)} pages in {args.out / 'html'} ({size_of(args.out / 'html') / 2**20:.1f} MiB), "
          f"built in {seconds:.0f} s; link check: {len(problems)} broken")
    print(f"open {args.out / 'html' / 'index.html'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
