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

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from . import memory, numformats, roofline
from .config import ModelConfig
from .sampler import SamplingParams, apply_temperature, probabilities
from .style import (ANNOTATION_SIZE, COMPUTE_BOUND_FILL, CYCLE, FIGSIZE, GREY, LABEL_SIZE, LEGEND_SIZE,
                    MEMORY_BOUND_FILL, OKABE_ITO, TICK_SIZE, TITLE_SIZE, figure_dpi)
from .units import GiB, format_count

__all__ = ["plot_roofline", "plot_kv_growth", "plot_attention", "plot_sampling",
           "plot_kv_cache_work", "plot_kv_cache_time", "plot_prefill_decode_timing",
           "plot_littles_law", "plot_bpe_tradeoff", "plot_throughput_latency", "plot_in_flight",
           "plot_latency_histogram", "plot_request_counters", "new_axes"]


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
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=LEGEND_SIZE, loc=legend, framealpha=0.9)
    return ax


MASKED_RGBA = (0.87, 0.87, 0.87, 1.0)  # light grey: cells the causal mask removes
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
def plot_roofline(gpus, cfg: ModelConfig | None = None, *, batch_sizes: Sequence[int] = (1,),
                  prompt_len: int | None = 512, dtype: str | Sequence[str] = "bfloat16",
                  weight_dtype: str | None = None, context_len: int = 0,
                  measured: Sequence[tuple[float, float]] | None = None,
                  measured_label: str = "measured", ax: Axes | None = None) -> Axes:
    """Attainable FLOP/s vs arithmetic intensity (log-log) for each GPU, with decode/prefill points.

    The first GPU's ridge splits the plane into memory-bound (left, blue) and compute-bound
    (right, orange) regions. Decode points (one per batch size) and a prefill point of
    ``prompt_len`` tokens are placed on the first GPU's roof. ``measured`` is an optional list of
    (intensity FLOP/byte, achieved FLOP/s) pairs drawn as crosses. ``dtype`` is the math dtype
    (one for all GPUs, or one per GPU: a CPU has a float32 rate, not a bf16 one).
    """
    gpus = _as_list(gpus)
    dtypes = [dtype] * len(gpus) if isinstance(dtype, str) else list(dtype)
    if len(dtypes) != len(gpus):
        raise ValueError(f"give one dtype or one per GPU; got {len(dtypes)} for {len(gpus)} GPUs")
    ax = new_axes(ax)
    points = _roofline_points(gpus[0], cfg, batch_sizes, prompt_len, dtypes[0], weight_dtype,
                              context_len)
    ridges = [roofline.ridge_point(g, d) for g, d in zip(gpus, dtypes)]
    xs = [i for i, _, _ in points] + ridges + [i for i, _ in measured or []]
    lo, hi = 10 ** np.floor(np.log10(min(xs) / 3)), 10 ** np.ceil(np.log10(max(xs) * 3))
    ax.set_xlim(lo, hi)  # before the points: label spacing is measured in decades of the axis
    _draw_roofs(ax, gpus, dtypes, ridges, np.geomspace(lo, hi, 64))
    _draw_roofline_points(ax, points)
    if measured:
        mx, my = zip(*measured)
        ax.plot(mx, my, "x", color=OKABE_ITO["black"], ms=9, mew=2, label=measured_label)
    for axis in (ax.xaxis, ax.yaxis):
        _log_axis(axis)
    ax.set_xlim(lo, hi)
    ax.set_ylim(top=4 * max(roofline.attainable_flops(g, hi, d) for g, d in zip(gpus, dtypes)))
    what = f"{cfg.name}, {weight_dtype or cfg.dtype} weights, " if cfg is not None else ""
    math = "/".join(dict.fromkeys(dtypes))
    title = f"Roofline: {what}{math} math\non {', '.join(g.name for g in gpus)}"
    _finish(ax, title, "arithmetic intensity (FLOP/byte)", "attainable (FLOP/s)",
            legend="lower right")
    return ax


