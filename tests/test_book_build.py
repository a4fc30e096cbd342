"""The site builds with warnings as errors, and its key pages, figures and buttons are there.

The build itself (``jupyter-book build -W -n --keep-going``, every notebook executed) runs once
per session in the ``built_book`` fixture of the root conftest.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FIRST = "notebooks/00_01_the_whole_loop"




def page(built_book, name: str) -> str:
    path = built_book.html_dir / f"{name}.html"
    assert path.exists(), f"{path} was not built"
    return path.read_text(encoding="utf-8")


def test_build_succeeds_with_warnings_as_errors(built_book):
    log = re.sub(r"\x1b\[[0-9;]*m", "", built_book.log)  # drop terminal colours
    problems = [line for line in log.splitlines()
                if re.search(r"WARNING|ERROR|Traceback|Exception", line)
                and "Kernel is running over TCP" not in line]
    assert built_book.returncode == 0, (
        f"jupyter-book build -W -n --keep-going failed (exit {built_book.returncode}):\n"
        + "\n".join(problems[:40]) + "\n--- log tail ---\n" + log[-1500:])


def test_every_toc_entry_became_a_page(built_book, toc_files):
    missing = [f for f in toc_files if not (built_book.html_dir / f"{f}.html").exists()]
    assert not missing, f"no HTML page for: {missing}"
    assert (built_book.html_dir / "index.html").exists()


def test_notebook_figures_are_images_on_disk(built_book):
    html = page(built_book, FIRST)
    sources = re.findall(r'<img[^>]+src="([^"]+\.png)"', html)
    assert sources, f"{FIRST}.html has no PNG figure"
    for src in sources:
        assert (built_book.html_dir / FIRST).parent.joinpath(src).resolve().exists(), src


def test_colab_bootstrap_is_removed_and_solutions_are_folded(built_book):
    html = page(built_book, FIRST)
    assert "google.colab" not in html, "the remove-cell Colab bootstrap leaked into the page"
    assert "tag_hide-input" in html, "the exercise solution is not folded (hide-input)"


def test_launch_and_repository_buttons(built_book):
    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    slug = url.removeprefix("https://github.com/")
    html = page(built_book, FIRST)
    assert f"mybinder.org/v2/gh/{slug}" in html, "no Binder launch button"
    assert f"colab.research.google.com/github/{slug}" in html, "no Colab launch button"
    assert url in html, "no repository button"


def test_widget_pages_say_where_sliders_move(built_book):
    html = page(built_book, FIRST)
    assert "JupyterLab, Binder or Colab" in html


@pytest.mark.parametrize("name", ["book/intro", "book/how_to_use"])
def test_prose_pages(built_book, name):
    assert "<h1>" in page(built_book, name)


MATHJAX = REPO / "book" / "_static" / "mathjax" / "tex-svg-full.js"
# sha256 of package/es5/tex-svg-full.js in the npm tarball mathjax@3.2.2 (its README says how).
MATHJAX_SHA256 = "a4354ff94fd868aea0cc6eaaa79a57fda0588646fc46ee3700a349ee0a11cbe6"


def test_mathjax_is_the_pinned_npm_file():
    assert hashlib.sha256(MATHJAX.read_bytes()).hexdigest() == MATHJAX_SHA256
    config = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]
    assert config["mathjax_path"] == MATHJAX.relative_to(REPO / "book" / "_static").as_posix()


def test_every_page_loads_mathjax_from_the_site(built_book):
    """Equations render offline: each page's MathJax script is the copy in _static."""
    pages = [p for p in built_book.html_dir.rglob("*.html")
             if not p.relative_to(built_book.html_dir).as_posix().startswith("_")
             and p.name != "index.html"]
    assert pages
    for path in pages:
        html = path.read_text(encoding="utf-8")
        assert "cdn.jsdelivr.net" not in html, f"{path.name} loads from a CDN"
        if "math notranslate" in html:
            assert re.search(r'<script[^>]+src="[./]*_static/mathjax/tex-svg-full\.js[?"]', html), (
                f"{path.name} has equations but not the site's MathJax")
    assert (built_book.html_dir / "_static" / "mathjax" / "tex-svg-full.js").exists()


ADDED_ASSETS_BUDGET = 8_000_000  # bytes (8 MB): what the moving explorers may add to the site


def test_site_explorers_fit_the_asset_budget(built_book):
    """The explorers' scripts plus every spec their pages embed stay within 8 MB (MathJax aside),
    and every page with an explorer carries a spec for the page's script to draw from."""
    html = built_book.html_dir
    scripts = sorted((html / "_static" / "explorers").glob("*.js"))
    assert {p.name for p in scripts} >= {"mv_core.js", "mv_calc.js", "roofline.js",
                                         "kv_growth.js", "littles_law.js", "attention.js",
                                         "sampling.js", "prefill_decode.js"}
    spec_bytes = 0
    for path in html.rglob("*.html"):
        for spec in re.findall(r"<script type=['\"]application/json['\"] class=['\"]mv-spec['\"]>"
                               r"(.*?)</script>", path.read_text()):
            json.loads(spec.replace("<\\/", "</"))  # each spec is valid JSON
            spec_bytes += len(spec.encode())
    total = spec_bytes + sum(p.stat().st_size for p in scripts)
    assert spec_bytes > 0 and total <= ADDED_ASSETS_BUDGET, (spec_bytes, total)
