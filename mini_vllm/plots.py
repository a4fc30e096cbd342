"""Plots for the book: data or configs in, a labelled matplotlib ``Axes`` out.

Every ``plot_<thing>(..., *, ax=None) -> Axes`` draws on ``ax`` (or on a new figure), never calls
``plt.show()`` and never changes global ``rcParams``. The numbers come from ``memory.py`` and
``roofline.py``; this module only draws them.

References:
    Williams, Waterman & Patterson, "Roofline" (CACM 2009): https://doi.org/10.1145/1498765.1498785
    Okabe & Ito colour palette: https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox
from matplotlib.ticker import (FixedLocator, FuncFormatter, Locator, LogLocator,
                               MaxNLocator, NullLocator)

from . import memory, numformats, roofline
from .config import ModelConfig
from .sampler import SamplingParams, apply_temperature, probabilities
from .style import (ANNOTATION_SIZE, COMPUTE_BOUND_FILL, CYCLE, FIGSIZE, GREY, LABEL_SIZE,
                    LEGEND_SIZE, MEMORY_BOUND_FILL, OKABE_ITO, TICK_SIZE, TITLE_SIZE, figure_dpi,
                    gpu_colour)
from .units import GiB, format_count, format_duration

__all__ = ["plot_roofline", "plot_kv_growth", "plot_attention", "plot_sampling",
           "plot_kv_cache_work", "plot_kv_cache_time", "plot_prefill_decode_timing",
           "plot_prefill_decode_bound",
           "plot_littles_law", "plot_bpe_tradeoff", "plot_throughput_latency", "plot_in_flight",
           "plot_latency_histogram", "plot_request_counters", "new_axes", "count_text",
           "median_timing", "whole_sequences", "plural"]


# ---- shared helpers -------------------------------------------------------------------------
def new_axes(ax: Axes | None = None, figsize=FIGSIZE, *, left: float = 0.14,
             bottom: float = 0.15, right: float = 0.97) -> Axes:
    """``ax`` itself, or the Axes of a new pyplot figure with the book's size and margins."""
    if ax is not None:
        return ax
    fig, ax = plt.subplots(figsize=figsize, dpi=figure_dpi())
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=0.85)  # fixed: no layout engine
    return ax


# A taller figure, with margins that leave room for 6-character token labels like '<0xE2>'.
ATTENTION_FIGSIZE = (FIGSIZE[0], 5.4)
ATTENTION_MARGINS = {"left": 0.19, "bottom": 0.2, "right": 0.92}  # right: the colour bar


def _finish(ax: Axes, title: str, xlabel: str, ylabel: str, legend: str | None = "upper left"
            ) -> Axes:
    """Title, axis labels, tick and legend sizes set explicitly (no global rcParams).

    The legend goes to a fixed corner: loc='best' searches every position on every draw; the
    title sits at a fixed height (y=1.02): automatic placement measures every tick label.
    """
    ax.set_title(title, fontsize=TITLE_SIZE, y=1.02)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    for axis in (ax.xaxis, ax.yaxis):  # ~5 ticks: large labels that do not collide, fast draws
        if isinstance(axis.get_major_locator(), MaxNLocator):
            axis.get_major_locator().set_params(nbins=5)
        if not isinstance(axis.get_major_locator(), (NullLocator, FixedLocator, InView)):
            axis.set_major_locator(InView(axis.get_major_locator()))
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=LEGEND_SIZE, loc=legend, framealpha=0.9)
    return ax


class InView(Locator):
    """The ticks of ``locator`` that lie inside the view. Locators add one beyond each end,
    which matplotlib builds and then hides; a Tick is five artists (~0.5 ms a redraw here)."""

    def __init__(self, locator: Locator):
        self.locator = locator

    def set_axis(self, axis) -> None:
        super().set_axis(axis)
        self.locator.set_axis(axis)

    def __call__(self) -> np.ndarray:
        locs = np.asarray(self.locator(), dtype=float)
        # the test matplotlib uses to hide a tick (Axis._update_ticks), with more tolerance
        lo, hi = self.axis.get_transform().transform(sorted(self.axis.get_view_interval()))
        with np.errstate(invalid="ignore", divide="ignore"):
            at = self.axis.get_transform().transform(locs)
        slack = 1e-6 * abs(hi - lo)
        return locs[(at >= min(lo, hi) - slack) & (at <= max(lo, hi) + slack)]

    def tick_values(self, vmin: float, vmax: float):
        return self.locator.tick_values(vmin, vmax)

    def view_limits(self, vmin: float, vmax: float):
        return self.locator.view_limits(vmin, vmax)

    def nonsingular(self, v0: float, v1: float):
        return self.locator.nonsingular(v0, v1)


MASKED_RGBA = (0.87, 0.87, 0.87, 1.0)  # light grey: cells the causal mask removes
MASK_CROSS = "#8a8a8a"  # the cross in each of them: visible on the grey, quieter than data
_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _si(value: float, _pos=None) -> str:
    """Tick label with an SI prefix: 3e14 -> '300T', 0.1 -> '0.1' (no mathtext: fast, large)."""
    for size, prefix in _SI:
        if abs(value) >= size:
            return f"{value / size:g}{prefix}"
    return f"{value:g}"


def _log_axis(axis, span: float = np.inf) -> None:
    """SI labels, no minor ticks: readable and much cheaper to draw. Decades only, unless the
    data spans less than ``span`` < 2 decades: then 1-2-5 (or every digit) so that at least three
    ticks carry a label."""
    subs = (1.0,) if span >= 2 else (1.0, 2.0, 5.0) if span >= 0.8 else tuple(range(1, 10))
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(_si))


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


# ---- 1. roofline ----------------------------------------------------------------------------
REGION_LABELS = (("memory-bound", OKABE_ITO["blue"]), ("compute-bound", OKABE_ITO["vermillion"]))


