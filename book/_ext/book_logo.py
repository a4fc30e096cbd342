"""The book's logo and favicon, drawn by code: a roofline over a grid of tokens.

A white roofline (the bandwidth slope, then the compute ceiling) with the ridge point in
orange, over the tokens of a batch, on the book's blue; colours from mini_vllm.style
(Okabe-Ito). One geometry, two renderings: a hand-written SVG (the logo, sharp at any size)
and a 64 x 64 PNG drawn with matplotlib (the favicon, which every browser shows).

Regenerate after changing the drawing (tests/test_notebook_hygiene.py::test_logo_and_favicon_are_the_books_own checks the files match):
    .venv/bin/python book/_ext/book_logo.py
_config.yml links them: top-level ``logo: book/_static/logo.svg`` and
``html: favicon: book/_static/favicon.png``.
"""

from __future__ import annotations

import io
from pathlib import Path

from mini_vllm.style import OKABE_ITO

STATIC = Path(__file__).resolve().parents[1] / "_static"
SIZE = 64  # the drawing's units; the favicon is SIZE x SIZE pixels
BACKGROUND, RADIUS = OKABE_ITO["blue"], 14
ROOF = [(10, 52), (32, 22), (54, 22)]  # bandwidth slope up to the ridge, then the flat ceiling
ROOF_COLOUR, ROOF_WIDTH = "#FFFFFF", 5.5
RIDGE, RIDGE_RADIUS, RIDGE_COLOUR = (32, 22), 5.5, OKABE_ITO["orange"]
TOKEN_COLOUR, TOKEN, GAP = OKABE_ITO["sky_blue"], 6, 2.5
# A batch of tokens under the ceiling: three rows, right of the slope.
TOKENS = [(33 + c * (TOKEN + GAP), 31 + r * (TOKEN + GAP)) for r in range(3) for c in range(3)
          if not (r == 0 and c == 0)]
TITLE = "How an LLM actually runs"


def logo_svg() -> str:
    """The logo as an SVG document (text, deterministic)."""
    tokens = "".join(f'<rect x="{x:g}" y="{y:g}" width="{TOKEN}" height="{TOKEN}" rx="1.2"/>'
                     for x, y in TOKENS)
    roof = " ".join(f"{x:g},{y:g}" for x, y in ROOF)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" '
        f'width="{SIZE}" height="{SIZE}" role="img" aria-label="{TITLE} logo">\n'
        f"<title>{TITLE}</title>\n"
        f'<rect width="{SIZE}" height="{SIZE}" rx="{RADIUS}" fill="{BACKGROUND}"/>\n'
        f'<g fill="{TOKEN_COLOUR}">{tokens}</g>\n'
        f'<polyline points="{roof}" fill="none" stroke="{ROOF_COLOUR}" '
        f'stroke-width="{ROOF_WIDTH:g}" stroke-linecap="round" stroke-linejoin="round"/>\n'
        f'<circle cx="{RIDGE[0]:g}" cy="{RIDGE[1]:g}" r="{RIDGE_RADIUS:g}" fill="{RIDGE_COLOUR}" '
        f'stroke="{ROOF_COLOUR}" stroke-width="1.5"/>\n'
        "</svg>\n")


def favicon_png() -> bytes:
    """The same drawing as a SIZE x SIZE PNG with a transparent corner (matplotlib, Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

    fig = Figure(figsize=(1, 1), dpi=SIZE)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, SIZE)
    ax.set_ylim(SIZE, 0)  # y down, as in the SVG
    ax.set_axis_off()
    points = 72 / SIZE  # one drawing unit is one pixel: 72/64 points at dpi 64
    ax.add_patch(FancyBboxPatch((0, 0), SIZE, SIZE, boxstyle=f"round,pad=0,rounding_size={RADIUS}",
                                facecolor=BACKGROUND, edgecolor="none"))
    for x, y in TOKENS:
        ax.add_patch(Rectangle((x, y), TOKEN, TOKEN, facecolor=TOKEN_COLOUR, edgecolor="none"))
    xs, ys = zip(*ROOF)
    ax.plot(xs, ys, color=ROOF_COLOUR, linewidth=ROOF_WIDTH * points, solid_capstyle="round",
            solid_joinstyle="round")
    ax.add_patch(Circle(RIDGE, RIDGE_RADIUS, facecolor=RIDGE_COLOUR, edgecolor=ROOF_COLOUR,
                        linewidth=1.5 * points, zorder=3))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", transparent=True, metadata={"Software": None})
    return buffer.getvalue()


def write(static: Path = STATIC) -> list[Path]:
    """Write logo.svg and favicon.png into ``static``; return their paths."""
    static.mkdir(parents=True, exist_ok=True)
    logo, favicon = static / "logo.svg", static / "favicon.png"
    logo.write_text(logo_svg(), encoding="utf-8")
    favicon.write_bytes(favicon_png())
    return [logo, favicon]


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
