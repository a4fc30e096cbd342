"""Colours and font sizes shared by every plot: colour-blind-safe, readable on a projector.

Nothing here touches global ``rcParams`` on import; ``use_projector_style()`` returns an
``rc_context`` for callers who want the same look on figures they draw themselves.
``gpu_colour(name)`` gives each accelerator one colour in every plot and diagram.

References:
    Okabe & Ito, "Color Universal Design" (2008): https://jfly.uni-koeln.de/color/
    Matplotlib ``rc_context``: https://matplotlib.org/stable/api/_as_gen/matplotlib.rc_context.html
"""

from __future__ import annotations

import matplotlib as mpl

# Okabe–Ito palette: distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
# Order used when several series share one plot (yellow last: weak on white).
CYCLE = [OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky_blue",
                                "black", "yellow")]
GREY = "#999999"
MEMORY_BOUND_FILL = OKABE_ITO["sky_blue"]
COMPUTE_BOUND_FILL = OKABE_ITO["orange"]

# One colour per accelerator, the same in every plot and diagram, so "the blue roof" means the
# A100 on every page. Keyed by the start of the name, so every A100 variant (and the measured
# H100) shares its family's colour; the pairs the book compares (A100/H100, CPU/A100,
# H100/H200, H100/B200) get contrasting colours. Yellow is left out: too faint on white.
GPU_COLOURS = {
    "A100": OKABE_ITO["blue"],
    "H100": OKABE_ITO["vermillion"],
    "H200": OKABE_ITO["purple"],
    "B200": OKABE_ITO["black"],
    "this machine": OKABE_ITO["green"],
    "L4": OKABE_ITO["sky_blue"],  # also L40S: same family, rarely on one plot together
    "GeForce RTX 4090": OKABE_ITO["orange"],
    "A10G": OKABE_ITO["green"],
    "T4": OKABE_ITO["purple"],
    "AMD Instinct MI300X": OKABE_ITO["orange"],
}
_GPU_FALLBACK = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "purple", "orange",
                                        "sky_blue", "black")]


def gpu_colour(name: str) -> str:
    """The colour of the accelerator called ``name`` (a GPUSpec.name) in every figure.

    A catalog family keeps its colour; an unknown name gets a fixed colour from its characters
    (the same on every run: no hash randomisation, no state).
    """
    for prefix, colour in GPU_COLOURS.items():
        if name.startswith(prefix):
            return colour
    return _GPU_FALLBACK[sum(name.encode()) % len(_GPU_FALLBACK)]

# Font sizes in points; with FIGSIZE below these stay legible from the back of a lecture room.
TITLE_SIZE = 13
LABEL_SIZE = 12
TICK_SIZE = 11
LEGEND_SIZE = 10
ANNOTATION_SIZE = 10
FIGSIZE = (7.0, 4.2)  # inches; small figures redraw fast
DPI = 80  # 560 x 336 px: sharp enough on screen, cheap to render

PROJECTOR_RC = {
    "axes.titlesize": TITLE_SIZE,
    "axes.labelsize": LABEL_SIZE,
    "xtick.labelsize": TICK_SIZE,
    "ytick.labelsize": TICK_SIZE,
    "legend.fontsize": LEGEND_SIZE,
    "font.size": LABEL_SIZE,
    "axes.prop_cycle": mpl.cycler(color=CYCLE),
    "figure.figsize": FIGSIZE,
    "figure.dpi": DPI,
}


# Projector mode: the book's figures are drawn at DPI x figure_scale(), and figure_scale() follows
# matplotlib's base font size, which projector_mode() raises. Bigger pixels = bigger text, lines
# and markers on the wall, with the same layout (nothing overlaps that did not before).
BASE_FONT_SIZE = 10.0  # matplotlib's default rcParams["font.size"]
PROJECTOR_SCALE = 1.6


def figure_scale() -> float:
    """1.0 normally; PROJECTOR_SCALE after projector_mode(True) (follows rcParams['font.size'])."""
    return min(3.0, max(1.0, float(mpl.rcParams["font.size"]) / BASE_FONT_SIZE))


def figure_dpi() -> float:
    """Dots per inch for the next book figure: DPI, times figure_scale() in projector mode."""
    return DPI * figure_scale()


def projector_mode(on: bool = True) -> None:
    """Draw every later figure (widget redraws included) bigger for a projector, or back to normal.

    One explicit call changes matplotlib's rcParams (base font size and line width), so your own
    pyplot figures grow too; importing mini_vllm never changes them.
    """
    factor = PROJECTOR_SCALE if on else 1.0
    mpl.rcParams["font.size"] = BASE_FONT_SIZE * factor
    mpl.rcParams["lines.linewidth"] = mpl.rcParamsDefault["lines.linewidth"] * factor


def use_projector_style():
    """Return an ``rc_context`` with the book's colours and large fonts (use in a ``with``)."""
    return mpl.rc_context(PROJECTOR_RC)