def plot_roofline(gpus, cfg: ModelConfig | None = None, *, batch_sizes: Sequence[int] = (1,),
                  prompt_len: int | None = 512, dtype: str | Sequence[str] = "bfloat16",
                  weight_dtype: str | None = None, context_len: int = 0,
                  measured: Sequence[tuple[float, float]] | None = None,
                  measured_label: str = "measured", ax: Axes | None = None) -> Axes:
    """Attainable FLOP/s vs arithmetic intensity (log-log) per GPU, decode and prefill on each.

    Each GPU has its colour (``style.gpu_colour``) and its band under its roof, shaded blue
    (memory-bound) left of that GPU's own ridge and orange (compute-bound) right of it. Decode
    points (one per batch size, each labelled) and a prefill point of ``prompt_len`` tokens sit
    on every GPU's roof. ``measured`` is an optional list of (intensity FLOP/byte, achieved
    FLOP/s) pairs drawn as crosses. ``dtype`` is the math dtype (one for all GPUs, or one per
    GPU: a CPU has a float32 rate, not a bf16 one).
    """
    gpus = _as_list(gpus)
    dtypes = [dtype] * len(gpus) if isinstance(dtype, str) else list(dtype)
    if len(dtypes) != len(gpus):
        raise ValueError(f"give one dtype or one per GPU; got {len(dtypes)} for {len(gpus)} GPUs")
    ax = new_axes(ax)
    ax.set_xscale("log")
    ax.set_yscale("log")
    points = [_roofline_points(g, cfg, batch_sizes, prompt_len, d, weight_dtype, context_len)
              for g, d in zip(gpus, dtypes)]
    ridges = [roofline.ridge_point(g, d) for g, d in zip(gpus, dtypes)]
    lo, hi = _roofline_xlim(ax, [i for i, _, _ in points[0]] + [i for i, _ in measured or []],
                            ridges)
    low = min([roofline.attainable_flops(g, lo, d) for g, d in zip(gpus, dtypes)]
              + [f for _, f in measured or []]) / 4  # room under the lowest roof for the labels
    top = 4 * max(g.peak_flops(d) for g, d in zip(gpus, dtypes))
    ax.set_ylim(low, top)
    roofs = _draw_roofs(ax, gpus, dtypes, ridges, _roofline_grid(lo, hi, ridges), low)
    markers = _draw_roofline_points(ax, gpus, points)
    if measured:
        mx, my = zip(*measured)
        ax.plot(mx, my, "x", color=OKABE_ITO["black"], ms=9, mew=2, label=measured_label,
                gid="measured")
    for axis in (ax.xaxis, ax.yaxis):
        _log_axis(axis)
    ax.set_xlim(lo, hi)
    what = f"{cfg.name}, {weight_dtype or cfg.dtype} weights, " if cfg is not None else ""
    math = "/".join(dict.fromkeys(dtypes))
    title = f"Roofline: {what}{math} math\non {', '.join(g.name for g in gpus)}"
    _finish(ax, title, "arithmetic intensity (FLOP/byte)", "attainable (FLOP/s)", legend=None)
    legend = ax.legend(handles=roofs + markers + [a for a in ax.get_lines()
                                                  if a.get_gid() == "measured"],
                       fontsize=LEGEND_SIZE, loc="upper left", framealpha=0.9)
    _clear_legend(ax, legend, roofs)
    _label_decode_points(ax, points[0], avoid=[legend] + [t for t in ax.texts])
    return ax


def _roofline_xlim(ax: Axes, xs: list[float], ridges: list[float]) -> tuple[float, float]:
    """Whole decades around the points, wide enough that the region labels fit left of the
    lowest ridge and right of the highest one (each label's width measured in decades)."""
    lo = 10 ** np.floor(np.log10(min(xs + ridges) / 3))
    hi = 10 ** np.ceil(np.log10(max(xs + ridges) * 3))
    for _ in range(3):  # widening the axis shrinks a decade: check again
        px_per_decade = ax.bbox.width / np.log10(hi / lo)
        need = [1.15 * _text_width_px(ax, text) / px_per_decade + 0.1 for text, _ in REGION_LABELS]
        lo = min(lo, 10 ** np.floor(np.log10(min(ridges)) - need[0]))
        hi = max(hi, 10 ** np.ceil(np.log10(max(ridges)) + need[1]))
    return lo, hi


def _text_width_px(ax: Axes, text: str, size: float = ANNOTATION_SIZE) -> float:
    """Width in display pixels of ``text`` at ``size`` points (DejaVu Sans: ~0.6 em a char)."""
    return 0.62 * size * len(text) * ax.figure.dpi / 72


def _roofline_grid(lo: float, hi: float, ridges: list[float]) -> np.ndarray:
    """Intensities to draw the roofs at: a log grid plus every ridge, so corners are exact."""
    return np.unique(np.concatenate([np.geomspace(lo, hi, 64), ridges]))


def _draw_roofs(ax: Axes, gpus, dtypes, ridges, intensity: np.ndarray, low: float) -> list:
    """One roof per GPU in its colour, its ridge marked; under each roof, down to the next roof
    below it, that GPU's band: memory-bound left of its own ridge, compute-bound right of it."""
    roofs = np.array([[roofline.attainable_flops(g, i, d) for i in intensity]
                      for g, d in zip(gpus, dtypes)])  # (num_gpus, num_points)
    lines, colours = [], []
    for k, (gpu, ridge, roof) in enumerate(zip(gpus, ridges, roofs)):
        # (num_points,) the next roof down; of two equal roofs the earlier GPU's counts as lower
        lower = (roofs < roof) | ((roofs == roof) & (np.arange(len(gpus)) < k)[:, None])
        below = np.where(lower, roofs, low).max(axis=0)
        for region, where in ((0, intensity <= ridge), (1, intensity >= ridge)):
            ax.fill_between(intensity, below, roof, where=where, lw=0, alpha=0.16,
                            color=(MEMORY_BOUND_FILL, COMPUTE_BOUND_FILL)[region],
                            gid=f"{REGION_LABELS[region][0]}:{gpu.name}")
        colour = gpu_colour(gpu.name)
        style = "--" if colour in colours else "-"  # two of one family: tell them apart
        colours.append(colour)
        lines += ax.plot(intensity, roof, style, color=colour, lw=2.5, label=f"{gpu.name} roof",
                         gid=f"roof:{gpu.name}")
        peak = roofline.attainable_flops(gpu, ridge, dtypes[k])
        ax.plot([ridge], [peak], "D", color=colour, ms=8, gid=f"ridge:{gpu.name}")
        ax.plot([ridge, ridge], [low, peak], ":", color=colour, lw=1.5,
                gid=f"ridge-line:{gpu.name}")
    _label_ridges(ax, gpus, ridges, low)
    for (text, colour), x, ha in zip(REGION_LABELS, (intensity[0] * 1.15, intensity[-1] / 1.15),
                                     ("left", "right")):
        ax.annotate(text, (x, low), xytext=(0, 4), textcoords="offset points", ha=ha,
                    va="bottom", fontsize=ANNOTATION_SIZE, color=colour, gid="region-label")
    return lines


def _label_ridges(ax: Axes, gpus, ridges, low: float) -> None:
    """Each ridge's value beside its dotted line, one row per GPU above the region labels:
    right of the line if it fits before the axis ends or the next ridge, else left of it."""
    lo, hi = ax.get_xlim()
    px_per_decade = ax.bbox.width / np.log10(hi / lo)
    for k, (gpu, ridge) in enumerate(zip(gpus, ridges)):
        text = f"ridge {ridge:,.0f} FLOP/B"
        end = min([hi] + [r for r in ridges if r > ridge])  # the text must stop before this
        right = np.log10(end / ridge) * px_per_decade > _text_width_px(ax, text) + 12
        ax.annotate(text, (ridge, low), xytext=(4 if right else -4, 4 + 15 * (k + 1)),
                    textcoords="offset points", ha="left" if right else "right", va="bottom",
                    fontsize=ANNOTATION_SIZE, color=gpu_colour(gpu.name), gid="ridge-label")


def _clear_legend(ax: Axes, legend, roofs: list) -> None:
    """Raise the top of the y axis until no roof passes under the legend (upper left)."""
    renderer = _renderer(ax)
    for _ in range(4):
        box = legend.get_window_extent(renderer)
        overlap = 0.0
        for line in roofs:
            x, y = ax.transData.transform(np.column_stack(line.get_data())).T
            inside = (x >= box.x0) & (x <= box.x1)
            if inside.any():
                overlap = max(overlap, y[inside].max() - box.y0 + 6)  # 6 px of air
        if overlap <= 0:
            return
        low, top = ax.get_ylim()
        decades = np.log10(top / low)
        ax.set_ylim(low, top * 10 ** (overlap / ax.bbox.height * decades * 1.3))


