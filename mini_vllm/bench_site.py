"""How fast the site's explorers redraw: every control of every explorer on a built site, moved
in headless Chromium, each change timed from the input event to the end of the redraw.

    python -m mini_vllm.bench_site _build/html          # after jupyter-book build .
    python -m mini_vllm.bench_site _build/html --json   # machine-readable

A change's time is the synchronous work the page does for it (the explorer's compute, its SVG
rebuilt, the readout) plus the layout it forces; the issue's budget is 100 ms per change on the
CI machine. Needs Debian's chromium and playwright (the test extra), like tests/test_browser.py.

References:
    Playwright for Python: https://playwright.dev/python/docs/api/class-page#page-evaluate
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import statistics
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Headless Chromium with no background traffic (the tests use the same list, via conftest.py).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

# In the page: move every control of explorer `index` through its values, timing each change.
# A select visits each option, a slider each step up to 24 (spread evenly), a checkbox both.
MOVE_ALL_JS = r"""(index) => {
  const root = document.querySelectorAll('.mv-live.mv-hydrated')[index];
  const times = [];
  const settle = () => root.querySelector('svg').getBBox() && document.body.offsetHeight;
  for (const control of root.querySelectorAll('.mv-control')) {
    const input = control.querySelector('select, input');
    const start = input.type === 'checkbox' ? input.checked : input.value;
    let values;
    if (input.tagName === 'SELECT') values = [...input.options].map(o => o.value);
    else if (input.type === 'checkbox') values = [!input.checked, input.checked];
    else {
      const lo = Number(input.min), hi = Number(input.max), step = Number(input.step) || 1;
      const n = Math.round((hi - lo) / step), k = Math.min(n, 24);
      values = [...Array(k + 1).keys()].map(i => String(lo + Math.round(i * n / k) * step));
    }
    values.push(start);
    for (const value of values) {
      const t0 = performance.now();
      if (input.type === 'checkbox') { input.checked = value; input.dispatchEvent(new Event('change')); }
      else { input.value = value; input.dispatchEvent(new Event(input.tagName === 'SELECT' ? 'change' : 'input')); }
      settle();
      times.push({control: control.dataset.name, ms: performance.now() - t0});
    }
  }
  return {kind: root.dataset.mvKind, times};
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on a free port of 127.0.0.1 while the block runs; yields its URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def pages_with_explorers(html_dir: Path) -> list[str]:
    """The built pages that hold a live explorer (an element of class mv-live)."""
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if "_static" not in p.parts and "mv-live" in p.read_text(errors="ignore"))


def measure(html_dir: Path, width: int = 1280) -> list[dict]:
    """[{page, kind, changes, median_ms, max_ms}] for every explorer of the built site."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir)
    if not (html_dir / "index.html").exists():
        raise ValueError(f"html_dir must hold a built site (index.html); got {html_dir}")
    rows = []
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        for name in pages_with_explorers(html_dir):
            page.goto(base + name, wait_until="load")
            page.wait_for_selector(".mv-live.mv-hydrated")
            for index in range(page.locator(".mv-live.mv-hydrated").count()):
                result = page.evaluate(MOVE_ALL_JS, index)
                ms = [t["ms"] for t in result["times"]]
                rows.append({"page": name, "kind": result["kind"], "changes": len(ms),
                             "median_ms": statistics.median(ms), "max_ms": max(ms)})
        browser.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command line: print a table (or JSON) of redraw times per explorer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in px")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args(argv)
    rows = measure(args.html_dir, args.width)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'page':<44} {'explorer':<16} {'changes':>7} {'median ms':>10} {'max ms':>8}")
    for r in rows:
        print(f"{r['page']:<44} {r['kind']:<16} {r['changes']:>7} {r['median_ms']:>10.1f} "
              f"{r['max_ms']:>8.1f}")


if __name__ == "__main__":
    main()
