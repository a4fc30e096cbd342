"""Shared pytest fixtures for the book pipeline.

The site is built once per test session (``built_book``) and used by both the build test and
the browser test, so the notebooks are executed by Sphinx only once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent


def venv_tool(name: str) -> str:
    """Path of a console script installed next to this Python (falls back to PATH)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name!r} is not installed: pip install -r requirements.txt -e '.[test]'")
    return found


def kernel_env() -> dict[str, str]:
    """Environment for processes that start kernels: keep ipykernel's inline figures.

    ipykernel only installs its inline matplotlib backend when MPLBACKEND is unset; a value
    such as "Agg" inherited from a CI shell would silently drop every figure from the book.
    """
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def _toc_entries(entries) -> list[str]:
    files = []
    for entry in entries or []:
        if "file" in entry:
            files.append(entry["file"])
        for key in ("parts", "chapters", "sections"):
            files.extend(_toc_entries(entry.get(key)))
    return files


@pytest.fixture(scope="session")
def toc_files() -> list[str]:
    """Every file _toc.yml lists (root first, in reading order, without extensions)."""
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"]] + _toc_entries(toc.get("parts")) + _toc_entries(toc.get("chapters"))


@pytest.fixture(scope="session")
def tool():
    """``tool("nbstripout")`` -> path of that console script in this environment."""
    return venv_tool


@dataclass
class BookBuild:
    returncode: int
    log: str
    html_dir: Path
    seconds: float


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> BookBuild:
    """Build the site exactly as README says, into a temporary folder."""
    out = tmp_path_factory.mktemp("book")
    cmd = [venv_tool("jupyter-book"), "build", "-W", "-n", "--keep-going",
           "--path-output", str(out), str(REPO)]
    env = kernel_env()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=900)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (out / "build.log").write_text(log)
    # Per-notebook execution times, slowest first: where a slow or stalled build spent its time.
    times = sorted(((float(t), Path(nb).name) for nb, t in re.findall(
        r"(\S+\.ipynb): Executed notebook in ([\d.]+) seconds", log)), reverse=True)
    (out / "notebook-times.txt").write_text("".join(f"{t:8.2f} s  {nb}\n" for t, nb in times))
    slowest = ", ".join(f"{nb} {t:.1f} s" for t, nb in times[:3])
    print(f"\njupyter-book build: {seconds:.1f} s; slowest notebooks: {slowest} "
          f"(log: {out / 'build.log'})")
    return BookBuild(proc.returncode, log, out / "_build" / "html", seconds)


# ---- the site's explorers, evaluated in the real browser (tests/test_site_*.py) --------------
from mini_vllm import bench_site  # noqa: E402 - one Chromium recipe for every browser run

CHROMIUM = Path(bench_site.CHROMIUM)  # Debian's package (.ci/run installs it)
CHROMIUM_ARGS = bench_site.CHROMIUM_ARGS


@contextlib.contextmanager
def headless_chromium(what: str):
    """Debian's Chromium, headless, through playwright; skipped where either is missing (a
    failure in CI, where .ci/run installs both). ``what`` names the test for the message."""
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
            pytest.fail(f"{what} cannot be tested in CI: {reason}")
        pytest.skip(f"{what} skipped: {reason}")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def site_js():
    """``run(js_function_source, arg)``: call a JavaScript function in headless Chromium on a
    page that has loaded every script of book/_static/explorers (``MV``, ``MVCalc`` and each
    explorer's definition in ``MV.explorers``), and return its JSON result.

    The agreement tests (tests/test_site_*.py) compare what the site's own code computes with
    mini_vllm; Chromium runs the same files the built site serves.
    """
    import yaml

    scripts = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"][
        "html_js_files"]
    with headless_chromium("the site's JavaScript") as chromium:
        page = chromium.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content("<!doctype html><html><body></body></html>")
        for script in scripts:  # the order the site loads them in
            page.add_script_tag(content=(REPO / "book" / "_static" / script).read_text())
        assert not errors, f"the site's scripts fail to load: {errors}"

        def run(function_source: str, arg=None):
            return page.evaluate(function_source, arg)

        yield run


def assert_site_agrees(grid: list[dict], site: list[dict], python_row, close_keys,
                       equal_keys=(), same_message: bool = False,
                       rel_tol: float = 1e-9) -> tuple[list[tuple[dict, dict, dict]], int]:
    """Compare the page's results (``site``, one dict per setting of ``grid``) with
    ``python_row(setting)``: where Python raised (a dict with 'error') the page must have shown a
    message (userFacing; the same text if ``same_message``); elsewhere ``close_keys`` agree to
    ``rel_tol`` (inf == inf) and ``equal_keys`` exactly. Returns the agreeing (setting, page,
    python) triples, for checks of their own, and the number of error settings."""
    import math

    agreed, errors = [], 0
    for v, js in zip(grid, site, strict=True):
        py = python_row(v)
        if "error" in py:
            errors += 1
            assert js.get("userFacing"), (v, py, js)
            assert not same_message or js["error"] == py["error"], (v, py, js)
            continue
        assert "error" not in js, (v, js)
        for key in close_keys:
            a, b = js[key], py[key]
            assert a == b or math.isclose(a, b, rel_tol=rel_tol), (v, key, a, b)
        for key in equal_keys:
            assert js[key] == py[key], (v, key, js[key], py[key])
        agreed.append((v, js, py))
    return agreed, errors
