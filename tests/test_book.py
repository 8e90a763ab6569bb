"""The web edition (`make book`, tools/book.py): staged pages, widgets' first views, the built site.

The last test builds the whole site from the committed executed notebooks (warnings as errors), checks
every internal link offline and looks at one page in headless Chromium by its pixels.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from .conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import book  # noqa: E402
from widget_pictures import FLAG, WIDGET, add_first_views, missing_views  # noqa: E402

CHROMIUM = os.environ.get("MASKGIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _png(colour, size=(40, 30)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _model(name, **state):
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
            "state": state}


def _panel_notebook():
    """A notebook whose one cell shows a panel: a slider, a dropdown and an Output holding two figures;
    and a second cell with a finished tqdm bar."""
    figures = [{"output_type": "display_data", "data": {"image/png": _png((255, 0, 0)), "text/plain": "<Figure>"}, "metadata": {}},
               {"output_type": "display_data", "data": {"image/png": _png((0, 0, 255), (60, 20)), "text/plain": "<Figure>"}, "metadata": {}}]
    state = {
        "box": _model("VBoxModel", children=["IPY_MODEL_steps", "IPY_MODEL_order", "IPY_MODEL_out"]),
        "steps": _model("IntSliderModel", description="steps", value=12),
        "order": _model("DropdownModel", description="order", index=1, _options_labels=["confidence", "halton"]),
        "out": _model("OutputModel", outputs=figures),
        "bar": _model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_progress", "IPY_MODEL_right"]),
        "left": _model("HTMLModel", value="FID features: 100%"),
        "progress": _model("FloatProgressModel", value=4.0, max=4.0, min=0.0),
        "right": _model("HTMLModel", value="\u20074/4\u2007[00:30&lt;00:00]"),
    }
    view = {"data": {WIDGET: {"model_id": "box", "version_major": 2, "version_minor": 0}, "text/plain": "VBox(...)"}}
    bar = {"data": {WIDGET: {"model_id": "bar", "version_major": 2, "version_minor": 0}, "text/plain": "HBox(...)"}}
    nb = new_notebook(cells=[new_code_cell("panel()", outputs=[new_output("display_data", **view)]),
                             new_code_cell("fid()", outputs=[new_output("display_data", **bar)])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state, "version_major": 2, "version_minor": 0}}
    return nb


def test_a_panel_gets_its_first_view_and_a_progress_bar_its_text():
    nb = _panel_notebook()
    assert missing_views(nb) == [0, 1]
    assert add_first_views(nb) == 2 and missing_views(nb) == []
    panel = nb.cells[0].outputs[0]
    assert panel.metadata[FLAG] == "image/png" and WIDGET in panel.data  # the live widget stays for Jupyter
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(panel.data["image/png"]))))
    assert picture.shape == (50, 60, 3)  # both figures, one below the other
    assert tuple(picture[5, 5]) == (255, 0, 0) and tuple(picture[40, 50]) == (0, 0, 255)
    assert tuple(picture[5, 50]) == (255, 255, 255)  # the narrower figure sits on white
    assert "steps = 12, order = halton" in panel.data["text/plain"]
    bar = nb.cells[1].outputs[0]
    assert bar.metadata[FLAG] == "text/plain"
    assert bar.data["text/plain"] == "FID features: 100%|" + "█" * 20 + "| 4/4 [00:30<00:00]"
    assert add_first_views(nb) == 0  # once is enough


def test_a_widget_without_saved_state_gets_no_view_and_the_book_refuses_it():
    nb = _panel_notebook()
    del nb.metadata["widgets"]
    assert add_first_views(nb) == 0 and missing_views(nb) == [0, 1]
    with pytest.raises(book.BookError, match="no first view"):
        book._static(nb.cells[0].outputs[0], "05_x.ipynb")


def _mini_repo(tmp_path):
    """A repository with a README, a docs page, a figure, a source file and one notebook with its executed copy."""
    repo = tmp_path / "repo"
    for folder in ("docs", "notebooks", "results/figures", "results/notebooks", "maskgit_lib", "learner"):
        (repo / folder).mkdir(parents=True)
    (repo / "README.md").write_text("# Course\n\n![grid](results/figures/grid.png) [notebook 00](notebooks/00_a.ipynb) "
                                    "[docs](docs/index.md#tables) [code](maskgit_lib/x.py) [web](https://example.org)\n")
    (repo / "learner" / "README.md").write_text("[back](../README.md)\n")
    (repo / "docs" / "index.md").write_text("# Docs\n\n## Tables\n\n[home](../README.md) [nb](../notebooks/00_a.ipynb)\n")
    (repo / "results" / "figures" / "grid.png").write_bytes(base64.b64decode(_png((0, 128, 0))))
    (repo / "maskgit_lib" / "x.py").write_text("x = 1\n")
    source = new_notebook(cells=[new_markdown_cell("# 00\n\nSee [results](../docs/index.md) and [code](../maskgit_lib/x.py)."),
                                 new_code_cell("print(1)")])
    nbformat.write(source, repo / "notebooks" / "00_a.ipynb")
    executed = new_notebook(cells=[new_markdown_cell("# 00 (older text)"),
                                   new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")])])
    nbformat.write(executed, repo / "results" / "notebooks" / "00_a.ipynb")
    return repo


def test_staging_points_every_link_at_the_site_or_at_github(tmp_path):
    repo = _mini_repo(tmp_path)
    staged = tmp_path / "src"
    assert book.stage(staged, repo) == ["docs/index.md", "index.md", "learner/README.md", "notebooks/00_a.ipynb"]
    front = (staged / "index.md").read_text()
    assert "](results/figures/grid.png)" in front and (staged / "results/figures/grid.png").is_file()
    assert "](notebooks/00_a.ipynb)" in front and "](docs/index.md#tables)" in front
    assert f"]({book.GITHUB}/blob/main/maskgit_lib/x.py)" in front and "](https://example.org)" in front
    assert "{toctree}" in front and "notebooks/00_a" in front
    assert "](../index.md)" in (staged / "docs/index.md").read_text()  # the README is the front page
    assert "](../index.md)" in (staged / "learner/README.md").read_text()
    page = nbformat.read(staged / "notebooks/00_a.ipynb", as_version=4)
    assert page.cells[0].source.startswith("# 00\n")  # today's text ...
    assert "](../docs/index.md)" in page.cells[0].source and f"]({book.GITHUB}/blob/main/maskgit_lib/x.py)" in page.cells[0].source
    assert page.cells[1].outputs[0].text == "1\n"  # ... with the executed copy's outputs


def test_a_stale_or_missing_executed_copy_stops_the_build(tmp_path):
    repo = _mini_repo(tmp_path)
    source = nbformat.read(repo / "notebooks/00_a.ipynb", as_version=4)
    source.cells[1].source = "print(2)"
    nbformat.write(source, repo / "notebooks/00_a.ipynb")
    with pytest.raises(book.BookError, match=r"00_a.ipynb is stale \(code cell 1 differs"):
        book.stage(tmp_path / "src", repo)
    (repo / "results/notebooks/00_a.ipynb").unlink()
    with pytest.raises(book.BookError, match="no executed copy of 00_a.ipynb.*make course"):
        book.stage(tmp_path / "src", repo)


def test_the_link_check_finds_a_missing_page_a_missing_anchor_and_a_network_script(tmp_path):
    site = tmp_path / "html"
    (site / "docs").mkdir(parents=True)
    (site / "index.html").write_text('<a href="docs/a.html#here">ok</a> <a href="docs/a.html#gone">x</a> '
                                     '<a href="nowhere.html">y</a> <img src="pic.png"> <a href="https://example.org">ok</a>'
                                     '<script src="https://cdn.example.org/x.js"></script>')
    (site / "docs" / "a.html").write_text('<h2 id="here">H</h2><a href="../index.html">back</a>')
    problems = book.check_links(site)
    assert len(problems) == 4, problems
    assert any("#gone" in p for p in problems) and any("nowhere.html" in p for p in problems)
    assert any("pic.png" in p for p in problems) and any("network" in p for p in problems)


def _screenshot_shows_text_and_a_figure(shot) -> tuple[float, int]:
    """The share of dark (text) pixels, and the number of strongly coloured pixels (a figure)."""
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    dark = (pixels.max(axis=2) < 90).mean()
    coloured = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 80).sum())
    return float(dark), coloured


def test_the_site_builds_offline_with_warnings_as_errors_and_every_link_resolves(tmp_path):
    out = tmp_path / "book"
    assert book.main(["--out", str(out)]) == 0  # stages, builds with -W -n, checks links
    html = out / "html"
    page = html / "notebooks" / "05_iterative_decoding.html"
    text = page.read_text()
    assert "Iterative decoding" in text and "data:image/png;base64" not in text  # figures are files ...
    assert len(list((html / "_images").glob("*.png"))) > 50  # ... the notebooks' outputs among them
    assert "A widget: run the notebook to move it" in text  # the knob panel's first view
    if not CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail("the web edition's browser check must run in CI: no Chromium (apt-get install chromium)")
        pytest.skip("no Chromium found (Debian: apt-get install chromium; or set MASKGIT_CHROMIUM)")
    shot = REPO / "results" / "browser" / "book-05.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--disable-background-networking", "--window-size=1280,4000", f"--screenshot={shot}",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    dark, coloured = _screenshot_shows_text_and_a_figure(shot)
    assert dark > 0.01, f"the page shows almost no text ({dark:.1%} dark pixels): {shot}"
    assert coloured > 5000, f"the page shows no figure ({coloured} coloured pixels): {shot}"
