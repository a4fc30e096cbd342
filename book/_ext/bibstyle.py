"""The bibliography style of book/references.md: pybtex's "plain", with linked source files.

A source file cited at a commit (a GitHub /blob/<sha>/ url) reads
"vLLM. vllm/v1/request.py at commit 001cabc1. vllm-project/vllm on GitHub (vLLM V1).", the
middle sentence being the link. Plain would end with "URL: <url>", which the site's theme
shortens to "vllm-project/vllm": the file and the commit would vanish from the link text.
Every other entry is formatted exactly as by "plain".

References:
    sphinxcontrib-bibtex, custom formatting styles:
        https://sphinxcontrib-bibtex.readthedocs.io/en/latest/usage.html#custom-formatting-sorting-and-labelling
    pybtex templates: https://docs.pybtex.org/api/styles.html
"""

from __future__ import annotations

import re

from pybtex.plugin import register_plugin
from pybtex.style.formatting import toplevel
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.template import field, href, optional, sentence, words

STYLE_NAME = "book_plain"
# https://github.com/<owner>/<repo>/blob/<40-hex commit>/<path>
SOURCE_URL = re.compile(r"^https://github\.com/[^/]+/[^/]+/blob/([0-9a-f]{40})/")


def short_commit(url: str) -> str:
    """The first 8 hex digits of the commit a GitHub /blob/ url is pinned to."""
    match = SOURCE_URL.match(url)
    if match is None:
        raise ValueError(f"url must be a GitHub /blob/<40-hex commit>/ link; got {url!r}")
    return match.group(1)[:8]


class BookStyle(PlainStyle):
    """pybtex "plain"; @misc entries that are pinned GitHub files get a linked title."""

    default_sorting_style = "author_year_title"

    def get_misc_template(self, e):
        if not SOURCE_URL.match(e.fields.get("url", "")):
            return super().get_misc_template(e)
        url = field("url", raw=True)
        commit = field("url", raw=True, apply_func=short_commit)
        return toplevel[
            sentence[self.format_names("author")],
            sentence[href(url)[words[field("title"), "at commit", commit]]],
            sentence[optional[field("howpublished")], optional[field("note")]],
        ]


def setup(app) -> dict:
    """Register the style under STYLE_NAME (force: a rebuild in one process re-registers)."""
    register_plugin("pybtex.style.formatting", STYLE_NAME, BookStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
