"""The bibliography: citations resolve, entries are cited and linked, sections cite.

Pages cite with the sphinxcontrib-bibtex roles ({cite:p}`key`, {cite:t}`key`); the
entries live in book/references.bib and are listed on book/references.md. A key missing
from the .bib file only warns at build time, and an entry nobody cites silently drops
off the page, so both directions are checked here, without building the book.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pybtex.database import parse_file

import bibstyle  # book/_ext (pyproject.toml: pythonpath)

REPO = Path(__file__).resolve().parents[1]
BIB = REPO / "book" / "references.bib"
CITE_RE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
ARXIV_RE = re.compile(r"^\d{4}\.\d{4,5}$")
# Chapter sections 0.1-0.14 must each cite at least one entry. A section with nothing
# to cite would be listed here with the reason; none is at present.
SECTIONS = sorted((REPO / "notebooks").glob("00_0[1-9]_*.ipynb")) + sorted(
    (REPO / "notebooks").glob("00_1[0-4]_*.ipynb"))
SECTIONS_WITHOUT_CITATIONS: dict[str, str] = {}


def markdown_of(path: Path) -> str:
    """The markdown of a page: a .md file, or a notebook's markdown cells."""
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells
                     if c["cell_type"] == "markdown")


def cited_keys(path: Path) -> set[str]:
    """Keys of every {cite...}`a,b` role on a page."""
    return {key.strip() for body in CITE_RE.findall(markdown_of(path))
            for key in re.split(r"[,;]", body) if key.strip()}


PAGES = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted(
    (REPO / "book").glob("*.md"))
ENTRIES = parse_file(str(BIB), bib_format="bibtex").entries
ALL_CITED = {key: [p.name for p in PAGES if key in cited_keys(p)]
             for key in set().union(*(cited_keys(p) for p in PAGES))}


def test_config_points_at_the_bib_file_and_the_page_is_in_the_toc():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    toc = (REPO / "_toc.yml").read_text()
    assert "file: book/references" in toc
    assert "```{bibliography}" in (REPO / "book" / "references.md").read_text()


def test_every_cited_key_is_in_the_bib_file():
    missing = {key: pages for key, pages in ALL_CITED.items() if key not in ENTRIES}
    assert not missing, f"cited but not in {BIB.name}: {missing}"


def test_every_bib_entry_is_cited_somewhere():
    uncited = sorted(set(ENTRIES) - set(ALL_CITED))
    assert not uncited, f"in {BIB.name} but cited by no page: {uncited}"


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_every_entry_has_a_link(key):
    fields = ENTRIES[key].fields
    assert fields.get("url") or fields.get("doi"), f"{key}: no url or doi"
    if "url" in fields:
        assert fields["url"].startswith("https://"), f"{key}: url is not https"
    if "eprint" in fields:
        assert ARXIV_RE.match(fields["eprint"]), f"{key}: eprint {fields['eprint']!r}"
    if "doi" in fields:
        assert fields["doi"].startswith("10."), f"{key}: doi {fields['doi']!r}"


@pytest.mark.parametrize("key", sorted(k for k in ENTRIES if "github.com" in
                                       ENTRIES[k].fields.get("url", "")))
def test_source_files_are_pinned_to_a_commit(key):
    """Source files are cited at a fixed commit: the link shows what was read."""
    url = ENTRIES[key].fields["url"]
    assert re.search(r"/blob/[0-9a-f]{40}/", url), f"{key}: {url} is not pinned"


def test_the_page_uses_the_book_style():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["bibstyle"] == "book/_ext"
    page = (REPO / "book" / "references.md").read_text()
    assert f":style: {bibstyle.STYLE_NAME}" in page


def test_source_files_link_their_path_and_commit():
    """The link text names file and commit (the theme shortens bare GitHub URLs)."""
    from pybtex.plugin import find_plugin
    bibstyle.setup(None)
    style = find_plugin("pybtex.style.formatting", bibstyle.STYLE_NAME)()
    entries = {e.key: e.text for e in style.format_entries(ENTRIES.values())}
    sources = [k for k, e in ENTRIES.items()
               if bibstyle.SOURCE_URL.match(e.fields.get("url", ""))]
    assert len(sources) >= 8
    for key in sources:
        url = ENTRIES[key].fields["url"]
        path = ENTRIES[key].fields["title"].strip("{}").replace("\\_", "_")
        sha = re.search(r"/blob/([0-9a-f]{40})/", url).group(1)
        assert url.endswith("/" + path), key
        html = entries[key].render_as("html")
        link = re.search(r'<a href="([^"]+)">(.*?)</a>', html)
        assert link and link.group(1) == url, key
        text = re.sub(r"<[^>]+>", "", link.group(2))
        assert text == f"{path} at commit {sha[:8]}", key
        assert "URL:" not in html, key
    plain = entries["vaswani2017attention"].render_as("text")
    assert "URL: https://arxiv.org/abs/1706.03762" in plain  # other entries: as "plain"
    with pytest.raises(ValueError, match="url must be"):
        bibstyle.short_commit("https://github.com/vllm-project/vllm/blob/main/setup.py")


@pytest.mark.parametrize("path", SECTIONS, ids=[p.name for p in SECTIONS])
def test_every_section_cites_something(path):
    if path.name in SECTIONS_WITHOUT_CITATIONS:
        pytest.skip(SECTIONS_WITHOUT_CITATIONS[path.name])
    assert cited_keys(path), f"{path.name} cites no entry of {BIB.name}"


def test_sections_are_found():
    assert len(SECTIONS) == 14
