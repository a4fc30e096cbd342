"""House rules every notebook must follow (see README "Contributing").

Names, table of contents in both directions, no stored outputs, an H1 title first, the Colab
bootstrap cell, at least one asserting self-check, hidden solutions, and a note beside every
widget saying where the sliders move.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NAME_RE = re.compile(r"^\d\d_\d\d_[a-z0-9_]+\.ipynb$")
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SELF_CHECK_RE = re.compile(r"^\s*(assert\b|check_close\(|check_equal\()", re.MULTILINE)
WIDGET_CALL_RE = re.compile(r"\b(explore_\w+|interact|interactive)\(")


def repository_url() -> str:
    return yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


ids = [p.name for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb files"


# ---- table of contents ---------------------------------------------------------------------

def test_toc_has_no_duplicates(toc_files):
    files = toc_files
    dupes = sorted({f for f in files if files.count(f) > 1})
    assert not dupes, f"listed more than once in _toc.yml: {dupes}"


def test_every_toc_entry_exists(toc_files):
    missing = [f for f in toc_files
               if not any((REPO / (f + ext)).exists() for ext in (".ipynb", ".md", ""))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc(toc_files):
    listed = set(toc_files)
    unlisted = [p.name for p in NOTEBOOKS if f"notebooks/{p.stem}" not in listed]
    assert not unlisted, f"notebooks missing from _toc.yml: {unlisted}"


def test_every_book_page_is_in_the_toc(toc_files):
    listed = set(toc_files)
    unlisted = [p.name for p in sorted((REPO / "book").glob("*.md"))
                if f"book/{p.stem}" not in listed]
    assert not unlisted, f"book pages missing from _toc.yml: {unlisted}"


# ---- per notebook --------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_name_pattern(path):
    assert NAME_RE.match(path.name), f"{path.name} must match {NAME_RE.pattern}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_stored_without_outputs(path):
    dirty = [i for i, c in enumerate(load(path)["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run nbstripout {path.name}"


@pytest.fixture(scope="module")
def nbstripout_would_change(tool) -> str:
    """One ``nbstripout --dry-run`` over every notebook (one process, not one per file)."""
    proc = subprocess.run([tool("nbstripout"), "--dry-run", *map(str, NOTEBOOKS)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_nbstripout_clean(path, nbstripout_would_change):
    assert f"would have stripped {path}" not in nbstripout_would_change, (
        f"{path.name} is not nbstripout-clean: run nbstripout {path.relative_to(REPO)}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_starts_with_h1_title(path):
    first = load(path)["cells"][0]
    assert first["cell_type"] == "markdown", f"{path.name}: first cell must be markdown"
    line = source(first).lstrip().splitlines()[0]
    assert re.match(r"^# \S", line), f"{path.name}: first line must be an H1 title, got {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_colab_bootstrap_cell(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    boot = code[0]
    assert "google.colab" in source(boot), f"{path.name}: first code cell must be the Colab bootstrap"
    assert "remove-cell" in tags(boot), f"{path.name}: Colab bootstrap must be tagged remove-cell"
    url = repository_url()
    assert url in source(boot), (
        f"{path.name}: Colab bootstrap must install from {url} (repository.url in _config.yml)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_has_an_asserting_self_check(path):
    code = [source(c) for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert any(SELF_CHECK_RE.search(s) for s in code), (
        f"{path.name}: needs at least one 'check yourself' cell that asserts "
        "(assert / check_close / check_equal), so nbval really tests it")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_solutions_are_hidden(path):
    bad = [i for i, c in enumerate(load(path)["cells"])
           if "solution" in tags(c) and not tags(c) & {"hide-input", "hide-cell", "remove-input"}]
    assert not bad, f"{path.name}: solution cells {bad} must be tagged hide-input"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_widgets_say_where_sliders_move(path):
    cells = load(path)["cells"]
    missing = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not WIDGET_CALL_RE.search(source(cell)):
            continue
        if "remove-cell" in tags(cell):
            continue
        before = " ".join(source(c) for c in cells[max(0, i - 3):i] if c["cell_type"] == "markdown")
        if not all(word in before for word in ("JupyterLab", "Binder", "Colab")):
            missing.append(i)
    assert not missing, (
        f"{path.name}: widget cells {missing} need a markdown note just before them saying the "
        "sliders move in JupyterLab, Binder or Colab (the static site cannot move them)")


CHAPTER_SECTIONS = [p for p in NOTEBOOKS if re.match(r"00_(0[1-9]|1[0-4])_", p.name)]


@pytest.mark.parametrize("path", CHAPTER_SECTIONS, ids=lambda p: p.name)
def test_every_chapter_section_links_to_the_practice_pages(path):
    text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "markdown")
    for page in ("00_30_exercises.ipynb", "00_31_quiz.ipynb", "../book/glossary.md"):
        assert page in text, f"{path.name} does not link to {page}"


TABLE_RULE_RE = re.compile(r"\|\s*:?-{3,}:?\s*\|")  # a Markdown table's |---|---:| row


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_markdown_tables_from_code_render_as_tables(path):
    """myst-nb reads a Markdown output as CommonMark, which has no tables: a cell that builds
    a table must ask for GFM in its metadata, or the site shows a paragraph of pipes."""
    bad = [i for i, c in enumerate(load(path)["cells"])
           if c["cell_type"] == "code" and "Markdown(" in source(c)
           and TABLE_RULE_RE.search(source(c))
           and c.get("metadata", {}).get("mystnb", {}).get("markdown_format") != "gfm"]
    assert not bad, (f"{path.name}: code cells {bad} display a Markdown table without "
                     f'"mystnb": {{"markdown_format": "gfm"}} in their metadata')


READER_PAGES = NOTEBOOKS + sorted((REPO / "book").glob("*.md")) + [REPO / "README.md"]


@pytest.mark.parametrize("path", READER_PAGES, ids=[p.name for p in READER_PAGES])
def test_no_page_refers_to_a_document_the_reader_does_not_have(path):
    """Readers never see the book's outline: a page quotes a rounded claim ("a common napkin
    version says ...") instead of citing "the syllabus"."""
    text = path.read_text(encoding="utf-8")
    hits = [m.start() for m in re.finditer(r"syllabus", text, flags=re.IGNORECASE)]
    assert not hits, f"{path.name}: mentions 'syllabus' {len(hits)} time(s)"


