"""book/_ext/section_fignumbers.py: figures are numbered by section, "Fig. 0.10.2"."""

import re
from pathlib import Path

import yaml

import section_fignumbers  # book/_ext (pyproject.toml: pythonpath)

REPO = Path(__file__).resolve().parents[1]


def test_section_number_comes_from_the_title():
    assert section_fignumbers.section_number("0.10 Prefill vs decode") == (0, 10)
    assert section_fignumbers.section_number("0.6 Attention") == (0, 6)
    assert section_fignumbers.section_number("Glossary") is None
    assert section_fignumbers.section_number("10 things") is None


def test_renumber_keeps_page_order_and_restarts_at_one():
    sphinx_numbers = {"figure": {"fig-b": (17,), "fig-a": (16,), "fig-c": (18,)}}
    assert section_fignumbers.renumber(sphinx_numbers, (0, 10)) == {
        "figure": {"fig-a": (0, 10, 1), "fig-b": (0, 10, 2), "fig-c": (0, 10, 3)}}


class Title:
    def __init__(self, text):
        self.text = text

    def astext(self):
        return self.text


class Env:
    def __init__(self):
        self.titles = {"a": Title("0.9 The KV cache"), "g": Title("Glossary")}
        self.toc_fignumbers = {"a": {"figure": {"x": (12,), "y": (11,)}},
                               "g": {"figure": {"z": (40,)}}}


def test_handler_renumbers_each_page_and_reports_the_changed_ones():
    env = Env()
    assert section_fignumbers.renumber_by_section(None, env) == ["a", "g"]
    assert env.toc_fignumbers == {"a": {"figure": {"y": (0, 9, 1), "x": (0, 9, 2)}},
                                  "g": {"figure": {"z": (1,)}}}
    assert section_fignumbers.renumber_by_section(None, env) == []  # already numbered


def test_the_book_loads_it():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["section_fignumbers"] == "book/_ext"
    assert "section_fignumbers" in config["sphinx"]["config"]["extensions"]


def test_built_pages_number_figures_by_section(built_book):
    """On the site, each section's figures read Fig. <section>.1, .2, ... in page order; a page
    without a section number counts its own, Fig. 1, 2, ..."""
    pages = sorted((built_book.html_dir / "notebooks").glob("00_*.html"))
    seen = 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        numbers = re.findall(r'caption-number">Fig\. ([\d.]+)', html)
        title = re.search(r"<h1>(\d+\.\d+) ", html)
        prefix = f"{title.group(1)}." if title else ""
        expected = [f"{prefix}{k}" for k in range(1, len(numbers) + 1)]
        assert numbers == expected, f"{page.name}: {numbers}"
        seen += len(numbers)
    assert seen >= 30
