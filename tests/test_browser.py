"""End to end, as a reader sees it: a real JupyterLab and the built site in headless Chromium.

1. Start JupyterLab on localhost, open 0.1 in Debian's Chromium (driven by Playwright, no browser
   download), wait for the kernel, Run All, then move the ``top_k`` slider 10 -> 15 -> 40 -> 15:
   the figure must change at each move and be identical both times it shows 15. No cell may
   show an error.
2. Open every page of the built site once at 1280 px (the ``site_pages`` fixture), screenshot
   it, and check what a reader meets there: figures are loaded <img> elements; no code or
   output block scrolls sideways; no JavaScript errors; no widget controls (they cannot move
   on a static page); each explorer shows its static figure, once; no solution shows before
   it is opened; the favicon, the logo, one search control, titles that name the page.

Every request to a host other than 127.0.0.1 is blocked (the widget and MathJax CDNs included).
Every server started here is stopped, and any kernel it leaves behind is ended by PID.
On failure the screenshot and the JupyterLab log are kept in _build/test-artifacts/.
The site tests build the book (the ``built_book`` fixture) unless BOOK_HTML names a site built
already (the folder holding index.html): ``BOOK_HTML=/tmp/out/_build/html pytest -m browser``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "_build" / "test-artifacts"
from conftest import headless_chromium  # noqa: E402 - one way to start Chromium
from mini_vllm.bench_site import serve  # noqa: E402 - the benchmark serves a site the same way
NOTEBOOK = "notebooks/00_01_the_whole_loop.ipynb"
SLIDER = "top-k"  # the sampling explorer in 0.1: "top-k (0 = off)"
SLIDER_PATH = [10, 15, 40, 15]  # start, then three moves; the two 15s must give the same image

pytestmark = pytest.mark.browser


# ---- browser -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    with headless_chromium("browser test") as chromium:
        yield chromium


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
    # From the notebook's model, not the prompts: a cell whose source opens collapsed (folded
    # answers) shows no prompt.
    counts = page.evaluate("(() => { const nb = window.jupyterapp.shell.currentWidget?.content;"
                           " if (!nb || !nb.widgets) return [];"
                           " return nb.widgets.filter(c => c.model.type === 'code')"
                           ".map(c => c.model.executionCount); })()")
    return bool(counts) and all(isinstance(c, int) for c in counts)


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
        # The prose's computed numbers ({eval} roles) read in JupyterLab too, not as raw roles.
        assert "{eval}" not in markdown, "{eval} roles show raw: is jupyterlab-myst installed?"
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


# ---- the built site, every page at 1280 px -------------------------------------------------------

SITE_WIDTH = 1280
# The console errors a page may still show, each with its reason: a failed load of a URL that
# starts with one of these. Nothing is forgiven now: MathJax is served with the site.
KNOWN_EXTERNAL_LOADS: dict[str, str] = {}
# Code or output blocks that may scroll sideways at 1280 px, each with its reason:
# {page: {text the block contains: reason}}.
CLIPPED_BLOCK_EXCEPTIONS: dict[str, dict[str, str]] = {}
# Pages that show a solution's output without a click, each with its reason.
SHOWS_SOLUTION_OUTPUT = {
    "notebooks/00_40_labs.html": "the labs page runs the reference solutions: their verdicts are "
                                 "what it shows (tests/test_notebook_hygiene.py exempts it too)",
}
KV_GROWTH_PAGES = ("notebooks/00_06_attention.html", "notebooks/00_11_kv_cache_memory.html")
SAME_PICTURE = 2.0  # two figures are the same picture when their 16 x 16 grey thumbnails differ
                    # by less than this on average (0-255); same-kind figures at other settings
                    # differ by 3.4 or more on this site
CHROME_ICONS = ("_static/images/logo_", "_static/logo.svg")  # launch-button logos, the book's logo

PAGE_JS = r"""() => {
  // Chromium lays out a closed <details>' content (content-visibility: hidden): not shown.
  const shown = e => e.getClientRects().length > 0 && e.checkVisibility({visibilityProperty: true})
    && !e.closest('details:not([open]) > :not(summary)');
  const text = e => (e ? e.textContent : '').trim().replace(/\s+/g, ' ').slice(0, 80);
  const article = document.querySelector('article') || document.body;
  const loaded = i => i.complete && i.naturalWidth > 0;
  return {
    title: document.title,
    images: [...article.querySelectorAll('img')].map(i => ({src: i.getAttribute('src'),
                                                            ok: loaded(i)})),
    widgets: [...document.querySelectorAll(
        '.widget-slider, .widget-dropdown, .widget-interact, .jupyter-widgets, ' +
        'script[type="application/vnd.jupyter.widget-view+json"]')]
      .map(e => e.tagName === 'SCRIPT' ? 'script ' + e.type : 'element .' + e.classList[0]),
    explorers: [...article.querySelectorAll('.mini-vllm-static-explorer')].map(f => ({
      imgs: f.querySelectorAll('img').length,
      alt: (f.querySelector('img') || {}).alt || '',
      ok: [...f.querySelectorAll('img')].every(loaded),
      readout: text(f.querySelector('.readout')),
      caption: text((f.closest('figure') || f).querySelector('figcaption'))})),
    // Every figure of the page (chrome icons aside): its numbered caption, alt text and
    // sharpness (natural pixels per displayed pixel; shown=false when folded away).
    figures: [...article.querySelectorAll('img')].filter(i => !i.closest('.logo, .navbar-brand')
      && !/_static\/(images\/logo_|logo\.svg)/.test(i.getAttribute('src'))).map(i => {
      const fig = i.closest('figure');
      const cap = fig && [...fig.children].find(c => c.tagName === 'FIGCAPTION');
      const src = i.getAttribute('src') || '';
      return {src: src.slice(0, 60), alt: i.getAttribute('alt') || '',
              caption: text(cap), number: text(cap && cap.querySelector('.caption-number')),
              svg: /\.svg$|^data:image\/svg/.test(src), shown: shown(i),
              ratio: i.naturalWidth / Math.max(1, i.getBoundingClientRect().width),
              // displayed aspect / natural aspect: 1 unless the figure is squashed
              aspect: (i.getBoundingClientRect().width / Math.max(1, i.getBoundingClientRect()
                .height)) / (i.naturalWidth / Math.max(1, i.naturalHeight))};
    }),
    // Typeset maths: MathJax output, and the equations it could not typeset.
    math: document.querySelectorAll('mjx-container').length,
    mathSource: document.querySelectorAll('.math').length,
    mathErrors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
      .map(e => e.getAttribute('data-mjx-error') || text(e)),
    solutions: [...article.querySelectorAll('div.cell.tag_solution')].map(c =>
      [...c.querySelectorAll('.cell_input, .cell_output')].filter(shown)
        .map(e => (e.classList.contains('cell_input') ? 'code: ' : 'output: ') + text(e))),
    favicons: [...document.querySelectorAll('link[rel~="icon"]')].map(l => l.getAttribute('href')),
    logos: [...document.querySelectorAll('img.logo__image')].filter(i => shown(i) && loaded(i))
      .map(i => i.getAttribute('src')),
    search: [...document.querySelectorAll('.search-button__button')].filter(shown).length,
  };
}"""

# MathJax has finished (or there is no maths on the page): its startup promise resolved.
MATH_DONE_JS = r"""() => !document.querySelector('.math') || (window.MathJax &&
  MathJax.startup && MathJax.startup.promise && (window.__mathTypeset ??=
  MathJax.startup.promise.then(() => { window.__mathDone = true; })) && window.__mathDone)"""

OPEN_FOLDS_JS = r"""() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
}"""

# A block: each div.highlight (code), each .cell_output, each other <pre>. It is clipped when it,
# or a <pre>, div.highlight or table container inside it, scrolls sideways.
CLIPPED_JS = r"""() => {
  const scrolls = e => e.scrollWidth > e.clientWidth + 1;
  const article = document.querySelector('article') || document.body;
  const blocks = [...article.querySelectorAll('div.highlight, .cell_output, pre')].filter(e =>
    !(e.matches('pre') && e.closest('div.highlight, .cell_output')) &&
    !(e.matches('div.highlight') && e.closest('.cell_output')));
  return blocks.map(b => {
    const bad = [b, ...b.querySelectorAll('pre, div.highlight, .pst-scrollable-table-container')]
      .filter(scrolls);
    if (!bad.length) return null;
    const lines = (b.textContent || '').split('\n');
    const longest = lines.reduce((a, l) => l.length > a.length ? l : a, '');
    return {over: Math.max(...bad.map(e => e.scrollWidth - e.clientWidth)),
            text: b.textContent, longest: longest.trim().slice(0, 90)};
  }).filter(x => x);
}"""


@pytest.fixture(scope="module")
def site_html(request) -> Path:
    """The built site: BOOK_HTML if set (a folder holding index.html), else this session's build."""
    given = os.environ.get("BOOK_HTML")
    if not given:
        return request.getfixturevalue("built_book").html_dir
    path = Path(given).resolve()
    if not (path / "index.html").exists():
        pytest.fail(f"BOOK_HTML={given}: there is no index.html in that folder")
    return path


