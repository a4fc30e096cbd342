"""The practice and reference pages keep their promises: every exercise has room for the
learner's answer and a hidden worked answer, every erratum is checked by code, and the glossary
is alphabetical with every term linked to a section of the book.
"""

from __future__ import annotations

import json
import re
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
GLOSSARY = REPO / "book" / "glossary.md"
BULLET_RE = re.compile(r"^- \*\*(?P<term>.+?)\*\* — (?P<rest>.+)$")
LINK_RE = re.compile(r"\]\((\.\./notebooks/[^)]+\.ipynb)\)")
SELF_CHECK_RE = re.compile(r"^\s*(assert\b|check_close\(|check_equal\()", re.MULTILINE)


def cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))




# ---- exercises -----------------------------------------------------------------------------
def exercises() -> list[tuple[str, list[dict]]]:
    """(heading, the cells up to the next heading) for each '### X1. ...' exercise."""
    cs, found = cells("00_30_exercises.ipynb"), []
    starts = [i for i, c in enumerate(cs)
              if c["cell_type"] == "markdown" and re.match(r"### [WCBD]\d\. ", text(c))]
    for a, b in zip(starts, starts[1:] + [len(cs)]):
        found.append((text(cs[a]).splitlines()[0], cs[a + 1:b]))
    return found


def test_every_syllabus_exercise_is_there():
    # 3 warm-up, 3 core, 3 build, 3 design items, in that order.
    heads = [h.split(".")[0].removeprefix("### ") for h, _ in exercises()]
    assert heads == ["W1", "W2", "W3", "C1", "C2", "C3", "B1", "B2", "B3", "D1", "D2", "D3"]


def test_each_exercise_has_space_and_a_hidden_checked_answer():
    for heading, body in exercises():
        space = body[0]
        assert "Your answer" in text(space) or "Your turn" in text(space), heading
        answers = [c for c in body if "answer" in tags(c)]
        assert answers and all("{admonition} Worked answer" in text(c) and ":class: dropdown" in text(c)
                               for c in answers), heading
        solutions = [c for c in body if "solution" in tags(c)]
        assert solutions, f"{heading}: no solution cell"
        assert all({"hide-input", "solution"} <= tags(c) for c in solutions), heading
        assert any(SELF_CHECK_RE.search(text(c)) for c in solutions), f"{heading}: answer not asserted"


# ---- errata and cheatsheet -----------------------------------------------------------------
def test_every_erratum_is_checked_by_the_cell_under_it():
    cs = cells("00_34_errata.ipynb")
    entries = [i for i, c in enumerate(cs) if c["cell_type"] == "markdown" and re.match(r"### \d+\. ", text(c))]
    assert len(entries) >= 16
    for i in entries:
        assert "**The claim.**" in text(cs[i]) and "**Why it differs.**" in text(cs[i])
        assert cs[i + 1]["cell_type"] == "code" and SELF_CHECK_RE.search(text(cs[i + 1])), text(cs[i])[:60]


def test_cheatsheet_tables_come_from_the_catalogs():
    code = "\n".join(text(c) for c in cells("00_33_cheatsheet.ipynb") if c["cell_type"] == "code")
    assert "list_models()" in code and "list_gpus()" in code


# ---- glossary ------------------------------------------------------------------------------
def glossary_entries() -> list[tuple[str, str]]:
    lines = GLOSSARY.read_text(encoding="utf-8").splitlines()
    return [(m["term"], m["rest"]) for m in map(BULLET_RE.match, lines) if m]


def test_glossary_is_alphabetical_without_duplicates():
    keys = [re.sub(r"^[^0-9a-z]+", "", term.replace("`", "").lower()) for term, _ in glossary_entries()]
    assert len(keys) >= 50
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_every_glossary_term_links_to_a_page_of_the_book(toc_files):
    listed = set(toc_files)
    for term, rest in glossary_entries():
        targets = LINK_RE.findall(rest)
        assert targets, f"glossary term {term!r} links to no section"
        for target in targets:
            page = "notebooks/" + Path(target).stem
            assert page in listed, f"glossary term {term!r} links to {target}, which _toc.yml does not list"
