"""A real browser: JupyterLab + Debian's Chromium driven by Playwright (no browser download).

Opens a notebook, runs it, composes and sends an Originate through the form, and sees the
reply table and new rows in the event monitor; keeps a screenshot. Skipped, with the
reason, when Chromium or Playwright is not installed (.ci/run installs both).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import httpx
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = pathlib.Path(os.environ.get("AMIKIT_SCREENSHOT", "/tmp/amikit-browser-test.png"))

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - reported as a skip below
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="Playwright is not installed"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} "
                       "(apt-get install chromium)"),
]

CELLS = [
    """import amikit
from amikit.widgets import ActionComposer, EventMonitor
pbx = amikit.find_pbx(speed=10)
ami = pbx.client()
composer = ActionComposer(ami)
composer.choose("Originate")
composer""",
    """monitor = EventMonitor(ami)
monitor""",
]


def served_at(server: subprocess.Popen, runtime: pathlib.Path, token: str, seconds: float = 90) -> str:
    """The URL of the JupyterLab started on port 0, once its /api/status answers.

    The server takes a free port itself and writes it in its runtime file
    (``jpserver-<pid>.json``); choosing a port here and handing it over would race with any
    other process taking it meanwhile.
    """
    deadline = time.monotonic() + seconds
    info = runtime / f"jpserver-{server.pid}.json"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab ended with {server.returncode} before answering")
        try:
            base = f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
            if httpx.get(f"{base}/api/status", params={"token": token}, timeout=2).status_code == 200:
                return base
        except (OSError, ValueError, KeyError, httpx.TransportError):
            pass  # not written, half written or not listening yet: look again
        time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer /api/status within {seconds} s")


@pytest.fixture
def lab(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in CELLS],
                                metadata={"kernelspec": {"name": "python3", "language": "python",
                                                         "display_name": "Python 3"}}),
                   work / "browser.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps(
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "MPLCONFIGDIR"):
        env[name] = str(tmp_path / name.lower())
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp_path / "settings")
    for name in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET", "AMIKIT_SPOOL"):
        env.pop(name, None)
    token = "amikit-browser"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={work}", "--LabApp.news_url=None"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield served_at(server, pathlib.Path(env["JUPYTER_RUNTIME_DIR"]), token), token, tmp_path
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_compose_an_originate_and_watch_the_monitor(lab):
    base, token, tmp_path = lab
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=CHROMIUM, headless=True,
            viewport={"width": 1400, "height": 1000},
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-extensions"])
        page = browser.new_page()
        page.goto(f"{base}/lab/tree/browser.ipynb?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=60_000)
        page.locator(".lm-MenuBar-item", has_text="Run").click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']:not(.lm-mod-disabled)").click()
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            texts = prompts.all_inner_texts()
            if texts and all("[" in t and "*" not in t and t.strip() != "[ ]:" for t in texts):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the notebook's cells had not all run after 90 s: {texts}")
        def field(label: str):
            return page.locator(".widget-text", has_text=label).locator("input").first

        field("Channel *").wait_for(timeout=30_000)
        field("Channel *").fill("Local/900@sets")
        field("Application").fill("Wait")
        field("Data").fill("1")
        field("Async").fill("true")
        page.locator(".widget-button, .jupyter-button", has_text="Send").first.click()
        page.get_by_text("Originate successfully queued").first.wait_for(timeout=30_000)
        rows = page.locator(".widget-select select option", has_text="Newchannel")
        rows.first.wait_for(state="attached", timeout=30_000)
        assert rows.count() >= 1
        page.screenshot(path=str(tmp_path / "browser.png"))
        shutil.copy(tmp_path / "browser.png", SCREENSHOT)
        browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