def _draw_roofs(ax: Axes, gpus, dtypes, ridges, intensity: np.ndarray) -> None:
    """One roof per GPU with its ridge marked; the first GPU's ridge splits the shaded regions."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvspan(intensity[0], ridges[0], color=MEMORY_BOUND_FILL, alpha=0.15, lw=0)
    ax.axvspan(ridges[0], intensity[-1], color=COMPUTE_BOUND_FILL, alpha=0.15, lw=0)
    ax.text(0.02, 0.96, "memory-bound", transform=ax.transAxes, va="top",
            fontsize=ANNOTATION_SIZE, color=OKABE_ITO["blue"])
    ax.text(0.98, 0.96, "compute-bound", transform=ax.transAxes, ha="right", va="top",
            fontsize=ANNOTATION_SIZE, color=OKABE_ITO["vermillion"])
    for k, (gpu, ridge, d) in enumerate(zip(gpus, ridges, dtypes)):
        color = CYCLE[k % len(CYCLE)]
        ax.plot(intensity, [roofline.attainable_flops(gpu, i, d) for i in intensity],
                color=color, lw=2.5, label=f"{gpu.name} roof")
        peak = roofline.attainable_flops(gpu, ridge, d)
        ax.plot([ridge], [peak], "D", color=color, ms=8)
        # Inside the axes and off the other roofs: the first ridge's label below its roof (left
        # of the diamond near the right edge), a compared GPU's above-left of its diamond.
        near_right = np.log(ridge / intensity[0]) > 0.7 * np.log(intensity[-1] / intensity[0])
        left = near_right or k > 0
        ax.annotate(f"ridge {ridge:,.0f} FLOP/B", (ridge, peak), xytext=(-6 if left else 4,
                    6 if k > 0 else -16), textcoords="offset points", fontsize=ANNOTATION_SIZE,
                    color=color, ha="right" if left else "left")


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


def _draw_roofline_points(ax: Axes, points) -> None:
    decode = [(i, f) for i, f, label in points if label.startswith("decode")]
    if decode:
        ax.plot(*zip(*decode), "o", color=OKABE_ITO["vermillion"], ms=9, label="decode")
    for i, f, label in points:
        if label.startswith("prefill"):
            ax.plot([i], [f], "s", color=OKABE_ITO["green"], ms=10, label=label)
    lo, hi = (np.log10(v) for v in ax.get_xlim())
    for i, f, label in _spaced_labels(points, gap=0.13 * (hi - lo)):
        ax.annotate(label.replace("decode ", ""), (i, f), xytext=(-6, 8),
                    textcoords="offset points", fontsize=ANNOTATION_SIZE, ha="right",
                    gid="decode-label", annotation_clip=True)


def _spaced_labels(points, gap: float) -> list:
    """The decode points worth a label: the chosen batch (the last), then walking down the
    ladder every point at least ``gap`` decades from the last labelled one and from the smallest
    batch, so labels like B=256, B=512, B=1024 on the flat roof never overlap."""
    decode = [p for p in points if p[2].startswith("decode")]
    if not decode:
        return []
    far = lambda p, q: abs(np.log10(p[0]) - np.log10(q[0])) >= gap  # noqa: E731
    kept = [decode[-1]]
    for p in reversed(decode[:-1]):
        if far(p, kept[-1]) and (p is decode[0] or far(p, decode[0])):
            kept.append(p)
    return kept[::-1]


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
    title = (f"KV cache of {cfg.name} ({cfg.attention_kind}, {cfg.num_kv_heads} KV heads, {kv})\n"
             f"on {num_gpus} x {gpu.name}, batch {batch_size}")
    _finish(ax, title, "context length per sequence (tokens)", "memory (GiB)")
    return ax


# ---- 3. attention weights -------------------------------------------------------------------
def plot_attention(weights, tokens: Sequence[str], *, layer: int | None = None,
                   head: int | None = None, kv_head: int | None = None,
                   masked: np.ndarray | None = None, heads_sharing: Sequence[int] | None = None,
                   ax: Axes | None = None) -> Axes:
    """Heatmap of one head's attention weights (queries x keys), tokens as tick labels.

    ``masked`` (bool, same shape) marks cells the causal mask removes: they are greyed out.
    ``kv_head``/``heads_sharing`` name the KV head this query head reads and its GQA group.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(tokens) or w.shape[0] > w.shape[1]:
        raise ValueError(f"weights must be (num_queries, num_keys={len(tokens)}); got {w.shape}")
    ax = new_axes(ax, ATTENTION_FIGSIZE, **ATTENTION_MARGINS)
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto",
                      interpolation="nearest")
    if masked is not None and np.any(masked):
        overlay = np.zeros(w.shape + (4,))  # (Tq, Tk, RGBA): transparent except masked cells
        overlay[np.asarray(masked, dtype=bool)] = MASKED_RGBA
        ax.imshow(overlay, aspect="auto", interpolation="nearest")
        ax.legend(handles=[Patch(color=MASKED_RGBA, label="removed by the causal mask")],
                  fontsize=LEGEND_SIZE, loc="upper right", framealpha=0.9)
    _token_ticks(ax, [_token_label(t) for t in tokens], w.shape[0])
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.02, ticks=[0, 0.5, 1])
    bar.set_label("attention weight", fontsize=LABEL_SIZE)
    bar.ax.tick_params(labelsize=TICK_SIZE)
    where = " ".join(p for p in (f"layer {layer}" if layer is not None else "",
                                 f"head {head}" if head is not None else "") if p)
    share = ""
    if kv_head is not None:
        group = ", ".join(str(h) for h in heads_sharing) if heads_sharing else str(head)
        share = f"\nreads KV head {kv_head} (shared by query heads {group})"
    title = f"Attention weights{', ' + where if where else ''}{share}"
    _finish(ax, title, "key token (attended to)", "query token (attending)", legend=None)
    return ax


