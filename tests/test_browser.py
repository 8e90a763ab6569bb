"""The widgets in a real browser: JupyterLab on localhost, notebook 05 in headless Chromium.

Runs the notebook (fast profile), then moves the knob panel's steps slider and its schedule dropdown
and checks that the sample grid the panel draws changes each time. Screenshots go to
``results/browser/``. Needs Debian's ``chromium`` and the ``playwright`` package: skipped with the
reason where they are missing, except in CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import REPO, free_port

NOTEBOOK = "notebooks/05_iterative_decoding.ipynb"
CHROMIUM = os.environ.get("MASKGIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = REPO / "results" / "browser"
CHROMIUM_FLAGS = [  # headless as root on a machine without a network: no sandbox, no background traffic
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def _missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not CHROMIUM:
        return "no Chromium found (Debian: apt-get install chromium; or set MASKGIT_CHROMIUM)"
    return None


KERNEL_READY = """() => {
    const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
    return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} browser test: {message}", flush=True)


@pytest.fixture
def lab(tmp_path):
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    root = tmp_path / "lab"  # a copy: JupyterLab autosaves what it runs, the repository stays clean
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(REPO / NOTEBOOK, root / NOTEBOOK)
    port, token = free_port(), "maskgit-browser-test"
    env = {
        **os.environ, "MASKGIT_PROFILE": "fast", "OMP_NUM_THREADS": "1",
        "MASKGIT_DATA_DIR": str(tmp_path / "data"), "MASKGIT_RESULTS_DIR": str(tmp_path / "results"),
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands as the menus would
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "lab.log").open("w"))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
        yield f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _panel_image(panel) -> str:
    """The data URL of the sample grid the knob panel shows now ('' while it redraws)."""
    images = panel.locator("img")
    return images.last.get_attribute("src") if images.count() else ""


def _wait_for_new_image(panel, old: str, timeout_s: float = 90) -> str:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        src = _panel_image(panel)
        if src and src != old:
            return src
        time.sleep(0.5)
    pytest.fail("the sample grid did not change after moving a widget")


def test_knob_panel_redraws_when_the_slider_and_dropdown_move(lab):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(lab, timeout=120_000)
            _log("page loaded")
            page.wait_for_selector(".jp-Notebook", timeout=120_000)
            page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
            page.wait_for_function(KERNEL_READY, timeout=120_000)
            _log("kernel idle")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")  # Run > Run All Cells
            # the knob panel: the interact widget that has a "schedule" dropdown
            panel = page.locator(".widget-interact").filter(has=page.locator("label:text-is('schedule')"))
            panel.wait_for(timeout=240_000)
            _log("knob panel shown")
            panel.scroll_into_view_if_needed()
            first = _wait_for_new_image(panel, "", timeout_s=120)
            panel.screenshot(path=str(SHOTS / "05_panel_before.png"))

            slider = panel.locator(".widget-slider").filter(has=page.locator("label:text-is('steps')")).locator(".noUi-handle")
            slider.focus()
            for _ in range(4):
                page.keyboard.press("ArrowLeft")  # 12 -> 8 steps
            after_slider = _wait_for_new_image(panel, first)
            panel.screenshot(path=str(SHOTS / "05_panel_after_steps.png"))

            panel.locator(".widget-dropdown").filter(has=page.locator("label:text-is('schedule')")).locator("select").select_option("linear")
            _wait_for_new_image(panel, after_slider)
            panel.screenshot(path=str(SHOTS / "05_panel_after_schedule.png"))
            page.screenshot(path=str(SHOTS / "05_page.png"))
        except Exception:
            page.screenshot(path=str(SHOTS / "05_failure.png"))  # what the browser showed
            raise
        browser.close()
    assert all((SHOTS / name).stat().st_size > 5_000 for name in ("05_panel_before.png", "05_panel_after_steps.png"))