def _renderer(ax: Axes):
    """The figure's renderer (an Agg canvas is attached to a bare ``Figure`` first)."""
    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def _roofline_points(gpu, cfg, batch_sizes, prompt_len, dtype, weight_dtype, context_len):
    """(intensity, attainable FLOP/s, label) of decode points and the prefill point."""
    if cfg is None:
        return []
    points = []
    for b in batch_sizes:
        i = roofline.decode_intensity(cfg, b, context_len=context_len, weight_dtype=weight_dtype)
        points.append((i, roofline.attainable_flops(gpu, i, dtype), f"decode B={b}"))
    if prompt_len:
        i = roofline.prefill_intensity(cfg, prompt_len, weight_dtype=weight_dtype)
        points.append((i, roofline.attainable_flops(gpu, i, dtype), f"prefill {prompt_len} tok"))
    return points


def _draw_roofline_points(ax: Axes, gpus, points) -> list:
    """Decode circles and prefill squares on every GPU's roof, in that GPU's colour; returns
    the legend's (black and white) handles for the two kinds."""
    handles = []
    for kind, marker, size in (("decode", "o", 8), ("prefill", "s", 9)):
        label = ""
        for gpu, pts in zip(gpus, points):
            mine = [(i, f) for i, f, name in pts if name.startswith(kind)]
            label = next(("decode" if kind == "decode" else name for _, _, name in pts
                          if name.startswith(kind)), label)
            if mine:
                ax.plot(*zip(*mine), marker, color=gpu_colour(gpu.name), mec="black", mew=1,
                        ms=size, gid=f"{kind}:{gpu.name}", zorder=3,
                        label=label if gpu is gpus[0] else f"_{label}")
        if label:
            text = "decode (B = batch size)" if kind == "decode" else label
            handles.append(Line2D([], [], ls="", marker=marker, ms=size, mfc="white",
                                  mec="black", label=text))
    return handles


LABEL_OFFSETS = (  # points, in order of preference: below-right first (under the roofs)
    (6, -6, "left", "top"), (6, -20, "left", "top"), (-6, 6, "right", "bottom"),
    (0, -10, "center", "top"), (0, 10, "center", "bottom"), (9, 0, "left", "center"),
    (-9, 0, "right", "center"), (0, -24, "center", "top"), (0, 24, "center", "bottom"),
    (-6, -14, "right", "top"), (6, 14, "left", "bottom"), (6, -34, "left", "top"))


POINT_GIDS = ("decode", "prefill", "measured", "batch")  # markers that labels keep off


def _marker_boxes(ax: Axes) -> list[Bbox]:
    """Display boxes around every marker of the points and crosses: labels keep off them."""
    boxes = []
    for line in ax.get_lines():
        if line.get_gid() and line.get_gid().split(":")[0] in POINT_GIDS:
            r = line.get_markersize() / 2 * ax.figure.dpi / 72  # px
            for x, y in ax.transData.transform(np.column_stack(line.get_data())):
                boxes.append(Bbox([[x - r, y - r], [x + r, y + r]]))
    return boxes


def _label_decode_points(ax: Axes, points, avoid: list) -> None:
    """'B=<batch>' beside every decode point, placed by _place_labels."""
    decode = [(i, f, name.replace("decode ", "")) for i, f, name in points
              if name.startswith("decode")]
    _place_labels(ax, decode, avoid, gid="decode-label")


def _place_labels(ax: Axes, labels, avoid: list, gid: str) -> None:
    """Each (x, y, text) of ``labels`` beside its point: at the first of LABEL_OFFSETS where it
    overlaps nothing drawn so far (``avoid``'s artists, the point markers, earlier labels) and
    stays inside the axes; with no such place, at the least crowded one."""
    renderer = _renderer(ax)
    taken = [a.get_window_extent(renderer) for a in avoid] + _marker_boxes(ax)
    inside = ax.get_window_extent(renderer)
    for x, y, text in labels:
        best = None
        for dx, dy, ha, va in LABEL_OFFSETS:
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                ha=ha, va=va, gid=gid, fontsize=ANNOTATION_SIZE)
            box = label.get_window_extent(renderer)
            out = not (inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1))
            clash = sum(box.overlaps(t) for t in taken) + 10 * out
            if best is None or clash < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clash, label, box)
            else:
                label.remove()
            if clash == 0:
                break
        taken.append(best[2])


# ---- 2. KV-cache growth ---------------------------------------------------------------------
def plot_kv_growth(cfg: ModelConfig, gpu, *, context_len: int = 8192, batch_size: int = 1,
                   kv_dtype: str | None = None, weight_dtype: str | None = None,
                   gpu_memory_utilization: float = 0.9, num_gpus: int = 1,
                   ax: Axes | None = None) -> Axes:
    """KV bytes of ``batch_size`` sequences vs context length, against the memory left for KV.

    Marks the context at which the batch stops fitting (X), the chosen context (dot), and says
    how many whole sequences of ``context_len`` tokens fit, i.e. which next one does not.
    """
    ax = new_axes(ax)
    free_kw = dict(num_gpus=num_gpus, weight_dtype=weight_dtype,
                   gpu_memory_utilization=gpu_memory_utilization)
    free = memory.free_kv_bytes(cfg, gpu, **free_kw)
    per_token = memory.kv_bytes_per_token(cfg, kv_dtype)
    fit_len = free / (per_token * batch_size)  # tokens per sequence at which the batch is full
    x_max = max(1.5 * context_len, min(1.15 * fit_len, 8 * context_len), 16)
    tokens = np.linspace(0, x_max, 64)
    if batch_size > 1:
        ax.plot(tokens, tokens * per_token / GiB, "--", color=OKABE_ITO["sky_blue"], lw=2.5,
                label="KV of 1 sequence")
    ax.plot(tokens, tokens * per_token * batch_size / GiB, "-", color=OKABE_ITO["blue"], lw=2.5,
            label=f"KV of {batch_size} sequence{'s' if batch_size > 1 else ''}")
    ax.axhline(free / GiB, color=OKABE_ITO["vermillion"], lw=2,
               label=f"memory left after weights: {free / GiB:,.1f} GiB")
    used = context_len * per_token * batch_size
    # The lines stay in the lower 45% of the axes: the legend (upper left) and the fit note
    # (upper right) get the top, so neither covers a line, the X or its label.
    top = max(free, used) / GiB / 0.45
    ax.axhspan(free / GiB, top, color=OKABE_ITO["vermillion"], alpha=0.08, lw=0)
    if fit_len <= x_max:
        ax.plot([fit_len], [free / GiB], "X", color=OKABE_ITO["black"], ms=12)
        left = fit_len < 0.4 * x_max  # keep the label inside the axes
        ax.annotate(f"batch full at {fit_len:,.0f} tokens", (fit_len, free / GiB),
                    xytext=(6 if left else -6, 8), textcoords="offset points",
                    ha="left" if left else "right", fontsize=ANNOTATION_SIZE)
    ax.plot([context_len], [used / GiB], "o", color=OKABE_ITO["orange"], ms=10,
            label=f"{context_len:,} tokens x {batch_size}: {used / GiB:,.2f} GiB")
    fit = memory.max_sequences_naive(cfg, gpu, max(context_len, 1), kv_dtype=kv_dtype, **free_kw)
    ax.text(0.98, 0.96, f"{fit:,} sequence{'' if fit == 1 else 's'} fit{'s' if fit == 1 else ''}\n"
            f"at {context_len:,} tokens;\n"
            f"sequence {fit + 1:,} does not", transform=ax.transAxes, ha="right", va="top",
            fontsize=ANNOTATION_SIZE, bbox=dict(facecolor="white", alpha=0.85, lw=0))
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, top)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    kv = kv_dtype or cfg.dtype
    heads = "one latent per token" if cfg.is_mla else f"{cfg.num_kv_heads} KV heads"
    title = (f"KV cache of {cfg.name} ({cfg.attention_kind}, {heads}, {kv})\n"
             f"on {num_gpus} x {gpu.name}, batch {batch_size}")
    _finish(ax, title, "context length per sequence (tokens)", "memory (GiB)")
    return ax