def site_page_names(html_dir: Path) -> list[str]:
    """Every page of the site but the top-level index.html (a redirect to the root page)."""
    skip = ("_static/", "_sources/", "_images/")
    names = (p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html"))
    return sorted(n for n in names if not n.startswith(skip) and n != "index.html")


def watch_console(page) -> list[tuple[str, str]]:
    """Collect (message, source URL) of every console error and uncaught exception."""
    errors: list[tuple[str, str]] = []
    page.on("console", lambda m: errors.append((m.text, (m.location or {}).get("url", "")))
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append((f"uncaught: {e}", "")))
    return errors


def known_error(message: str, url: str) -> bool:
    return message.startswith("Failed to load resource") and url.startswith(
        tuple(KNOWN_EXTERNAL_LOADS))


@pytest.fixture(scope="module")
def site_pages(browser, site_html) -> dict[str, dict]:
    """Open every page once at 1280 px and record what a reader meets there."""
    names = site_page_names(site_html)
    assert "book/intro.html" in names and f"{NOTEBOOK[:-6]}.html" in names, names
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = {}
    with serve(site_html) as base:
        for name in names:
            with new_page(browser, width=SITE_WIDTH) as page:  # a first visit: nothing stored
                errors = watch_console(page)
                requests: list[str] = []
                page.on("request", lambda r: requests.append(r.url))
                page.goto(base + name, wait_until="load")
                page.wait_for_load_state("networkidle")
                page.wait_for_function(MATH_DONE_JS, timeout=30_000)
                page.screenshot(path=str(ARTIFACTS / f"site-{name.replace('/', '-')[:-5]}.png"),
                                full_page=True)
                record = page.evaluate(PAGE_JS)
                page.evaluate(OPEN_FOLDS_JS)
                record["clipped"] = page.evaluate(CLIPPED_JS)
                record["errors"] = list(errors)
                record["external"] = [u for u in requests
                                      if not u.startswith((base, "data:", "blob:"))]
                pages[name] = record
    return pages


def report(problems: list[str], what: str, limit: int = 60) -> str:
    more = f"\n... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} {what}:\n" + "\n".join(problems[:limit]) + more


def test_site_pages_show_their_figures(site_pages):
    broken = [f"{name}: {i['src'][:80]}" for name, p in site_pages.items()
              for i in p["images"] if not i["ok"]]
    assert not broken, report(broken, "images that did not render")
    shown = [i for i in site_pages[f"{NOTEBOOK[:-6]}.html"]["images"]
             if not any(icon in i["src"] for icon in CHROME_ICONS)]
    assert shown, f"{NOTEBOOK}: no rendered <img> figure"


def test_site_has_no_clipped_code_or_output(site_pages):
    """No code or output block scrolls sideways at 1280 px, folds opened (issue 17)."""
    problems = []
    for name, p in site_pages.items():
        allowed = CLIPPED_BLOCK_EXCEPTIONS.get(name, {})
        for block in p["clipped"]:
            if not any(fragment in block["text"] for fragment in allowed):
                problems.append(f"{name}: +{block['over']} px: {block['longest']}")
    assert not problems, report(problems, f"code/output blocks scroll sideways at {SITE_WIDTH} px "
                                          "(wrap the line, or list the block with its reason)")


def test_site_has_no_javascript_errors(site_pages):
    problems = [f"{name}: {message} [{url}]" for name, p in site_pages.items()
                for message, url in p["errors"] if not known_error(message, url)]
    assert not problems, report(problems, "console errors (known: "
                                          f"{', '.join(KNOWN_EXTERNAL_LOADS)})")


def test_site_shows_no_widget_controls(site_pages):
    """A control that cannot move is never shown: the site shows an explorer's static figure."""
    problems = [f"{name}: {w}" for name, p in site_pages.items() for w in p["widgets"]]
    assert not problems, report(problems, "widget controls or widget views on the site")


def picture(html_dir: Path, page_name: str, src: str):
    """A figure's 16 x 16 grey thumbnail (cropped to its ink), or None if it is not a PNG."""
    import numpy as np
    from PIL import Image

    if src.startswith("data:image/png;base64,"):
        data = base64.b64decode(src.split(",", 1)[1])
    elif src.endswith(".png") and not src.startswith(("http:", "https:")):
        data = ((html_dir / page_name).parent / unquote(src)).read_bytes()
    else:
        return None
    image = Image.open(io.BytesIO(data)).convert("L")
    ink = np.argwhere(np.asarray(image) < 245)
    if not len(ink):
        return None
    (y0, x0), (y1, x1) = ink.min(0), ink.max(0) + 1
    image = image.crop((int(x0), int(y0), int(x1), int(y1))).resize((16, 16), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def figures(html_dir: Path, name: str, page: dict) -> list[tuple[str, object]]:
    srcs = [i["src"] for i in page["images"] if not any(icon in i["src"] for icon in CHROME_ICONS)]
    thumbs = [(src[:60], picture(html_dir, name, src)) for src in srcs]
    return [(label, t) for label, t in thumbs if t is not None]


def same(a, b) -> bool:
    return float(abs(a - b).mean()) < SAME_PICTURE


def test_site_explorers_show_their_figure_once(site_pages, site_html):
    """Each explorer shows its static figure once, with alt text (an explorer without a figure
    shows its readout); no picture shows twice on a page, and the KV-growth figure lives in
    0.11 only (not also in 0.6)."""
    problems = []
    for name, p in site_pages.items():
        for k, e in enumerate(p["explorers"]):
            drawn = e["imgs"] == 1 and e["alt"].strip() and e["ok"]
            readout_only = e["imgs"] == 0 and e["readout"]
            if not (drawn or readout_only):
                problems.append(f"{name}: explorer {k} ({e['caption'][:50]}): {e['imgs']} images,"
                                f" alt {e['alt'][:40]!r}, loaded {e['ok']}")
        figs = figures(site_html, name, p)
        for i, (la, ta) in enumerate(figs):
            for lb, tb in figs[i + 1:]:
                if same(ta, tb):
                    problems.append(f"{name}: the same figure twice: {la} and {lb}")
    a, b = KV_GROWTH_PAGES
    if a in site_pages and b in site_pages:
        for la, ta in figures(site_html, a, site_pages[a]):
            for lb, tb in figures(site_html, b, site_pages[b]):
                if same(ta, tb):
                    problems.append(f"{a} and {b} show the same figure: {la} / {lb}")
    assert not problems, report(problems, "explorer figure problems")


def test_site_solutions_stay_folded(site_pages):
    """Every cell tagged `solution` shows neither its code nor its output until clicked."""
    problems = [f"{name}: solution {k}: {shown}" for name, p in site_pages.items()
                if name not in SHOWS_SOLUTION_OUTPUT
                for k, visible in enumerate(p["solutions"]) for shown in visible]
    assert not problems, report(problems, "solution code/output visible without a click")


def test_site_chrome(site_pages, browser, site_html):
    """The book's favicon and logo on every page, one search control, titles that name the page."""
    problems, titles = [], {}
    for name, p in site_pages.items():
        if not any(f.endswith("_static/favicon.png") for f in p["favicons"]):
            problems.append(f"{name}: no favicon link (got {p['favicons']})")
        if not any(src.endswith("_static/logo.svg") for src in p["logos"]):
            problems.append(f"{name}: the logo is not shown")
        if p["search"] != 1:
            problems.append(f"{name}: {p['search']} search controls shown, not 1")
        head = p["title"].split(" \u2014 ")[0].strip()
        titles.setdefault(head, []).append(name)
        number = re.match(r"notebooks/00_(0[1-9]|1[0-4]|35)_", name)
        if number and not head.startswith(f"0.{int(number.group(1))} "):
            problems.append(f"{name}: title {p['title']!r} does not start with its section number")
    problems += [f"pages {names} share the title {head!r}" for head, names in titles.items()
                 if len(names) > 1 or not head]
    with serve(site_html) as base, new_page(browser, width=390, height=844) as page:
        errors = watch_console(page)
        page.goto(base + f"{NOTEBOOK[:-6]}.html", wait_until="load")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTIFACTS / "site-phone-390.png"))
        shown = page.evaluate(PAGE_JS)["search"]
        if shown != 1:
            problems.append(f"at 390 px: {shown} search controls shown, not 1")
        problems += [f"at 390 px: {m} [{u}]" for m, u in errors if not known_error(m, u)]
    assert not problems, report(problems, "problems with the site's chrome")