def _token_ticks(ax: Axes, labels: list[str], num_queries: int) -> None:
    """Tokens under the columns and beside the rows, as plain Text artists (gid 'x-token' and
    'y-token'): dozens of Tick objects cost more to build and draw than the heatmap itself."""
    ax.set_xticks([])
    ax.set_yticks([])
    x_step, x_size = _label_spacing(ax, len(labels), "x")
    for j in range(0, len(labels), x_step):
        ax.text(j, -0.01, labels[j], transform=ax.get_xaxis_transform(), rotation=90,
                ha="center", va="top", fontsize=x_size, gid="x-token")
    rows = labels[len(labels) - num_queries:]  # the queries are the last tokens
    y_step, y_size = _label_spacing(ax, num_queries, "y")
    for i in range(0, num_queries, y_step):
        ax.text(-0.01, i, rows[i], transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize=y_size, gid="y-token")
    pad = 0.62 * TICK_SIZE * max(map(len, labels)) + 12  # points: room for the longest token
    ax.xaxis.labelpad = ax.yaxis.labelpad = pad


MIN_TOKEN_FONT = 5.5  # points; smaller than this, label every second token instead


def _label_spacing(ax: Axes, count: int, axis: str) -> tuple[int, float]:
    """(every how many tokens to label, font size in points) so labels never overlap: every
    token while a font of MIN_TOKEN_FONT fits in one cell, shrinking from TICK_SIZE."""
    width, height = ax.figure.get_size_inches() * 72  # points
    box = ax.get_position()
    cell = (box.width * width if axis == "x" else box.height * height) / max(count, 1)
    size = min(TICK_SIZE, 0.85 * cell)
    if size >= MIN_TOKEN_FONT:
        return 1, size
    return int(np.ceil(MIN_TOKEN_FONT / (0.85 * cell))), MIN_TOKEN_FONT


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
    order = np.argsort(-tempered, kind="stable")[:top_n]
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
    labels = token_labels if token_labels is not None else [str(i) for i in range(len(logits))]
    ax.set_xticks(x, [_token_label(labels[i]) for i in order],
                  rotation=60 if len(order) > 12 else 0)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylim(0, min(1.05, max(final.max(), tempered[order].max()) * 1.15 + 0.03))
    tk = "all" if params.top_k is None else params.top_k
    title = (f"Next-token probabilities: T={params.temperature:g}, top-k={tk}, "
             f"top-p={params.top_p:g}\n{num_kept:,} of {len(logits):,} tokens kept; "
             f"top {len(order)} shown")
    return _finish(ax, title, "token (most likely first)", "probability", legend="upper right")


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
    for axis in (ax.xaxis, ax.yaxis):  # counts: no 0.95 or repeated 8, 8, 8 tick labels
        axis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_count(int(v), short=True)))
    prompt = f", prompt {prompt_len} tokens" if prompt_len is not None else ""
    return _finish(ax, f"Work to generate n tokens (toy model{prompt})",
                   "generated tokens n", "tokens processed (count)")


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
    prompt = f", prompt {prompt_len} tokens" if prompt_len is not None else ""
    return _finish(ax, f"Wall time on {machine} (toy model{prompt})", "generated tokens n",
                   "time (ms)")