# ---- 3. attention weights -------------------------------------------------------------------
def plot_attention(weights, tokens: Sequence[str], *, layer: int | None = None,
                   head: int | None = None, kv_head: int | None = None,
                   masked: np.ndarray | None = None, heads_sharing: Sequence[int] | None = None,
                   ax: Axes | None = None) -> Axes:
    """Heatmap of one head's attention weights (queries x keys), tokens as tick labels.

    ``masked`` (bool, same shape) marks cells the causal mask removes: grey, each with a cross.
    ``kv_head``/``heads_sharing`` name the KV head this query head reads and its GQA group.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(tokens) or w.shape[0] > w.shape[1]:
        raise ValueError(f"weights must be (num_queries, num_keys={len(tokens)}); got {w.shape}")
    ax = new_axes(ax, ATTENTION_FIGSIZE, **ATTENTION_MARGINS)
    mask = np.zeros(w.shape, bool) if masked is None else np.asarray(masked, dtype=bool)
    # one image: masked cells are the colour map's "bad" colour (a second, overlaid image
    # would cost a redraw another resampling pass)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=MASKED_RGBA)
    image = _cells_image(ax, np.ma.masked_array(w, mask), cmap, Normalize(0.0, 1.0))
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.02, ticks=[0, 0.5, 1])
    bar.set_label("attention weight", fontsize=LABEL_SIZE)
    bar.ax.tick_params(labelsize=TICK_SIZE)  # the bar first: it narrows the cells measured next
    if mask.any():
        _draw_crosses(ax, mask)
    _token_ticks(ax, [_token_label(t) for t in tokens], w.shape[0])
    where = " ".join(p for p in (f"layer {layer}" if layer is not None else "",
                                 f"head {head}" if head is not None else "") if p)
    share = ""
    if kv_head is not None:
        group = ", ".join(str(h) for h in heads_sharing) if heads_sharing else str(head)
        share = f"\nreads KV head {kv_head} (shared by query heads {group})"
    title = f"Attention weights{', ' + where if where else ''}{share}"
    _finish(ax, title, "key token (attended to)", "query token (attending)", legend=None)
    return ax


def _cells_image(ax: Axes, data: np.ndarray, cmap, norm: Normalize) -> AxesImage:
    """``ax.imshow(data, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")``,
    drawn by a CellsImage."""
    image = CellsImage(ax, cmap=cmap, norm=norm, interpolation="nearest", origin="upper")
    ax.set_aspect("auto")
    image.set_data(data)
    image.set_clip_path(ax.patch)
    image.set_extent(image.get_extent())  # data and view limits: -0.5 .. n - 0.5, as imshow
    ax.add_image(image)
    return image


def _cell_index(position: np.ndarray, count: int) -> np.ndarray:
    """The cell under each pixel centre (``position`` in cells). A centre on an edge (to float
    error) belongs to the cell before it, as Agg's nearest-neighbour filter decides."""
    return np.floor(position - 1e-6).astype(int).clip(0, count - 1)


class CellsImage(AxesImage):
    """An image of cells drawn as ``interpolation="nearest"`` draws it, by repeating each
    cell's colour over the screen pixels it covers. Matplotlib resamples the whole screen area
    in float RGBA: about 20 ms of a heatmap redraw at 2x here, against ~2 ms for this."""

    def make_image(self, renderer, magnification=1.0, unsampled=False):
        trans = self.get_transform()
        (a, b, tx), (c, d, ty), _ = trans.get_matrix() if trans.is_affine else np.eye(3)
        if (unsampled or magnification != 1 or not trans.is_affine or b or c
                or self.get_alpha() is not None or self.get_interpolation() != "nearest"):
            return super().make_image(renderer, magnification, unsampled)
        left, right, bottom, top = self.get_extent()
        clip = (self.get_clip_box() or self.axes.bbox) if self.get_clip_on() else \
            self.figure.bbox  # as AxesImage.make_image clips
        shown = Bbox.intersection(Bbox([[left, bottom], [right, top]]).transformed(trans), clip)
        if shown is None:
            return None, 0, 0, None
        # whole screen pixels, rounded as AxesImage._make_image rounds them
        x0, y0 = np.floor(shown.x0 + 0.5), np.ceil(shown.y0 - 0.5 - 1e-8)
        x1, y1 = np.floor(shown.x1 + 0.5 + 1e-8), np.ceil(shown.y1 - 0.5)
        if x1 <= x0 or y1 <= y0:
            return None, 0, 0, None
        rows, cols = self._A.shape[:2]
        x = (np.arange(x0, x1) + 0.5 - tx) / a  # (width,) data x of each pixel centre
        y = (np.arange(y0, y1) + 0.5 - ty) / d  # (height,) data y, bottom row first
        start, end = (top, bottom) if self.origin == "upper" else (bottom, top)
        col = _cell_index((x - left) / (right - left) * cols, cols)  # (width,)
        row = _cell_index((y - start) / (end - start) * rows, rows)  # (height,)
        self.norm.autoscale_None(self._A)
        colours = self.to_rgba(self._A, bytes=True)  # (rows, cols, 4) uint8
        rgba = np.ascontiguousarray(colours).view(np.uint32)[..., 0]  # (rows, cols): 1 pixel
        image = rgba[row[:, None], col]  # (height, width), bottom row first
        return image.view(np.uint8).reshape(*image.shape, 4), x0, y0, None


def _draw_crosses(ax: Axes, masked: np.ndarray) -> None:
    """A cross in each (Tq, Tk) cell the mask removes (greyed by the image itself): one line
    of markers, not hundreds of patches, and a legend entry showing both."""
    rows, cols = np.nonzero(masked)
    cell = min(_cell_points(ax, masked.shape[1], "x"), _cell_points(ax, masked.shape[0], "y"))
    cross = dict(marker="x", ls="", color=MASK_CROSS, ms=min(8.0, 0.55 * cell),
                 mew=min(1.2, max(0.5, 0.09 * cell)))
    ax.plot(cols, rows, gid="masked-cross", **cross)
    ax.legend(handles=[(Patch(color=MASKED_RGBA), Line2D([], [], **{**cross, "ms": 7}))],
              labels=["removed by the causal mask"], fontsize=LEGEND_SIZE, loc="upper right",
              framealpha=0.9)


def _token_ticks(ax: Axes, labels: list[str], num_queries: int) -> None:
    """Tokens under the columns and beside the rows, as plain Text artists (gid 'x-token' and
    'y-token'): dozens of Tick objects cost more to build and draw than the heatmap itself."""
    ax.set_xticks([])
    ax.set_yticks([])
    counts = {"x": len(labels), "y": num_queries}
    cells = {axis: _cell_points(ax, n, axis) for axis, n in counts.items()}
    # one font on both axes; an axis whose cells are too small for it labels every k-th token
    size = max(MIN_TOKEN_FONT, min(TICK_SIZE, 0.85 * min(cells.values())))
    step = {axis: max(1, int(np.ceil(size / (0.85 * cell)))) for axis, cell in cells.items()}
    for j in range(0, len(labels), step["x"]):
        ax.text(j, -0.01, labels[j], transform=ax.get_xaxis_transform(), rotation=90,
                ha="center", va="top", fontsize=size, gid="x-token")
    rows = labels[len(labels) - num_queries:]  # the queries are the last tokens
    for i in range(0, num_queries, step["y"]):
        ax.text(-0.01, i, rows[i], transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize=size, gid="y-token")
    pad = 0.62 * size * max(map(len, labels)) + 12  # points: room for the longest token
    ax.xaxis.labelpad = ax.yaxis.labelpad = pad


MIN_TOKEN_FONT = 6.5  # points (sharp at 2x); smaller cells label every k-th token instead


def _cell_points(ax: Axes, count: int, axis: str) -> float:
    """Width ('x') or height ('y') in points of one of ``count`` heatmap cells."""
    width, height = ax.figure.get_size_inches() * 72  # points
    box = ax.get_position()
    return (box.width * width if axis == "x" else box.height * height) / max(count, 1)


def token_tick_labels(ax: Axes, axis: str = "x") -> list[str]:
    """The token labels plot_attention drew along ``axis`` ('x' keys, 'y' queries)."""
    return [t.get_text() for t in ax.texts if t.get_gid() == f"{axis}-token"]


def _token_label(token: str) -> str:
    """A visible tick label: a space becomes '␣', control characters their escape."""
    if token and not token.strip(" "):
        return "␣" * len(token)
    return token if token.isprintable() else repr(token)[1:-1]


# ---- 4. sampling ----------------------------------------------------------------------------
def plot_cosine_pairs(upper, lower, labels: Sequence[str], *, upper_name: str = "trained",
                      lower_name: str = "untrained", groups: Sequence[int] = (),
                      title: str = "", ax: Axes | None = None) -> Axes:
    """Two symmetric (n, n) cosine tables in one grid: ``upper`` above the diagonal, ``lower``
    below, the diagonal blank; lines after the first ``groups[0]``, ... labels separate groups."""
    upper, lower = np.asarray(upper, dtype=float), np.asarray(lower, dtype=float)
    n = len(labels)
    if upper.shape != (n, n) or lower.shape != (n, n):
        raise ValueError(f"upper and lower must be ({n}, {n}) to match the labels; "
                         f"got {upper.shape} and {lower.shape}")
    if any(not 0 < g < n for g in groups):
        raise ValueError(f"groups must be split points in 1..{n - 1}; got {list(groups)}")
    ax = new_axes(ax, (7.0, 6.4), left=0.07, bottom=0.04, right=0.86)
    above = np.triu(np.ones((n, n), dtype=bool), k=1)
    both = np.where(above, upper, lower)  # (n, n)
    np.fill_diagonal(both, np.nan)  # a row with itself: always 1, says nothing
    image = ax.imshow(both, cmap="RdBu_r", vmin=-0.6, vmax=0.6, interpolation="nearest")
    for edge in groups:
        ax.axhline(edge - 0.5, color="black", lw=0.6)
        ax.axvline(edge - 0.5, color="black", lw=0.6)
    ax.plot([-0.5, n - 0.5], [-0.5, n - 0.5], color="black", lw=1.2)
    ax.set_xticks(range(n), labels, fontsize=LABEL_SIZE)
    ax.set_yticks(range(n), labels, fontsize=LABEL_SIZE)
    ax.tick_params(length=2, top=True, labeltop=True, bottom=False, labelbottom=False)
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5}
    ax.text(n - 1, 1, upper_name, ha="right", va="top", fontsize=LABEL_SIZE, bbox=box)
    ax.text(0, n - 2, lower_name, ha="left", fontsize=LABEL_SIZE, bbox=box)
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.03)
    bar.set_label("cosine", fontsize=LABEL_SIZE)
    bar.ax.tick_params(labelsize=TICK_SIZE)
    if title:
        ax.figure.suptitle(title, fontsize=TITLE_SIZE)
    return ax