def test_site_makes_no_request_off_the_machine(site_pages):
    """Offline: every script, style, font and image comes from the site itself (MathJax too)."""
    problems = [f"{name}: {url[:100]}" for name, p in site_pages.items() for url in p["external"]]
    assert not problems, report(problems, "requests that leave the machine")


def test_site_figures_are_numbered_captioned_and_sharp(site_pages):
    """Every figure has a numbered caption, alt text that describes it (not a file name), and
    is SVG or has at least twice the pixels it is displayed at (sharp on high-DPI screens)."""
    problems = []
    for name, p in site_pages.items():
        for f in p["figures"]:
            where = f"{name}: {f['src']}"
            if not f["number"].startswith("Fig") or len(f["caption"]) < 20:
                problems.append(f"{where}: caption {f['caption'][:60]!r}")
            alt = f["alt"].strip()
            if len(alt) < 25 or re.search(r"\.(png|svg|jpe?g)$|^[\w./-]+$|_images/", alt):
                problems.append(f"{where}: alt text {alt[:60]!r} does not describe the figure")
            if f["shown"] and not f["svg"] and f["ratio"] < 1.99:
                problems.append(f"{where}: {f['ratio']:.2f} pixels per displayed pixel, not 2")
            if f["shown"] and abs(f["aspect"] - 1) > 0.02:
                problems.append(f"{where}: squashed, aspect {f['aspect']:.2f} of its own")
    assert not problems, report(problems, "figures without a number, caption or alt, or blurry")