# The labs page shows what the reference solutions return on purpose: those numbers are the
# targets a learner's starter must reproduce (the solutions' code stays folded).
SHOWS_REFERENCE_OUTPUT = {"00_40_labs.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_solution_outputs_are_folded_too(path):
    """The output under a solution is the answer: it stays folded until the reader asks."""
    if path.name in SHOWS_REFERENCE_OUTPUT:
        pytest.skip("the labs page shows the reference results as targets to reproduce")
    bad = [i for i, c in enumerate(load(path)["cells"])
           if "solution" in tags(c) and not tags(c) & {"hide-output", "hide-cell", "remove-output"}]
    assert not bad, f"{path.name}: solution cells {bad} must also be tagged hide-output"


# ---- issue 17: code fits the column, numbers in the sentence, the site's own logo ----------------

CODE_WIDTH = 77  # characters of code the site's code column shows at 1280 px without scrolling
GLUE_RE = re.compile(r"\bglue\(|\{glue[:}]|\bimport glue\b")
POINTS_AT_OUTPUT_RE = re.compile(r"\bprinted\s+(?:\w+\s+)?(?:above|below)\b", re.IGNORECASE)
PROSE_FILES = NOTEBOOKS + sorted((REPO / "book").glob("*.md"))


def is_colab_bootstrap(cell: dict) -> bool:
    return (cell["cell_type"] == "code" and "google.colab" in source(cell)
            and "remove-cell" in tags(cell))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_code_lines_fit_the_site_column(path):
    """No code line scrolls sideways on the site: at most 77 characters (the Colab bootstrap
    cell is exempt, the site removes it)."""
    long = [f"cell {i}: {len(line)} chars: {line.strip()[:60]}"
            for i, c in enumerate(load(path)["cells"])
            if c["cell_type"] == "code" and not is_colab_bootstrap(c)
            for line in source(c).splitlines() if len(line) > CODE_WIDTH]
    assert not long, (f"{path.name}: {len(long)} code lines longer than {CODE_WIDTH} characters:\n"
                      + "\n".join(long[:20]))


@pytest.mark.parametrize("path", PROSE_FILES, ids=[p.name for p in PROSE_FILES])
def test_prose_numbers_use_eval_not_glue(path):
    """The book shows computed numbers with {eval} (rendered on the site and, through
    jupyterlab-myst, in JupyterLab); myst-nb's glue shows as a raw role in JupyterLab and Colab."""
    text = path.read_text(encoding="utf-8")
    hits = [m.group(0) for m in GLUE_RE.finditer(text)]
    assert not hits, f"{path.name}: glue left: {hits[:10]} (use {{eval}}`name`)"


@pytest.mark.parametrize("path", PROSE_FILES, ids=[p.name for p in PROSE_FILES])
def test_prose_never_says_printed_above_or_below(path):
    """A sentence gives its number; it does not send the reader hunting in an output."""
    if path.suffix == ".ipynb":
        text = "\n".join(source(c) for c in load(path)["cells"])
    else:
        text = path.read_text(encoding="utf-8")
    hits = [text[max(0, m.start() - 40):m.end() + 10].replace("\n", " ")
            for m in POINTS_AT_OUTPUT_RE.finditer(text)]
    assert not hits, f"{path.name}: {len(hits)} 'printed above/below': {hits[:5]}"


def test_logo_and_favicon_are_the_books_own():
    """book/_ext/book_logo.py draws them; the committed files are its drawing, and _config.yml
    links them (top-level logo, html.favicon)."""
    import io

    import numpy as np
    from PIL import Image

    import book_logo  # book/_ext (pyproject.toml: pythonpath)

    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["logo"] == "book/_static/logo.svg"
    assert config["html"]["favicon"] == "book/_static/favicon.png"
    logo, favicon = REPO / config["logo"], REPO / config["html"]["favicon"]
    assert logo.read_text(encoding="utf-8") == book_logo.logo_svg(), (
        "logo.svg differs from its drawing: run .venv/bin/python book/_ext/book_logo.py")
    committed = np.asarray(Image.open(favicon).convert("RGBA"), dtype=np.int16)
    drawn = np.asarray(Image.open(io.BytesIO(book_logo.favicon_png())).convert("RGBA"),
                       dtype=np.int16)
    assert committed.shape == drawn.shape == (book_logo.SIZE, book_logo.SIZE, 4)
    assert np.abs(committed - drawn).mean() < 2, (  # antialiasing may differ across versions
        "favicon.png differs from its drawing: run .venv/bin/python book/_ext/book_logo.py")


# ---- issue 18: figures numbered, captioned, named; referred to by name -------------------------

FIGURE_CALL_RE = re.compile(r"^(?:_ = )?(?:\w+\.)?(?:plot_\w+|draw_\w+|explore_\w+)\(", re.M)
FIG_REF_RE = re.compile(r"\{ref\}`[^`<]*<(fig-[a-z0-9-]+)>`")
POINTS_AT_FIGURE_RE = re.compile(r"\bthe (?:figure|plot|chart|diagram) (?:above|below)\b",
                                 re.IGNORECASE)


def figure_options(cell: dict) -> dict:
    return (cell.get("metadata", {}).get("mystnb") or {}).get("figure") or {}


def figure_cells() -> list[tuple[str, int, dict]]:
    return [(p.name, i, c) for p in NOTEBOOKS for i, c in enumerate(load(p)["cells"])
            if c["cell_type"] == "code" and figure_options(c)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_figure_cell_is_captioned_and_named(path):
    """A cell that draws a figure carries mystnb.figure {caption, name}: the site numbers and
    captions it; a plain image also carries mystnb.image.alt (an explorer writes its own)."""
    problems = []
    for i, c in enumerate(load(path)["cells"]):
        if c["cell_type"] != "code" or not FIGURE_CALL_RE.search(source(c)):
            continue
        if "remove-cell" in tags(c) or "remove-output" in tags(c) or "solution" in tags(c):
            continue
        fig = figure_options(c)
        if len(fig.get("caption", "")) < 20 or not re.fullmatch(r"fig-[a-z0-9-]+",
                                                                 fig.get("name", "")):
            problems.append(f"cell {i}: caption/name {fig}")
        alt = ((c["metadata"].get("mystnb") or {}).get("image") or {}).get("alt", "")
        if "explore_" not in source(c) and len(alt) < 25:
            problems.append(f"cell {i}: alt text {alt!r}")
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_figure_names_are_unique_and_references_resolve():
    names = [figure_options(c)["name"] for _, _, c in figure_cells()]
    assert len(names) >= 30 and len(names) == len(set(names)), sorted(names)
    refs = {m.group(1) for p in NOTEBOOKS for c in load(p)["cells"] if c["cell_type"] == "markdown"
            for m in FIG_REF_RE.finditer(source(c))}
    assert refs and refs <= set(names), f"references to no figure: {sorted(refs - set(names))}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_prose_names_figures_it_does_not_point_at_them(path):
    """{ref}`the X figure <fig-x>` reads right on the site and in JupyterLab; {numref} shows a
    warning icon in JupyterLab (a code cell's figure has no number there); "the figure below"
    makes the reader hunt."""
    text = "\n".join(source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown")
    hits = re.findall(r"\{numref\}`[^`]*`", text) + POINTS_AT_FIGURE_RE.findall(text)
    assert not hits, f"{path.name}: {hits[:5]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_figures_are_drawn_at_twice_the_pixels(path):
    """A notebook that draws figures asks for 2x PNGs (sharp on high-DPI screens and projectors)."""
    cells = load(path)["cells"]
    if not any(c["cell_type"] == "code" and FIGURE_CALL_RE.search(source(c)) for c in cells):
        pytest.skip("no figures")
    assert any('InlineBackend.figure_formats = ["retina"]' in source(c) for c in cells), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_only_the_colab_bootstrap_is_removed_whole(path):
    """myst-nb's inline execution skips a `remove-cell` cell, so the {eval} names it defines would
    be missing on the site: a cell the reader need not see is tagged remove-input + remove-output
    (it runs, and shows nothing). The Colab bootstrap alone is removed whole."""
    bad = [i for i, c in enumerate(load(path)["cells"])
           if "remove-cell" in tags(c) and not is_colab_bootstrap(c)]
    assert not bad, f"{path.name}: cells {bad} are tagged remove-cell"


def test_equation_references_stay_on_their_page():
    """{eq} resolves on the site across pages, but in JupyterLab only within the notebook (a
    reference to another notebook's equation shows a warning icon there): link the section."""
    defined = {}
    for p in NOTEBOOKS:
        for c in load(p)["cells"]:
            for m in re.finditer(r"\$\$\s*\((eq-[a-z0-9-]+)\)", source(c)):
                defined[m.group(1)] = p.name
    assert len(defined) >= 40
    stray = [f"{p.name}: {m.group(1)} (defined in {defined.get(m.group(1))})" for p in NOTEBOOKS
             for c in load(p)["cells"] if c["cell_type"] == "markdown"
             for m in re.finditer(r"\{eq\}`([^`]+)`", source(c)) if defined.get(m.group(1)) != p.name]
    assert not stray, stray
