"""The deep-dive map (notebooks/00_20_deep_dive_map.ipynb) links production code at fixed commits.

Every GitHub link on the page opens a file at a 40-hex commit (a link to a branch breaks when the
project moves the file), every file of the map is linked, a file that book/references.bib cites
is linked at the bibliography's commit, and the table is built by a cell whose code the site
does not show. The page's code cells run here without a kernel, up to the table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "notebooks" / "00_20_deep_dive_map.ipynb"
BIB = REPO / "book" / "references.bib"
GITHUB_LINK_RE = re.compile(r"https://github\.com/[^\s\"'<>)\]{}]+")
PINNED_LINK_RE = re.compile(r"^https://github\.com/(?P<repo>[\w.-]+/[\w.-]+)"
                            r"/blob/(?P<sha>[0-9a-f]{40})/(?P<path>[\w./-]+)$")


def _cells() -> list[dict]:
    return json.loads(PAGE.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _table_cell_index(cells: list[dict]) -> int:
    return next(i for i, c in enumerate(cells)
                if c["cell_type"] == "code" and "display(HTML(" in _source(c))


@pytest.fixture(scope="module")
def page() -> dict:
    """The table's HTML and the page's namespace, from running its code cells up to the table."""
    cells = _cells()
    shown: list = []
    namespace: dict = {"__name__": "deep_dive_map"}
    for cell in cells[:_table_cell_index(cells) + 1]:
        if cell["cell_type"] != "code" or "remove-cell" in cell["metadata"].get("tags", []):
            continue  # the Colab bootstrap
        exec(compile(_source(cell), str(PAGE), "exec"), namespace)
        namespace["display"] = shown.append  # collect what the page displays
    html = "".join(obj.data for obj in shown)
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    return {"html": html, "markdown": markdown, "ns": namespace}


def _links(page: dict) -> list[str]:
    return GITHUB_LINK_RE.findall(page["html"]) + GITHUB_LINK_RE.findall(page["markdown"])


def test_every_github_link_is_pinned_to_a_commit(page):
    links = _links(page)
    assert links, "the deep-dive map links no source file"
    unpinned = [link for link in links if not PINNED_LINK_RE.match(link)]
    assert not unpinned, f"links not pinned to a 40-hex commit: {unpinned}"


def test_every_file_of_the_map_is_linked_and_exists_in_its_repository(page):
    linked = {PINNED_LINK_RE.match(link)["path"] for link in _links(page)}
    assert linked == set(page["ns"]["PINNED"])
    for link in _links(page):
        repo, path = PINNED_LINK_RE.match(link)["repo"], PINNED_LINK_RE.match(link)["path"]
        prefix = {"vllm-project/vllm": "vllm/", "huggingface/transformers": "src/transformers/"}
        assert path.startswith(prefix[repo]), f"{path} is not a file of {repo}"


def test_a_file_the_bibliography_cites_is_linked_at_its_commit(page):
    cited = {m["path"]: m["sha"] for m in map(PINNED_LINK_RE.match,
                                                GITHUB_LINK_RE.findall(BIB.read_text()))
             if m is not None}
    assert cited, "book/references.bib cites no source file at a commit"
    for link in _links(page):
        m = PINNED_LINK_RE.match(link)
        if m["path"] in cited:
            assert m["sha"] == cited[m["path"]], f"{m['path']}: the bibliography cites " \
                f"commit {cited[m['path']][:8]}, the map links {m['sha'][:8]}"


def test_the_table_is_built_out_of_sight_and_without_css(page):
    cells = _cells()
    tags = set(cells[_table_cell_index(cells)]["metadata"].get("tags", []))
    assert tags & {"remove-input", "hide-input"}, "the site would show the table's code"
    html = page["html"]
    assert "<table" in html and "<style" not in html and "style=" not in html
    # Identifiers wrap only after a path or module separator, never inside a name.
    assert re.search(r"<wbr>", html)
    assert all(html[m.start() - 1] in "/." for m in re.finditer("<wbr>", html))