def test_site_equations_are_typeset(site_pages):
    """MathJax (served with the site) typesets every equation, and none fails to parse."""
    problems = []
    for name, p in site_pages.items():
        if p["mathSource"] and not p["math"]:
            problems.append(f"{name}: {p['mathSource']} equations, none typeset")
        problems += [f"{name}: MathJax error: {e[:80]}" for e in p["mathErrors"]]
    typeset = [n for n, p in site_pages.items() if p["math"]]
    assert len(typeset) >= 8, f"only {len(typeset)} pages show typeset maths: {typeset}"
    assert not problems, report(problems, "equation problems")


PHONE_FIGURES_JS = r"""() => [...document.querySelectorAll('.bd-article img')]
  .filter(i => i.getClientRects().length && i.closest('figure'))
  .map(i => { const r = i.getBoundingClientRect();
              return {src: (i.getAttribute('src') || '').slice(0, 60),
                      aspect: (r.width / Math.max(1, r.height)) /
                              (i.naturalWidth / Math.max(1, i.naturalHeight)),
                      right: r.right, page: document.documentElement.clientWidth}; })"""


def test_site_figures_keep_their_shape_on_a_phone(site_pages, browser, site_html):
    """At 390 px every figure scales down whole: not squashed, not wider than the screen."""
    problems = []
    with serve(site_html) as base, new_page(browser, width=390, height=844) as page:
        for name, p in site_pages.items():
            if not p["figures"]:
                continue
            page.goto(base + name, wait_until="load")
            for f in page.evaluate(PHONE_FIGURES_JS):
                if abs(f["aspect"] - 1) > 0.02 or f["right"] > f["page"] + 1:
                    problems.append(f"{name}: {f['src']}: aspect {f['aspect']:.2f}, "
                                    f"right edge {f['right']:.0f} of {f['page']} px")
    assert not problems, report(problems, "figures squashed or cut at 390 px")