# ---- 6. prefill vs decode on this machine -----------------------------------------------------
def plot_prefill_decode_timing(num_tokens, prefill_s, decode_s, *, machine: str = "this machine",
                               model_name: str = "toy", ax: Axes | None = None) -> Axes:
    """Time per token: one prefill pass over n tokens vs n one-token decode steps."""
    ax = new_axes(ax)
    n = np.asarray(num_tokens, dtype=float)
    ax.plot(n, 1e6 * np.asarray(prefill_s) / n, "s-", color=OKABE_ITO["green"], lw=2.5, ms=6,
            label="prefill: n tokens in one pass")
    ax.plot(n, 1e6 * np.asarray(decode_s) / n, "o-", color=OKABE_ITO["vermillion"], lw=2.5, ms=6,
            label="decode: n passes of one token")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(n, [f"{v:,.0f}" for v in n])
    ax.xaxis.set_minor_locator(NullLocator())
    values = 1e6 * np.concatenate([np.asarray(prefill_s) / n, np.asarray(decode_s) / n])
    _log_axis(ax.yaxis, span=np.log10(values.max() / values.min()))
    return _finish(ax, f"Prefill vs decode, {model_name} model on {machine}",
                   "tokens n", "time per token (µs)", legend="lower left")


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
    ax.hist(latency, bins=np.arange(0, latency.max() + 2 * bin_s, bin_s), color=OKABE_ITO["green"])
    ax.axvline(sim.mean_latency_s, color=OKABE_ITO["vermillion"], ls="--", lw=2,
               label=f"mean L = {sim.mean_latency_s:.3f} s")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return _finish(ax, "Time each request spent inside", "latency (s)", "requests",
                   legend="upper right")


def plot_request_counters(rows, request_id: str, *, title: str = "",
                          ax: Axes | None = None) -> Axes:
    """num_tokens and num_computed_tokens of one request after each engine step.

    ``rows`` are simulate.trace_counters' CounterRows; the gap between the two lines is what the
    scheduler computes next (vLLM's one rule: num_tokens - num_computed_tokens).
    """
    mine = [r for r in rows if r.request_id == request_id]
    if not mine:
        raise ValueError(f"no rows for request_id {request_id!r}; "
                         f"the rows hold {sorted({r.request_id for r in rows})}")
    ax = new_axes(ax)
    steps = [0] + [r.step + 1 for r in mine]  # x = engine steps completed
    ax.step(steps, [mine[0].num_prompt_tokens] + [r.num_tokens for r in mine], where="post",
            color=OKABE_ITO["blue"], lw=2.5, marker="o", label="num_tokens")
    ax.step(steps, [0] + [r.num_computed_tokens for r in mine], where="post",
            color=OKABE_ITO["vermillion"], lw=2.5, ls="--", marker="s",
            label="num_computed_tokens")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return _finish(ax, title or f"Request {request_id}: its two counters",
                   "engine steps completed", "tokens", legend="center right")


# ---- 6b. throughput against latency ----------------------------------------------------------
def plot_throughput_latency(batch_sizes: Sequence[int], itl_s, tokens_per_s, *, title: str = "",
                            ax: Axes | None = None) -> Axes:
    """Total tokens/s against ITL, one point per batch size: bigger batches, slower tokens."""
    ax = new_axes(ax)
    itl_ms = 1e3 * np.asarray(itl_s, dtype=float)  # (num_batches,)
    tokens_per_s = np.asarray(tokens_per_s, dtype=float)  # (num_batches,)
    ax.plot(itl_ms, tokens_per_s, "o-", color=OKABE_ITO["blue"], lw=2.5, ms=7)
    for b, x, y in zip(batch_sizes, itl_ms, tokens_per_s):
        ax.annotate(f"batch {b:,}", (x, y), textcoords="offset points", xytext=(6, -12),
                    fontsize=ANNOTATION_SIZE)
    ax.set_xlim(0, itl_ms.max() * 1.25)  # room for the last annotation
    ax.set_ylim(0, tokens_per_s.max() * 1.1)
    ax.grid(alpha=0.3)
    return _finish(ax, title or "Bigger batches: more tokens/s, slower tokens",
                   "latency: ITL per token (ms)", "throughput: tokens/s, all users", legend=None)


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
            label=f"X = {throughput_per_s:g}/s needs N = {needed:,.1f}")
    if max_concurrency is not None:
        ax.axhline(max_concurrency, color=OKABE_ITO["vermillion"], lw=2,
                   label=f"memory holds {max_concurrency:,.1f} sequences")
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
        plural = "" if num_merges == 1 else "s"
        title = (f"BPE: {num_merges} merge{plural}, vocabulary {vocab_sizes[at]:,} tokens\n"
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
