"""Number figures by section, as textbooks do: the second figure of "0.10 Prefill vs decode" is
"Fig. 0.10.2", not "Fig. 17" counted across the whole book.

Sphinx numbers figures across the book unless the table of contents is numbered, and ours is
not: each page's title carries its own section number ("0.10 ..."). After Sphinx has numbered the
figures (its ``TocTreeCollector`` on ``env-get-updated``), this renumbers each page's figures
(and numbered equations) 1, 2, 3, ... in page order, prefixed by the section number its title
starts with. A page whose title has no section number (the mini-build, the practice pages)
numbers its own: "Fig. 1", "Fig. 2".

References:
    Sphinx ``numfig``: https://www.sphinx-doc.org/en/master/usage/configuration.html#confval-numfig
    Sphinx events (``env-get-updated``):
        https://www.sphinx-doc.org/en/master/extdev/event_callbacks.html
"""

from __future__ import annotations

import re

SECTION_RE = re.compile(r"^(\d+)\.(\d+)\s")  # "0.10 Prefill vs decode" -> (0, 10)


def section_number(title: str) -> tuple[int, ...] | None:
    """(0, 10) for a page titled "0.10 ...", None for a page without a section number."""
    match = SECTION_RE.match(title)
    return (int(match.group(1)), int(match.group(2))) if match else None


def renumber(fignumbers: dict, section: tuple[int, ...]) -> dict:
    """One page's {figtype: {id: number}} with its figures numbered section + (1, 2, ...) in the
    order Sphinx numbered them (page order)."""
    return {figtype: {fid: (*section, k) for k, (fid, _) in
                      enumerate(sorted(numbers.items(), key=lambda item: item[1]), start=1)}
            for figtype, numbers in fignumbers.items()}


def renumber_by_section(app, env) -> list[str]:
    """``env-get-updated`` handler: rewrite env.toc_fignumbers; return the pages it changed."""
    changed = []
    for docname, fignumbers in env.toc_fignumbers.items():
        title = env.titles.get(docname)
        section = (section_number(title.astext()) if title is not None else None) or ()
        numbered = renumber(fignumbers, section)
        if numbered != fignumbers:
            env.toc_fignumbers[docname] = numbered
            changed.append(docname)
    return changed


def setup(app) -> dict:
    """Sphinx entry point (listed in ``_config.yml``'s extensions)."""
    app.connect("env-get-updated", renumber_by_section, priority=900)  # after Sphinx's own
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
