"""End to end, as a reader sees it: a real JupyterLab and the built site in headless Chromium.

1. Start JupyterLab on localhost, open 0.1 in Debian's Chromium (driven by Playwright, no browser
   download), wait for the kernel, Run All, then move the ``top_k`` slider 10 -> 15 -> 40 -> 15:
   the figure must change at each move and be identical both times it shows 15. No cell may
   show an error.
2. Open every notebook page of the built site, screenshot it, and check that its figures are
   real, loaded <img> elements.

Every request to a host other than 127.0.0.1 is blocked (the widget and MathJax CDNs included).
Every server started here is stopped, and any kernel it leaves behind is ended by PID.
On failure the screenshot and the JupyterLab log are kept in _build/test-artifacts/.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "_build" / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
NOTEBOOK = "notebooks/00_01_the_whole_loop.ipynb"
SLIDER = "top_k"
SLIDER_PATH = [10, 15, 40, 15]  # start, then three moves; the two 15s must give the same image

pytestmark = pytest.mark.browser


# ---- browser -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    reason = None
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (Debian/Ubuntu: apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(f"browser test skipped: {reason}")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def localhost_only(route) -> None:
    host = urlparse(route.request.url).hostname
    if route.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


@contextlib.contextmanager
def new_page(browser, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route("**/*", localhost_only)
    try:
        yield context.new_page()
    finally:
        context.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- JupyterLab server ---------------------------------------------------------------------

class JupyterLab:
    """A JupyterLab server on 127.0.0.1 with a throw-away user profile and root folder."""

    def __init__(self, home: Path):
        self.home, self.port, self.token = home, free_port(), secrets.token_hex(16)
        self.log_path = home / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None
        self.children: set[int] = set()

    def _settings(self) -> Path:
        settings = self.home / "settings"
        user = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                                "checkForUpdates": False},
                "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
                "@jupyterlab/docmanager-extension/plugin": {"autosave": False}}
        for name, values in user.items():
            path = settings / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        return settings

    def start(self, notebook: str) -> None:
        # Serve a copy: the repository's notebook must never get outputs saved into it.
        root = self.home / "root"
        (root / notebook).parent.mkdir(parents=True)
        shutil.copy(REPO / notebook, root / notebook)
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
        env.update(JUPYTERLAB_SETTINGS_DIR=str(self._settings()),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
                   IPYTHONDIR=str(self.home / "ipython"),
                   PYDEVD_DISABLE_FILE_VALIDATION="1")
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--port-retries=0", f"--ServerApp.token={self.token}",
               f"--ServerApp.root_dir={root}", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.url}api/status?token={self.token}", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer in 90 s:\n{self.log_path.read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def record_children(self) -> None:
        """Remember every descendant (kernels run in their own process group)."""
        try:
            import psutil
            self.children |= {c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)}
        except Exception:  # psutil missing or the server already gone
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        self.record_children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # jupyter-server shuts its kernels down
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid in self.children:  # anything that outlived its server, by PID only
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def jupyterlab(tmp_path):
    server = JupyterLab(tmp_path)
    server.start(NOTEBOOK)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def artifacts_on_failure(page, name: str, server: JupyterLab | None = None):
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if server is not None:
            server.record_children()
            shutil.copy(server.log_path, ARTIFACTS / f"{name}-jupyterlab.log")
        print(f"\nscreenshot and logs kept in {ARTIFACTS}")
        raise


# ---- helpers on the JupyterLab page --------------------------------------------------------

def kernel_idle(page) -> bool:
    status = page.locator("#jp-main-statusbar").inner_text()
    return re.search(r"\|\s*Idle", status) is not None


def wait_until(predicate, timeout_s: float, what: str, poll_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def all_cells_ran(page) -> bool:
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    return bool(prompts) and all(re.fullmatch(r"\s*\[\d+\]:\s*", p) for p in prompts)


def widget_image(page) -> str:
    imgs = page.locator(".widget-interact img")
    return imgs.first.get_attribute("src") if imgs.count() else ""


def stable_image(page, stable_s: float = 1.0, timeout_s: float = 30.0) -> str:
    """The widget's image once it has not changed for ``stable_s`` and the kernel is idle."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        src = widget_image(page)
        if src != last:
            last, since = src, time.monotonic()
        elif src and time.monotonic() - since >= stable_s and kernel_idle(page):
            return src
        time.sleep(0.1)
    raise AssertionError("the widget's figure never settled")