# ---- explorers that move in the page (issue 19) -----------------------------------------------

LIVE_JS = r"""() => [...document.querySelectorAll('.mv-live')].map(r => {
  const svg = r.querySelector('.mv-figure svg');
  const fig = r.closest('figure');
  const cap = fig && [...fig.children].find(c => c.tagName === 'FIGCAPTION');
  const fallback = r.querySelector('.mv-fallback');
  return {kind: r.dataset.mvKind, hydrated: r.classList.contains('mv-hydrated'),
          readoutOnly: r.dataset.mvFigure === 'none',
          readout: (r.querySelector('.mv-readout') || {}).textContent || '',
          controls: [...r.querySelectorAll('.mv-control')].map(c => {
            const input = c.querySelector('select, input');
            return {name: c.dataset.name, tag: input.tagName, type: input.type,
                    label: (c.querySelector('label') || {}).textContent || '',
                    options: input.tagName === 'SELECT' ? input.options.length : 0}; }),
          caption: cap ? cap.textContent.trim() : '',
          alt: svg ? svg.getAttribute('aria-label') || '' : '',
          fallbackShown: Boolean(fallback && fallback.getClientRects().length),
          right: svg ? svg.getBoundingClientRect().right : 0,
          page: document.documentElement.clientWidth};
})"""
LIVE_STATE_JS = r"""(i) => {
  const r = document.querySelectorAll('.mv-live')[i];
  const svg = r.querySelector('.mv-figure svg');
  return {figure: svg.innerHTML, alt: svg.getAttribute('aria-label'),
          readout: r.querySelector('.mv-readout').textContent, error: r.dataset.mvError || ''};
}"""


