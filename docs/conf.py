"""Sphinx configuration of the web edition (``make book``; the pages are staged by ``tools/book.py``).

The site is built from the executed notebooks of ``make course`` and executes nothing; it builds
offline from pip packages alone (pinned in constraints.txt), with warnings as errors.
"""

project = "maskgit-course"
author = "the maskgit-course authors"
copyright = "2026, the maskgit-course authors"
html_title = "maskgit-course: learn MaskGIT by building it"

extensions = [
    "myst_nb",  # Markdown pages and executed notebooks
    "sphinx-mathjax-offline",  # MathJax served from the site itself, not a CDN
]
exclude_patterns = ["_build"]

myst_heading_anchors = 3  # GitHub-style #anchors for the READMEs' and docs' links to sections
myst_enable_extensions = ["dollarmath", "amsmath"]

nb_execution_mode = "off"  # the outputs are the stored ones of `make course`
nb_ipywidgets_js = {}  # no widget manager from a CDN: widgets show their static first view
# A widget output keeps its live view for Jupyter; on a page, its first view (tools/widget_pictures.py).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": "https://github.com/maskgit-course/maskgit-course",
    "use_repository_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
}
html_last_updated_fmt = None