def set_slider(page, label: str, value: int) -> None:
    """Type a value into the slider's editable readout, as a reader can."""
    slider = page.locator(".widget-slider", has=page.locator("label", has_text=label))
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")
    wait_until(lambda: readout.inner_text().strip() == str(value), 10, f"{label} = {value}")


def error_outputs(page) -> list[str]:
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
    return errors.all_inner_texts()


# ---- the tests -----------------------------------------------------------------------------

def test_jupyterlab_run_all_and_move_a_slider(browser, jupyterlab):
    with new_page(browser) as page, artifacts_on_failure(page, "jupyterlab", jupyterlab):
        page.goto(f"{jupyterlab.url}lab/tree/{NOTEBOOK}?token={jupyterlab.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        # The status bar, not the notebook's indicator: that one says idle before a kernel exists.
        wait_until(lambda: kernel_idle(page), 60, "the kernel to be Idle in the status bar")
        page.evaluate("window.jupyterapp.commands.execute('runmenu:run-all')")
        wait_until(lambda: all_cells_ran(page) and kernel_idle(page), 120,
                   "every code cell to get an execution count")
        jupyterlab.record_children()
        assert error_outputs(page) == [], f"cells show errors: {error_outputs(page)}"

        # jupyterlab-myst renders the book's dropdowns inside JupyterLab (no raw MyST fences), and
        # jupyterlab-rise offers the instructor's slideshow (both come from requirements.txt).
        markdown = page.evaluate("Array.from(document.querySelectorAll('.jp-MarkdownCell'))"
                                 ".map(c => c.innerText).join('\\n')")
        assert ":class: dropdown" not in markdown and "{admonition}" not in markdown, \
            "MyST dropdowns show as raw text: is jupyterlab-myst installed?"
        commands = page.evaluate("window.jupyterapp.commands.listCommands()")
        assert "RISE:slideshow" in commands, "no RISE slideshow command: is jupyterlab-rise installed?"

        images = {SLIDER_PATH[0]: stable_image(page)}
        seen = [images[SLIDER_PATH[0]]]
        for value in SLIDER_PATH[1:]:
            set_slider(page, SLIDER, value)
            seen.append(stable_image(page))
        assert all(s.startswith("data:image/png") for s in seen), "the widget shows no PNG figure"
        assert seen[0] != seen[1], f"moving {SLIDER} {SLIDER_PATH[0]}->{SLIDER_PATH[1]} did not redraw"
        assert seen[1] != seen[2], f"moving {SLIDER} {SLIDER_PATH[1]}->{SLIDER_PATH[2]} did not redraw"
        assert seen[1] == seen[3], f"{SLIDER}={SLIDER_PATH[1]} drew two different figures"
        assert error_outputs(page) == [], f"cells show errors: {error_outputs(page)}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator(".widget-interact").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-after-slider.png"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_site_pages_show_their_figures(browser, built_book):
    pages = sorted(p.relative_to(built_book.html_dir).as_posix()
                   for p in (built_book.html_dir / "notebooks").glob("*.html"))
    assert f"{NOTEBOOK[:-6]}.html" in pages, f"{NOTEBOOK} was not built"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve(built_book.html_dir) as base, new_page(browser) as page:
        for name in pages:
            with artifacts_on_failure(page, "site-" + Path(name).stem):
                page.goto(base + name, wait_until="load")
                page.screenshot(path=str(ARTIFACTS / f"site-{Path(name).stem}.png"),
                                full_page=True)
                imgs = page.evaluate("""() => [...document.querySelectorAll('article img')]
                    .map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}))""")
                broken = [i["src"] for i in imgs if not i["ok"]]
                assert not broken, f"{name}: images that did not render: {broken}"
                if name == f"{NOTEBOOK[:-6]}.html":
                    assert imgs, f"{name}: no rendered <img> figure"