def live_pages(site_html: Path) -> list[str]:
    return [name for name in site_page_names(site_html)
            if "mv-live" in (site_html / name).read_text(errors="ignore")]


def move(page, explorer: int, control: dict, step: int) -> str:
    """Move one control the way a reader does (keyboard for sliders and checkboxes); say how."""
    locator = page.locator(".mv-live").nth(explorer).locator(
        f".mv-control[data-name='{control['name']}'] select, "
        f".mv-control[data-name='{control['name']}'] input")
    if control["tag"] == "SELECT":  # the next option after the one shown: always a change
        index = (locator.evaluate("e => e.selectedIndex") + 1) % control["options"]
        locator.select_option(index=index)
        return f"option {index}"
    locator.focus()
    if control["type"] == "checkbox":
        key = "Space"
    else:  # to one end, to the other end, one step back inside, then a step button
        at_max = locator.evaluate("e => Number(e.value) >= Number(e.max)")
        if step % 4 == 3:  # the − / + buttons beside a slider (exact steps on a phone)
            what = "decrease" if at_max else "increase"
            page.locator(".mv-live").nth(explorer).get_by_role(
                "button", name=f"{what} {control['label']}", exact=True).click()
            return f"{what} button"
        if step % 4 < 2:
            key = "Home" if at_max else "End"
        else:
            key = "ArrowLeft" if at_max else "ArrowRight"
    page.keyboard.press(key)
    return key