def plot_sampling(logits, params: SamplingParams, *, token_labels: Sequence[str] | None = None,
                  top_n: int = 16, sampled_token: int | None = None,
                  ax: Axes | None = None) -> Axes:
    """Bars of the ``top_n`` most likely next tokens after temperature; kept tokens coloured.

    Grey bars are removed by top-k/top-p; black dashes show the final (renormalised)
    probabilities the sampler draws from; a dashed line marks the nucleus boundary.
    """
    logits = np.asarray(logits, dtype=float)
    final = probabilities(logits, params)  # (vocab,)
    if params.is_greedy:
        tempered = final
    else:
        tempered = _softmax(apply_temperature(logits, params.temperature))
    # Most likely first; greedy's one-hot bars are ordered by the raw logits (the runners-up).
    order = np.argsort(-(logits if params.is_greedy else tempered), kind="stable")[:top_n]
    kept = final[order] > 0
    ax = new_axes(ax)
    x = np.arange(len(order))
    colors = [OKABE_ITO["blue"] if k else GREY for k in kept]
    ax.bar(x, tempered[order], color=colors, width=0.8, label="after temperature")
    ax.plot(x, np.where(kept, final[order], np.nan), "_", color=OKABE_ITO["black"], ms=24,
            mew=3, label="final (renormalised)")  # one artist, not a bar each; none if removed
    num_kept = int(np.count_nonzero(final))
    if 0 < num_kept < len(order) and kept[:num_kept].all():
        ax.axvline(num_kept - 0.5, color=OKABE_ITO["vermillion"], ls="--", lw=2,
                   label=f"boundary: {num_kept} token{'s' if num_kept > 1 else ''} kept")
    if sampled_token is not None and sampled_token in order:
        j = int(np.flatnonzero(order == sampled_token)[0])
        ax.plot([j], [max(tempered[sampled_token], final[sampled_token]) + 0.02], "v",
                color=OKABE_ITO["orange"], ms=12, label="drawn")
    ax.set_xlim(-0.6, len(order) - 0.4)
    # headroom for the "drawn" triangle above a bar of probability 1 (greedy, top-k 1)
    ax.set_ylim(0, min(1.12, max(final.max(), tempered[order].max()) * 1.15 + 0.03))
    tk = "all" if params.top_k is None else params.top_k
    title = (f"Next-token probabilities: T={params.temperature:g}, top-k={tk}, "
             f"top-p={params.top_p:g}\n{num_kept:,} of {len(logits):,} tokens kept; "
             f"top {len(order)} shown")
    _finish(ax, title, "token (most likely first)", "probability", legend="upper right")
    labels = token_labels if token_labels is not None else [str(i) for i in range(len(logits))]
    _bar_labels(ax, [_token_label(labels[i]) for i in order])  # after _finish: its own size
    return ax


def _bar_labels(ax: Axes, labels: list[str]) -> None:
    """One tick label per bar: across while the longest fits its slot, else upright (rotated
    90 degrees, so neighbours never touch: each is one line of text tall), smaller if needed."""
    slot = ax.get_position().width * ax.figure.get_size_inches()[0] * 72 / max(len(labels), 1)
    longest = max(map(len, labels), default=1)
    across = 0.62 * TICK_SIZE * longest <= 0.8 * slot  # points
    size = TICK_SIZE if across else min(TICK_SIZE, 0.7 * slot)
    ax.set_xticks(range(len(labels)), labels, rotation=0 if across else 90, fontsize=size)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x))
    return e / e.sum()


