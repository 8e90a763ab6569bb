"""The README is a front page and the docs hold the rest: no relative link or image in either is broken.

Only links inside the repository are checked (a file, a folder, or a heading of a markdown file);
http(s) and other external links are left alone, so the test needs no network.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from maskgit_lib.config import DEFAULT_AVATAR_STYLES
from maskgit_lib.data import avatars

from .conftest import REPO

README_LIMIT_BYTES = 8_192
DOCS_PAGES = ("index.md", "results.md", "command-line.md", "troubleshooting.md", "contributing.md")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1[^\S\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
_INLINE_TARGET = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_TARGET = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
_HTML_TARGET = re.compile(r"<(?:img|a|source)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}#{1,6}[^\S\n]+(.+?)(?:[^\S\n]+#+)?[^\S\n]*$", re.MULTILINE)
_HTML_ANCHOR = re.compile(r"<[^>]+\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")


def pages(repo: Path = REPO) -> list[Path]:
    """The markdown pages whose links must resolve: the front page, the code map, the learner edition, docs/."""
    named = [repo / "README.md", repo / "ARCHITECTURE.md", repo / "learner" / "README.md"]
    return [p for p in named if p.is_file()] + sorted((repo / "docs").rglob("*.md"))


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are code, not links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def link_targets(text: str) -> list[str]:
    """Every link and image target of a markdown text: inline, reference-style and HTML `src`/`href`."""
    prose = _prose(text)
    found = _INLINE_TARGET.findall(prose) + _REFERENCE_TARGET.findall(prose) + _HTML_TARGET.findall(prose)
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in found]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its rendered text, lower case, punctuation dropped, spaces → '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link or image shows its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The `#fragment`s a markdown text offers: its headings' slugs (repeats numbered -1, -2, …) and HTML ids."""
    seen: dict[str, int] = {}
    found = set(_HTML_ANCHOR.findall(text))
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        slug = github_slug(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def broken_links(page: Path, repo: Path = REPO) -> list[str]:
    """Relative links and images of ``page`` that point at nothing: one line each, 'page: target (why)'."""
    repo = repo.resolve()
    name = page.resolve().relative_to(repo) if page.resolve().is_relative_to(repo) else page
    problems = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        if _SCHEME.match(target):
            continue  # http(s), mailto, …: not checked (no network)
        path_part, _, fragment = target.partition("#")
        path_part = unquote(path_part)
        if not path_part:
            resolved = page.resolve()
        elif path_part.startswith("/"):
            resolved = (repo / path_part.lstrip("/")).resolve()
        else:
            resolved = (page.parent / path_part).resolve()
        if not resolved.is_relative_to(repo):
            problems.append(f"{name}: {target} (outside the repository)")
        elif not resolved.exists():
            problems.append(f"{name}: {target} (no such file)")
        elif fragment and resolved.suffix == ".md" and resolved.is_file():
            if unquote(fragment).lower() not in anchors(resolved.read_text(encoding="utf-8")):
                problems.append(f"{name}: {target} (no heading #{fragment} in {resolved.name})")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_image_resolves(page):
    assert broken_links(page) == [], "fix or remove these links"


def test_the_checker_finds_broken_links(tmp_path):
    """Fed a page with one of each kind of broken link beside working ones, it names exactly the broken ones."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Small data: what 1,800 images do\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#small-data-what-1800-images-do) [ok](#page) ![ok](../pic.png)\n"
        "[ok](https://example.com/missing.md) [ok](../docs/) `[code](missing.md)`\n"
        "```\n[fenced](missing-too.md)\n```\n"
        "[gone](missing.md) ![gone](../nope.png) [gone](other.md#no-such-heading) [gone](#nowhere)\n"
        "[gone](../../outside.md) <img src=\"../absent.png\"> [![badge](../pic.png)](absent-target.md)\n"
        "[ref]: ./not-here.md\n"
    )
    found = broken_links(page, tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == [
        "missing.md (no such file)",
        "../nope.png (no such file)",
        "other.md#no-such-heading (no heading #no-such-heading in other.md)",
        "#nowhere (no heading #nowhere in page.md)",
        "../../outside.md (outside the repository)",
        "absent-target.md (no such file)",
        "./not-here.md (no such file)",
        "../absent.png (no such file)",
    ]


@pytest.mark.parametrize(("heading", "slug"), [
    ("Small data: what 1,800 images do", "small-data-what-1800-images-do"),
    ("The `gpu` profile", "the-gpu-profile"),
    ("Does it copy its training images?", "does-it-copy-its-training-images"),
    ("Profiles: sizes, not devices", "profiles-sizes-not-devices"),
])
def test_github_slugs(heading, slug):
    assert github_slug(heading) == slug


def test_repeated_headings_get_numbered_anchors():
    assert anchors("# Notes\n\n## Notes\n\n```\n# not a heading\n```\n") == {"notes", "notes-1"}


def test_readme_is_a_front_page():
    readme = REPO / "README.md"
    size = readme.stat().st_size
    assert size <= README_LIMIT_BYTES, f"README.md is {size:,} bytes, over {README_LIMIT_BYTES:,}: move detail to docs/"
    pictures = [t for t in link_targets(readme.read_text(encoding="utf-8")) if t.endswith(".png") and not _SCHEME.match(t)]
    assert len(pictures) == 1, f"the README shows one picture, not {pictures}"


def test_docs_hold_the_five_pages_and_the_map_links_each():
    index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    for name in DOCS_PAGES:
        assert (REPO / "docs" / name).is_file(), f"docs/{name} is missing"
    targets = {t.partition("#")[0] for t in link_targets(index)}
    for page in sorted((REPO / "docs").rglob("*.md")):
        relative = page.relative_to(REPO / "docs").as_posix()
        assert relative == "index.md" or relative in targets, f"docs/index.md does not link docs/{relative}"
    readme_targets = {t.partition("#")[0] for t in link_targets((REPO / "README.md").read_text(encoding="utf-8"))}
    assert "docs/index.md" in readme_targets or "docs/" in readme_targets, "the README links the docs"


def test_readme_credits_the_cc_by_avatar_styles():
    """CC BY 4.0 requires the attribution: the README names each style's author and links the data card."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "data/README.md" in link_targets(readme)
    for style in DEFAULT_AVATAR_STYLES:
        licence = avatars.style_licence(style)
        author = re.search(r"by „([^”]+)”", licence["attribution"]).group(1).split(" - ")[0]
        assert style in readme and author in readme and licence["licence"] in readme, f"credit {style} ({author})"