def test_site_explorers_move_in_the_page(browser, site_html):
    """Every explorer of the site is drawn by the page's own script, inside a numbered figure
    with alt text; moving each of its controls (a dropdown to other options, a slider with
    End / Home / an arrow key and its − / + buttons, a checkbox with Space) changes the figure
    or the readout, and no move raises an error or shows a traceback."""
    pages = live_pages(site_html)
    assert len(pages) >= 6, f"pages with a live explorer: {pages}"
    problems, kinds = [], set()
    with serve(site_html) as base, new_page(browser, width=SITE_WIDTH) as page:
        errors = watch_console(page)
        for name in pages:
            page.goto(base + name, wait_until="load")
            page.wait_for_load_state("networkidle")
            for i, e in enumerate(page.evaluate(LIVE_JS)):
                kinds.add(e["kind"])
                where = f"{name}: {e['kind']}"
                if not e["hydrated"] or e["fallbackShown"]:
                    problems.append(f"{where}: not drawn by the page (the build's picture shows)")
                    continue
                described = len(e["readout"]) > 20 if e["readoutOnly"] else len(e["alt"]) >= 40
                if not re.match(r"Fig\. [\d.]+", e["caption"]) or not described:
                    problems.append(f"{where}: caption {e['caption'][:40]!r}, alt {e['alt'][:40]!r}")
                for control in e["controls"]:
                    moves = {"SELECT": 3}.get(control["tag"], 4 if control["type"] == "range"
                                               else 2)
                    for step in range(min(moves, max(control["options"] - 1, moves))):
                        before = page.evaluate(LIVE_STATE_JS, i)
                        how = move(page, i, control, step)
                        after = page.evaluate(LIVE_STATE_JS, i)
                        label = f"{where}: {control['label']} ({how})"
                        if after["error"] == "bug" or "Traceback" in after["readout"]:
                            problems.append(f"{label}: error {after['readout'][:80]}")
                        elif after == before:
                            problems.append(f"{label}: neither figure nor readout changed")
        problems += [f"console: {m} [{u}]" for m, u in errors if not known_error(m, u)]
    assert {"roofline", "prefill_decode", "kv_growth", "littles_law", "attention",
            "sampling"} <= kinds, kinds
    assert not problems, report(problems, "explorer problems on the site")


def test_site_explorers_fit_a_phone(browser, site_html):
    """At 390 px each explorer's figure is redrawn for the column (not shrunk), inside it."""
    problems = []
    with serve(site_html) as base, new_page(browser, width=390, height=844) as page:
        for name in live_pages(site_html):
            page.goto(base + name, wait_until="load")
            page.wait_for_load_state("networkidle")
            for e in page.evaluate(LIVE_JS):
                if not e["hydrated"] or e["right"] > e["page"] + 1:
                    problems.append(f"{name}: {e['kind']}: right edge {e['right']:.0f} of "
                                    f"{e['page']} px (hydrated: {e['hydrated']})")
    assert not problems, report(problems, "explorers wider than a phone")