# ---- 5. KV-cache work -----------------------------------------------------------------------
def plot_kv_cache_work(generated_lengths, tokens_with_cache, tokens_without_cache, *,
                       prompt_len: int | None = None, ax: Axes | None = None) -> Axes:
    """Tokens the model processed to generate n tokens, with and without a KV cache."""
    ax = new_axes(ax)
    n = np.asarray(generated_lengths)
    every = max(1, len(n) // 12)  # a dozen markers per line tell the two apart in grey scale
    ax.plot(n, tokens_without_cache, "o-", color=OKABE_ITO["vermillion"], lw=2.5, ms=6,
            markevery=every, label="without cache (re-reads everything)")
    ax.plot(n, tokens_with_cache, "s-", color=OKABE_ITO["blue"], lw=2.5, ms=6, markevery=every,
            label="with KV cache (new tokens only)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.95 tokens
    # log y: with the cache the count grows like n, without it like n^2; on a linear axis the
    # first line lies flat along zero
    ax.set_yscale("log")
    counts = np.concatenate([np.asarray(tokens_with_cache), np.asarray(tokens_without_cache)])
    _log_axis(ax.yaxis, span=np.log10(counts.max() / max(counts.min(), 1)))
    ax.set_ylim(top=counts.max() * 30)  # the legend's room: above every line
    prompt = f", prompt {plural(prompt_len, 'token')}" if prompt_len is not None else ""
    return _finish(ax, f"Work to generate n tokens\n(toy model{prompt})",
                   "generated tokens n", "tokens processed (count, log scale)")


def count_text(value: float) -> str:
    """A count as text: '50' for 50.0 (no '.0' on a whole number), '12.5' for a mean of 12.5."""
    return format_count(float(value), digits=1)


def whole_sequences(concurrency: float) -> int:
    """Whole sequences that fit: vLLM's fractional 'maximum concurrency' (225.30x) rounded
    down, since a sequence that does not fit whole does not run."""
    return int(np.floor(concurrency + 1e-9))


def plural(count: int, noun: str) -> str:
    """'1 token', '2 tokens', '1,024 tokens': a count with its noun, pluralised in English."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def plot_kv_cache_time(generated_lengths, seconds_with_cache, seconds_without_cache, *,
                       machine: str = "this machine", prompt_len: int | None = None,
                       ax: Axes | None = None) -> Axes:
    """Measured wall time to generate n tokens, with and without a KV cache."""
    ax = new_axes(ax)
    n = np.asarray(generated_lengths)
    every = max(1, len(n) // 12)
    ax.plot(n, 1e3 * np.asarray(seconds_without_cache), "o-", color=OKABE_ITO["vermillion"],
            lw=2.5, ms=6, markevery=every, label="without cache")
    ax.plot(n, 1e3 * np.asarray(seconds_with_cache), "s-", color=OKABE_ITO["blue"], lw=2.5, ms=6,
            markevery=every, label="with KV cache")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # token counts: no 1.25 tokens
    prompt = f", prompt {plural(prompt_len, 'token')}" if prompt_len is not None else ""
    return _finish(ax, f"Wall time on {machine}\n(toy model{prompt})", "generated tokens n",
                   "time (ms)")


# ---- 6. prefill vs decode on this machine -----------------------------------------------------
def plot_prefill_decode_timing(num_tokens, prefill_s, decode_s, *, machine: str = "this machine",
                               model_name: str = "toy", ax: Axes | None = None) -> Axes:
    """Time per token: one prefill pass over n tokens vs n one-token decode steps.

    ``prefill_s`` and ``decode_s`` are seconds per n, (len(num_tokens),), or repeated timings,
    (repeats, len(num_tokens)): then each point is the median of its repeats, so one run slowed
    by other work on the machine cannot draw a spike.
    """
    n = np.asarray(num_tokens, dtype=float)  # (num_sizes,)
    prefill, decode = (median_timing(t, len(n), name) for t, name in
                       ((prefill_s, "prefill_s"), (decode_s, "decode_s")))
    ax = new_axes(ax)
    ax.plot(n, 1e6 * prefill / n, "s-", color=OKABE_ITO["green"], lw=2.5, ms=6,
            label="prefill: n tokens in one pass")
    ax.plot(n, 1e6 * decode / n, "o-", color=OKABE_ITO["vermillion"], lw=2.5, ms=6,
            label="decode: n passes of one token")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(n, [f"{v:,.0f}" for v in n])
    ax.xaxis.set_minor_locator(NullLocator())
    values = 1e6 * np.concatenate([prefill / n, decode / n])
    span = np.log10(values.max() / values.min())
    # the data fill the lower part; the legend (upper right) gets the top 0.8 decade or more
    ax.set_ylim(values.min() / 1.6, values.max() * 10 ** max(0.8, 0.6 * span))
    _log_axis(ax.yaxis, span=np.log10(ax.get_ylim()[1] / ax.get_ylim()[0]))
    return _finish(ax, f"Prefill vs decode, {model_name} model on {machine}",
                   "tokens n", "time per token (µs)", legend="upper right")


def median_timing(seconds, num_sizes: int, name: str = "seconds") -> np.ndarray:
    """(num_sizes,) seconds: ``seconds`` itself, or the median over the repeats of a
    (repeats, num_sizes) array of timings."""
    t = np.asarray(seconds, dtype=float)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[1] != num_sizes or not np.all(t > 0):
        raise ValueError(f"{name} must be positive seconds, ({num_sizes},) or (repeats, "
                         f"{num_sizes}); got shape {t.shape}")
    return np.median(t, axis=0)


def plot_prefill_decode_bound(num_tokens, prefill_s, decode_s, *, batch_size: int = 1,
                              chosen: int | None = None, model_name: str = "",
                              gpu_name: str = "", ax: Axes | None = None) -> Axes:
    """Time per token from the roofline bounds: one n-token prefill vs n decode steps.

    ``prefill_s[j]`` bounds one prefill of ``num_tokens[j]`` tokens, ``decode_s[j]`` that many
    decode steps of ``batch_size`` sequences (num_tokens[j] x batch_size tokens); ``chosen`` is
    marked, with its two times per token. The legend takes the upper right: the axis grows
    until every point right of the middle n sits in the lower 60 %.
    """
    n = np.asarray(num_tokens, dtype=float)  # (num_sizes,)
    prefill = np.asarray(prefill_s, dtype=float) / n  # (num_sizes,) seconds per token
    decode = np.asarray(decode_s, dtype=float) / (n * batch_size)
    if prefill.shape != n.shape or decode.shape != n.shape or not np.all(
            (prefill > 0) & (decode > 0) & np.isfinite(prefill) & np.isfinite(decode)):
        raise ValueError(f"prefill_s and decode_s must be ({len(n)},) positive seconds")
    both = np.concatenate([prefill, decode])
    unit, size = next((u, s) for u, s in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6))
                      if both.max() >= s or u == "µs")
    ax = new_axes(ax)
    ax.plot(n, prefill / size, "s-", color=OKABE_ITO["green"], lw=2.5, ms=6,
            label="prefill: n tokens in one pass")
    ax.plot(n, decode / size, "o-", color=OKABE_ITO["vermillion"], lw=2.5, ms=6,
            label="decode: n steps of one token" if batch_size == 1 else
            f"decode: n steps at batch {batch_size:,}")
    if chosen is not None:
        if chosen not in n:
            raise ValueError(f"chosen must be one of num_tokens; got {chosen!r}")
        j = int(np.flatnonzero(n == chosen)[0])
        _mark_chosen_n(ax, chosen, prefill[j], decode[j], size, n[-1])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = [v for v in n if np.log2(v) % 2 == 0] if len(n) > 8 else n  # 1, 4, 16, ...
    ax.set_xticks(ticks, [f"{v:,.0f}" for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    low = both.min() / size / 3  # room for a time under the lowest point
    right = both[np.tile(n >= np.sqrt(n[0] * n[-1]), 2)].max() / size
    ax.set_ylim(low, max(1.6 * both.max() / size, low * (right / low) ** (1 / 0.6)))
    _log_axis(ax.yaxis, span=np.log10(ax.get_ylim()[1] / ax.get_ylim()[0]))
    title = "Prefill vs decode, from the roofline bounds"
    if model_name or gpu_name:
        title += f"\n{model_name}{' on ' if model_name and gpu_name else ''}{gpu_name}"
    return _finish(ax, title, "prompt tokens n", f"time per token ({unit})",
                   legend="upper right")


def _mark_chosen_n(ax: Axes, chosen: int, prefill: float, decode: float, size: float,
                   last: float) -> None:
    """A dotted line at n = chosen, rings on its two points, their times per token beside:
    the higher one's above its point, the lower one's below (decode's above on a tie)."""
    ax.axvline(chosen, color=GREY, ls=":", lw=1.8, label=f"n = {chosen:,}")
    dx, ha = (-7, "right") if chosen >= last / 8 else (7, "left")  # labels stay inside
    for value, marker, higher in ((prefill, "s", prefill > decode),
                                  (decode, "o", decode >= prefill)):
        ax.plot([chosen], [value / size], marker, ms=11, mfc="none", mec=OKABE_ITO["black"],
                mew=1.5)
        ax.annotate(format_duration(value), (chosen, value / size), xytext=(dx, 7 if higher
                    else -16), textcoords="offset points", ha=ha, fontsize=ANNOTATION_SIZE)


# ---- 6c. a simulated serving run and one request's two counters ------------------------------
def plot_in_flight(sim, *, ax: Axes | None = None) -> Axes:
    """Requests inside the engine (queued or running) after each step of a SimulationResult,
    with their time average: the N of Little's law."""
    ax = new_axes(ax)
    t = np.arange(sim.num_steps) * sim.step_time_s  # (num_steps,) simulated seconds
    ax.step(t, sim.in_flight, where="post", color=OKABE_ITO["blue"], lw=1.8, label="in flight")
    ax.axhline(sim.mean_in_flight, color=OKABE_ITO["vermillion"], ls="--", lw=2,
               label=f"time average N = {sim.mean_in_flight:.2f}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count of requests
    ax.set_ylim(0, 1.4 * max(1, int(np.max(sim.in_flight))))  # headroom: the legend sits on top
    ax.grid(alpha=0.3)
    return _finish(ax, "Requests inside the engine, step by step", "simulated time (s)",
                   "requests")


def plot_latency_histogram(sim, *, bin_s: float = 0.05, ax: Axes | None = None) -> Axes:
    """How long each request of a SimulationResult spent inside the engine, and the mean L."""
    if not bin_s > 0:
        raise ValueError(f"bin_s must be > 0; got {bin_s!r}")
    ax = new_axes(ax)
    latency = np.asarray(sim.latency_s)
    bins = np.arange(0, latency.max() + 2 * bin_s, bin_s)
    ax.hist(latency, bins=bins, color=OKABE_ITO["green"])
    ax.axvline(sim.mean_latency_s, color=OKABE_ITO["vermillion"], ls="--", lw=2,
               label=f"mean L = {sim.mean_latency_s:.3f} s")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts, _ = np.histogram(latency, bins=bins)
    ax.set_ylim(0, 1.45 * max(1, counts.max()))  # headroom: the legend sits above every bar
    ax.grid(alpha=0.3)
    return _finish(ax, "Time each request spent inside", "latency (s)", "requests",
                   legend="upper right")


def plot_request_counters(rows, request_id: str, *, title: str = "",
                          ax: Axes | None = None) -> Axes:
    """num_tokens and num_computed_tokens of one request after each engine step.

    ``rows`` are simulate.trace_counters' CounterRows; x is the step number of the counter
    table (format_counter_table), each point the counters after that step, and "start" the
    request as added (prompt only, nothing computed). The gap between the two lines is what
    the scheduler computes next (vLLM's one rule: num_tokens - num_computed_tokens).
    """
    mine = [r for r in rows if r.request_id == request_id]
    if not mine:
        raise ValueError(f"no rows for request_id {request_id!r}; "
                         f"the rows hold {sorted({r.request_id for r in rows})}")
    ax = new_axes(ax)
    start = mine[0].step - 1  # one step before the request's first row: as added
    steps = [start] + [r.step for r in mine]
    ax.step(steps, [mine[0].num_prompt_tokens] + [r.num_tokens for r in mine], where="post",
            color=OKABE_ITO["blue"], lw=2.5, marker="o", label="num_tokens")
    ax.step(steps, [0] + [r.num_computed_tokens for r in mine], where="post",
            color=OKABE_ITO["vermillion"], lw=2.5, ls="--", marker="s",
            label="num_computed_tokens")
    stride = int(np.ceil((mine[-1].step - start + 1) / 10))  # at most ~10 labelled steps
    ticks = list(range(start, mine[-1].step + 1, stride))
    ax.set_xticks(ticks, ["start"] + [f"{t}" for t in ticks[1:]])
    ax.set_xlim(start - 0.4, mine[-1].step + 0.4)
    ax.grid(alpha=0.3)
    return _finish(ax, title or f"Request {request_id}: its two counters",
                   "engine step (as in the table; counters after the step)", "tokens",
                   legend="center right")


# ---- 6b. throughput against latency ----------------------------------------------------------
def plot_throughput_latency(batch_sizes: Sequence[int], itl_s, tokens_per_s, *,
                            max_num_seqs: int, title: str = "", ax: Axes | None = None) -> Axes:
    """Total tokens/s against ITL, one point per batch size: bigger batches, slower tokens.

    ``max_num_seqs`` is how many sequences fit at once (memory.max_sequences_naive): a batch
    beyond it cannot run, so it raises ValueError; a batch equal to it is marked "memory full".
    Both axes are logarithmic, so the small batches, close together in ms, stay apart.
    """
    batches = [int(b) for b in batch_sizes]
    too_big = [b for b in batches if b > max_num_seqs]
    if max_num_seqs < 1 or too_big:
        raise ValueError(f"batch_sizes must lie in 1..max_num_seqs={max_num_seqs:,} (the "
                         f"sequences that fit); got {too_big or batches}")
    itl_ms = 1e3 * np.asarray(itl_s, dtype=float)  # (num_batches,)
    tokens_per_s = np.asarray(tokens_per_s, dtype=float)  # (num_batches,)
    if not len(batches) == len(itl_ms) == len(tokens_per_s):
        raise ValueError("batch_sizes, itl_s and tokens_per_s need one entry per batch; got "
                         f"{len(batches)}, {len(itl_ms)}, {len(tokens_per_s)}")
    ax = new_axes(ax)
    ax.plot(itl_ms, tokens_per_s, "o-", color=OKABE_ITO["blue"], lw=2.5, ms=7, gid="batch")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(itl_ms.min() / 1.25, itl_ms.max() * 1.6)  # room right of the last point
    ax.set_ylim(tokens_per_s.min() / 2, tokens_per_s.max() * 2)
    for axis, values in ((ax.xaxis, itl_ms), (ax.yaxis, tokens_per_s)):
        _log_axis(axis, span=np.log10(values.max() / values.min()) + 0.3)
    ax.grid(alpha=0.3)
    _finish(ax, title or "Bigger batches: more tokens/s, slower tokens",
            "latency: ITL per token (ms, log scale)", "throughput: tokens/s, all users",
            legend=None)
    names = [f"batch {b:,}" + (" (memory full)" if b == max_num_seqs else "") for b in batches]
    _place_labels(ax, list(zip(itl_ms, tokens_per_s, names)), [], gid="batch-label")
    return ax


# ---- 7. Little's law ------------------------------------------------------------------------
def plot_littles_law(throughput_per_s: float, latency_s: float, *,
                     max_concurrency: float | None = None, capacity_label: str = "KV memory",
                     ax: Axes | None = None) -> Axes:
    """Concurrency N = X * L needed vs throughput X at a fixed latency L, against a memory cap."""
    ax = new_axes(ax)
    needed = roofline.littles_law_concurrency(throughput_per_s, latency_s)
    x_max = 2 * throughput_per_s
    if max_concurrency is not None:
        x_max = max(x_max, 1.3 * max_concurrency / latency_s)
    x = np.linspace(0, x_max, 64)
    ax.plot(x, [roofline.littles_law_concurrency(v, latency_s) for v in x], color=OKABE_ITO["blue"],
            lw=2.5, label=f"N = X x L  (L = {latency_s:g} s)")
    ax.plot([throughput_per_s], [needed], "o", color=OKABE_ITO["orange"], ms=11,
            label=f"X = {throughput_per_s:g}/s needs N = {count_text(needed)}")
    if max_concurrency is not None:
        max_concurrency = whole_sequences(max_concurrency)
        ax.axhline(max_concurrency, color=OKABE_ITO["vermillion"], lw=2,
                   label=f"memory holds {plural(max_concurrency, 'sequence')}")
        ax.axhspan(max_concurrency, max(needed, max_concurrency) * 1.3,
                   color=OKABE_ITO["vermillion"], alpha=0.08, lw=0)
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, max(needed, max_concurrency or 0) * 1.25 or 1)
    title = f"Little's law at latency L = {latency_s:g} s" + (
        f"\n{capacity_label}" if max_concurrency is not None else "")
    _finish(ax, title, "throughput X (requests/s)", "concurrency N (requests)")
    return ax


# ---- 8. BPE: vocabulary size against sequence length ------------------------------------------
def plot_bpe_tradeoff(num_merges_list: Sequence[int], vocab_sizes: Sequence[int], seq_lengths,
                      *, num_merges: int | None = None, ax: Axes | None = None) -> Axes:
    """Tokens per byte of each text against vocabulary size as BPE merges are added.

    ``seq_lengths`` maps a text's label to its token counts, one per entry of ``num_merges_list``
    (a bare sequence is one text); ``num_merges_list`` starts at 0, so the first count is the
    text's length in bytes. ``num_merges`` marks one entry of ``num_merges_list``.
    """
    merges = list(num_merges_list)
    series = dict(seq_lengths) if hasattr(seq_lengths, "items") else {"text": seq_lengths}
    if not merges or merges[0] != 0 or len(vocab_sizes) != len(merges):
        raise ValueError("num_merges_list must start at 0 and match vocab_sizes in length; got "
                         f"{len(merges)} merges starting at {merges[:1]}, {len(vocab_sizes)} sizes")
    if any(len(lengths) != len(merges) for lengths in series.values()):
        raise ValueError("every entry of seq_lengths needs one count per entry of num_merges_list")
    at = None if num_merges is None else merges.index(num_merges)  # ValueError if not listed
    ax = new_axes(ax)
    for (label, lengths), color in zip(series.items(), CYCLE):
        relative = np.asarray(lengths, dtype=float) / lengths[0]  # 1.0 = one token per byte
        ax.plot(vocab_sizes, relative, color=color, lw=2.5, label=label)
        if at is not None:
            ax.plot([vocab_sizes[at]], [relative[at]], "o", color=color, ms=9)
    ax.set_ylim(0, 1.05)
    if at is None:
        title = f"BPE: {merges[-1]} merges, vocabulary {vocab_sizes[0]} to {vocab_sizes[-1]} tokens"
    else:
        counts = ", ".join(f"{label} {lengths[at]:,}" for label, lengths in series.items())
        title = (f"BPE: {plural(num_merges, 'merge')}, vocabulary {vocab_sizes[at]:,} tokens\n"
                 f"length in tokens: {counts}")
    return _finish(ax, title, "vocabulary size (tokens)", "sequence length (tokens per byte)",
                   legend="upper right")


# ---- number formats -------------------------------------------------------------------------
BIT_FIELD_COLORS = {"sign": OKABE_ITO["vermillion"], "exponent": OKABE_ITO["blue"],
                    "mantissa": OKABE_ITO["orange"]}
# Narrower than FIGSIZE with larger text: a phone shows the figure at ~340 px wide, and the
# labels must still read there (14 pt at DPI 80 is ~13 px on a phone, ~16 px on a laptop).
BIT_LAYOUT_WIDTH = 5.2      # inches
BIT_LAYOUT_TEXT_SIZE = 14   # points: title, row labels, legend, ticks


def plot_bit_layouts(formats: Sequence[str] = ("float32", "bfloat16", "float16",
                                               "float8_e4m3fn", "float8_e5m2"), *,
                     title: str = "", ax: Axes | None = None) -> Axes:
    """One row per float format, one box per bit: sign, exponent and mantissa bits coloured.

    Each row's label ("float16 · 16 bits: 1 + 5 + 10") is dark text above its boxes, so no
    cell edge crosses it; the legend sits in a row of its own above the first format.
    """
    infos = [numformats.format_info(name) for name in formats]
    ints = [info.name for info in infos if info.kind != "float"]
    if ints or not infos:
        raise ValueError(f"formats must be float formats, one of "
                         f"{list(numformats.FLOAT_FORMATS)}; got {list(formats)}")
    size = BIT_LAYOUT_TEXT_SIZE
    ax = new_axes(ax, (BIT_LAYOUT_WIDTH, 1.9 + 0.8 * len(infos)), left=0.04, bottom=0.16,
                  right=0.96)
    for row, info in enumerate(infos):
        y = len(infos) - 1 - row                       # first format on top
        start = 0
        for field, colour in BIT_FIELD_COLORS.items():
            for bit in range(start, start + getattr(info, f"{field}_bits")):
                ax.add_patch(Rectangle((bit, y), 1, 0.45, facecolor=colour,
                                       edgecolor="white", lw=1, gid=field))
            start += getattr(info, f"{field}_bits")
        split = " + ".join(str(getattr(info, f"{f}_bits")) for f in BIT_FIELD_COLORS)
        ax.text(0, y + 0.52, f"{info.name} · {info.bits} bits: {split}", ha="left",
                va="bottom", fontsize=size, color="black", gid="row_label")
    ax.set_xlim(0, max(info.bits for info in infos))
    ax.set_ylim(-0.15, len(infos) + 0.55)              # the top 0.55: the legend's row
    ax.set_xticks(range(0, max(info.bits for info in infos) + 1, 8))
    ax.set_yticks([])
    handles = [Patch(facecolor=c, label=f) for f, c in BIT_FIELD_COLORS.items()]
    ax.legend(handles=handles, fontsize=size, loc="upper left", ncol=3, frameon=False,
              borderaxespad=0, handlelength=1.2, columnspacing=1.2, bbox_to_anchor=(0, 1))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    _finish(ax, title or "Bits of each float format", "bit position (most significant first)",
            "", legend=None)
    ax.title.set_fontsize(size)
    ax.xaxis.label.set_fontsize(size)
    ax.tick_params(labelsize=size)
    return ax
