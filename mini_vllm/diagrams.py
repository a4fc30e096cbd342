"""Concept diagrams drawn by code: shapes from a real ModelConfig, numbers from the package.

Each ``draw_<thing>(..., *, ax=None) -> Axes`` draws on ``ax`` (or a new pyplot figure), never
calls ``plt.show()``, never touches global ``rcParams``, and leaves what it drew in
``ax.diagram_data`` (a dict) so tests can check the picture against the package. The box-and-arrow
diagrams lay out in inches of their default figure (data units = inches, 7 in wide); on a
smaller ``ax`` they scale while the text keeps its size.

References:
    Vaswani et al., "Attention Is All You Need" (2017): https://arxiv.org/abs/1706.03762
    Ainslie et al., "GQA" (2023): https://arxiv.org/abs/2305.13245
    Williams, Waterman & Patterson, "Roofline" (CACM 2009): https://doi.org/10.1145/1498765.1498785
    vLLM chunked prefill: https://docs.vllm.ai/en/stable/configuration/optimization/
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgba
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from . import roofline
from .catalog import LLAMA_3_8B
from .config import TOY, ModelConfig
from .engine import LLMEngine
from .memory import (_check_bool, _check_config, _check_count, kv_bytes_per_sequence,
                     kv_bytes_per_token, num_params, param_breakdown)
from .model import causal_mask, softmax
from .plots import _log_axis, new_axes, plural
from .request import Request
from .sampler import SamplingParams
from .simulate import CounterRow, trace_counters
from .style import (ANNOTATION_SIZE, COMPUTE_BOUND_FILL, FIGSIZE, GREY, LABEL_SIZE,
                    MEMORY_BOUND_FILL, OKABE_ITO, TITLE_SIZE)
from .units import format_bytes, format_count, format_flops, format_flops_per_s

__all__ = ["draw_decoder_stack", "draw_attention_matrices", "draw_kv_cache_growth",
           "draw_request_timeline", "draw_annotated_roofline", "draw_counters_race",
           "draw_mlp_cost_split", "kv_growth_shapes", "timeline_steps", "roofline_points",
           "counter_states", "mlp_cost_split"]

WIDTH = FIGSIZE[0]  # inches: every diagram is as wide as the book's plots
SMALL = 9  # points: the smallest text a diagram uses (cell and axis labels)
SIZE = ANNOTATION_SIZE
C = OKABE_ITO
MAX_TOKENS = 8  # attention prompt: more and the T x T grids stop being readable
MAX_STEPS = 16  # timeline columns that stay legible at 7 in


# ---- checks ---------------------------------------------------------------------------------
def _check_range(name: str, value, low: int, high: int) -> int:
    """An int in low..high, else ValueError naming the argument and the range."""
    if _check_count(name, value, low) > high:
        raise ValueError(f"{name} must be an integer in {low}..{high}; got {value!r}")
    return value


def _check_plain_attention(cfg, name: str = "cfg") -> ModelConfig:
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"{name} must be a ModelConfig; got {type(cfg).__name__}")
    if cfg.is_mla:
        raise ValueError(f"{name} must use K/V heads (MHA, GQA or MQA); {cfg.name} is MLA, "
                         f"which caches one latent per token")
    return cfg


def _check_axes(ax) -> None:
    if ax is not None and not isinstance(ax, Axes):
        raise ValueError(f"ax must be None or a matplotlib Axes; got {type(ax).__name__}")


# ---- drawing helpers (units: inches of the default figure) -----------------------------------
def _canvas(ax: Axes | None, height: float) -> tuple[Axes, bool]:
    """(ax, created): a new WIDTH x height figure whose Axes fills it, axis off."""
    _check_axes(ax)
    created = ax is None
    ax = new_axes(ax, (WIDTH, height), left=0.0, bottom=0.0, right=1.0)
    if created:
        ax.figure.subplots_adjust(top=1.0)
    ax.set_axis_off()
    return ax, created


def _fit(ax: Axes, created: bool, depth: float) -> None:
    """Show x in 0..WIDTH and y in -depth..0; a figure made here gets depth inches of height."""
    if created:
        ax.figure.set_size_inches(WIDTH, depth)
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(-depth, 0)
    ax.set_aspect("equal")


def _tint(color: str, alpha: float = 0.2) -> tuple:
    return to_rgba(color, alpha)


def _text(ax: Axes, x: float, y: float, s: str, *, size: float = SIZE, gid: str | None = None,
          **kw):
    return ax.text(x, y, s, fontsize=size, gid=gid, **kw)


def _box(ax: Axes, x: float, y: float, w: float, h: float, color: str, text: str = "", *,
         alpha: float = 0.2, size: float = SIZE, ls: str = "-", gid: str | None = None) -> None:
    """A rounded box with its lower-left corner at (x, y), text centred."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.05",
                                fc=_tint(color, alpha), ec=color, lw=1.4, ls=ls, gid=gid))
    if text:
        _text(ax, x + w / 2, y + h / 2, text, size=size, ha="center", va="center", gid=gid)


def _arrow(ax: Axes, *points: tuple[float, float]) -> None:
    """An arrow along a polyline of two or more points, head at the last."""
    codes = [Path.MOVETO] + [Path.LINETO] * (len(points) - 1)
    ax.add_patch(FancyArrowPatch(path=Path(points, codes), arrowstyle="-|>", mutation_scale=11,
                                 color="black", lw=1.3))


def _cells(ax: Axes, x: float, y_top: float, colors: np.ndarray, cw: float,
           ch: float | None = None, gid: str | None = None) -> None:
    """A grid of cells (rows, cols, RGBA) with its top-left corner at (x, y_top)."""
    ch = cw if ch is None else ch
    rows, cols = colors.shape[:2]
    boxes = [Rectangle((x + j * cw, y_top - (i + 1) * ch), cw, ch)
             for i in range(rows) for j in range(cols)]
    ax.add_collection(PatchCollection(boxes, facecolors=colors.reshape(-1, 4), edgecolors="white",
                                      linewidths=0.8, gid=gid))


def _fill(rows: int, cols: int, color: str, alpha: float = 1.0) -> np.ndarray:
    return np.tile(np.array(_tint(color, alpha)), (rows, cols, 1))  # (rows, cols, 4)


def _bracket(ax: Axes, x0: float, x1: float, y: float, text: str, *, gid: str) -> None:
    """A horizontal bracket from x0 to x1 with ticks pointing up and text below it."""
    ax.plot([x0, x0, x1, x1], [y + 0.08, y, y, y + 0.08], color="black", lw=1.2)
    _text(ax, (x0 + x1) / 2, y - 0.05, text, ha="center", va="top", gid=gid)


# ---- 1. the decoder stack --------------------------------------------------------------------
SPINE_X = 1.45  # the residual stream's vertical line
BRANCH_X = 3.25  # left edge of the attention and MLP boxes
LINE = 0.25  # inches per text line inside a box


def _tokens(n: int) -> str:
    return plural(n, "token")


def _shape(*dims) -> str:
    """(8, 64) style, and (8,) for one dimension, as numpy prints shapes."""
    return str(tuple(int(d) for d in dims))


def _attention_lines(cfg: ModelConfig, t: int) -> tuple[str, list[tuple[str, str]]]:
    """Header and (expression, shape) lines of the attention box."""
    h, d, nq, nkv = cfg.hidden_size, cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
    rope = cfg.position_embedding == "rope"
    return (f"attention · {nq} heads, {nkv} KV heads ({cfg.attention_kind})", [
        ("Q = RoPE(x·W_q)" if rope else "Q = x·W_q", f"({t}, {nq}×{d})"),
        ("K = RoPE(x·W_k)" if rope else "K = x·W_k", f"({t}, {nkv}×{d})"),
        ("V = x·W_v", f"({t}, {nkv}×{d})"),
        ("softmax(QKᵀ/√d)·V, per head", _shape(nq, t, d)),
        ("out = concat·W_o", _shape(t, h))])


def _mlp_width(cfg: ModelConfig) -> int:
    """Width of the MLP's middle: one expert's for a mixture of experts."""
    return (cfg.moe_intermediate_size or cfg.intermediate_size) if cfg.is_moe else \
        cfg.intermediate_size


def _mlp_lines(cfg: ModelConfig, t: int) -> tuple[str, list[tuple[str, str]]]:
    """Header and (expression, shape) lines of the MLP box."""
    h = cfg.hidden_size
    if cfg.mlp_type == "gelu":
        i = cfg.intermediate_size
        return (f"MLP · GELU, intermediate {i}", [
            ("up = x·W_up + b", _shape(t, i)), ("a = GELU(up)", _shape(t, i)),
            ("out = a·W_down + b", _shape(t, h))])
    i = _mlp_width(cfg)
    head = (f"MoE MLP · {cfg.num_experts_per_tok} of {cfg.num_experts} experts, each {i} wide"
            if cfg.is_moe else f"MLP · SwiGLU, intermediate {i}")
    return head, [("gate = x·W_gate", _shape(t, i)), ("up = x·W_up", _shape(t, i)),
                  ("a = SiLU(gate) ⊙ up", _shape(t, i)), ("out = a·W_down", _shape(t, h))]


def _spine_box(ax: Axes, y: float, label: str, note: str, color: str) -> float:
    """A box on the spine with its top at depth y and a note to its right; returns its bottom."""
    _box(ax, 0.35, y - 0.4, 2.2, 0.4, color, label, gid="stack-box")
    _text(ax, 2.8, y - 0.2, note, va="center", gid="stack-note")
    return y - 0.4


def _sublayer(ax: Axes, y: float, norm: str, header: str, lines, color: str) -> float:
    """Spine -> norm -> a box of (expression, shape) lines -> back to a residual add on the
    spine; the box's top is at depth y, its bottom is returned."""
    height = 0.42 + LINE * len(lines)
    top, y_in = y, y - 0.25
    y_add = top - height + 0.2
    _arrow(ax, (SPINE_X, y_in), (1.8, y_in))
    _box(ax, 1.8, y_in - 0.18, 1.05, 0.36, GREY, norm, gid="norm")
    _arrow(ax, (2.85, y_in), (BRANCH_X, y_in))
    _box(ax, BRANCH_X, top - height, WIDTH - 0.1 - BRANCH_X, height, color)
    _text(ax, BRANCH_X + 0.12, top - 0.08, header, va="top", weight="bold", gid="header")
    for k, (expr, shape) in enumerate(lines):
        yk = top - 0.36 - LINE * (k + 0.5)
        _text(ax, BRANCH_X + 0.12, yk, expr, va="center", gid="expr")
        _text(ax, WIDTH - 0.22, yk, shape, va="center", ha="right", gid="shape")
    _arrow(ax, (BRANCH_X, y_add), (SPINE_X + 0.11, y_add))
    ax.add_patch(Circle((SPINE_X, y_add), 0.11, fc="white", ec="black", lw=1.3, zorder=3))
    ax.plot([SPINE_X - 0.06, SPINE_X + 0.06], [y_add] * 2, color="black", lw=1.3, zorder=4)
    ax.plot([SPINE_X] * 2, [y_add - 0.06, y_add + 0.06], color="black", lw=1.3, zorder=4)
    _text(ax, 1.75, y_add + 0.04, "residual add", size=SMALL, va="bottom", gid="add")
    return top - height


def _first_block(ax: Axes, cfg: ModelConfig, t: int, y: float) -> float:
    """Block 1 drawn in full inside a dashed frame, top at depth y; returns its bottom."""
    norm = "RMSNorm" if cfg.norm_type == "rmsnorm" else "LayerNorm"
    _text(ax, 1.75, y - 0.12, f"decoder block 1 of {cfg.num_layers}", size=LABEL_SIZE,
          va="top", weight="bold", gid="block")
    bottom = _sublayer(ax, y - 0.55, norm, *_attention_lines(cfg, t), C["blue"])
    bottom = _sublayer(ax, bottom - 0.35, norm, *_mlp_lines(cfg, t), C["orange"])
    ax.add_patch(FancyBboxPatch((0.15, bottom - 0.2), WIDTH - 0.2, y - bottom + 0.2,
                                boxstyle="round,pad=0,rounding_size=0.08", fc="none",
                                ec=GREY, lw=1.2, ls="--"))
    _text(ax, 0.75, (y + bottom) / 2, f"residual stream x: {_shape(t, cfg.hidden_size)}",
          rotation=90, ha="center", va="center", color=C["blue"], gid="spine")
    return bottom - 0.2


def _later_blocks(ax: Axes, cfg: ModelConfig, y: float) -> float:
    """'⋮' for the middle blocks and block N as one box; returns the bottom depth."""
    n = cfg.num_layers
    if n >= 3:
        middle = f"blocks 2–{n - 1}: the same shapes" if n > 3 else "block 2: the same shapes"
        _text(ax, 1.75, y - 0.25, f"⋮   {middle}", va="center", gid="dots")
        y -= 0.5
    if n >= 2:
        y -= 0.15
        _box(ax, 0.15, y - 0.45, WIDTH - 0.2, 0.45, GREY, alpha=0.1)
        _text(ax, 1.75, y - 0.225, f"decoder block {n}: the same shapes, its own weights",
              va="center", gid="block")
        y -= 0.45
    return y


def _stack_output(ax: Axes, cfg: ModelConfig, t: int, y: float) -> float:
    """Final norm -> LM head -> logits below the spine's end at depth y; returns the bottom."""
    h, v = cfg.hidden_size, cfg.vocab_size
    norm = "RMSNorm" if cfg.norm_type == "rmsnorm" else "LayerNorm"
    head = "W_head = embedding tableᵀ (tied)" if cfg.tie_word_embeddings else \
        f"x·W_head, W_head {_shape(h, v)}"
    for label, note, color in ((f"final {norm}", _shape(t, h), GREY),
                               ("LM head", head, C["purple"]),
                               ("logits", f"{_shape(t, v)}: a score per vocabulary entry",
                                C["vermillion"])):
        _arrow(ax, (SPINE_X, y), (SPINE_X, y - 0.3))
        y = _spine_box(ax, y - 0.3, label, note, color)
    return y


def draw_decoder_stack(cfg: ModelConfig, *, seq_len: int = 8, ax: Axes | None = None) -> Axes:
    """Token ids -> embedding -> decoder blocks on the residual stream -> LM head -> logits."""
    _check_plain_attention(cfg)
    t = _check_range("seq_len", seq_len, 1, cfg.max_position_embeddings)
    h, v = cfg.hidden_size, cfg.vocab_size
    ax, created = _canvas(ax, 9.0)
    _text(ax, WIDTH / 2, -0.1, f"{cfg.name}: {cfg.num_layers} decoder blocks, {_tokens(t)}",
          size=TITLE_SIZE, ha="center", va="top", gid="title")
    pos = " + positions" if cfg.position_embedding == "learned" else ""
    y = _spine_box(ax, -0.55, "token ids", f"{_shape(t)} integers in 0..{v - 1}", GREY)
    _arrow(ax, (SPINE_X, y), (SPINE_X, y - 0.3))
    top = _spine_box(ax, y - 0.3, "embedding", f"rows of table {_shape(v, h)}{pos} → x "
                     f"{_shape(t, h)}", C["green"])
    y = _later_blocks(ax, cfg, _first_block(ax, cfg, t, top - 0.2))
    ax.plot([SPINE_X, SPINE_X], [top, y], color=C["sky_blue"], lw=5, zorder=0)  # the stream
    _fit(ax, created, -_stack_output(ax, cfg, t, y) + 0.15)
    ax.diagram_data = {"residual": (t, h), "q": (t, cfg.num_heads, cfg.head_dim),
                       "k": (t, cfg.num_kv_heads, cfg.head_dim),
                       "v": (t, cfg.num_kv_heads, cfg.head_dim),
                       "mlp_hidden": (t, _mlp_width(cfg)), "embedding_table": (v, h),
                       "logits": (t, v), "num_layers": cfg.num_layers}
    return ax


# ---- 2. attention as matrices ---------------------------------------------------------------
D_CELLS = 3  # head_dim is drawn as three columns whatever its size: the label gives the number
TOKEN_X = 0.8  # right edge of the token labels


def _matrix(ax: Axes, x: float, y_top: float, colors: np.ndarray, cw: float, name: str,
            shape: tuple[int, int], *, masked: np.ndarray | None = None) -> float:
    """A matrix of cells with its name and shape below; × on masked cells; returns its right x."""
    rows, cols = colors.shape[:2]
    _cells(ax, x, y_top, colors, cw, gid=name)
    if masked is not None and masked.any():
        i, j = np.nonzero(masked)
        ax.plot(x + (j + 0.5) * cw, y_top - (i + 0.5) * cw, "x", color="black", ms=5.5, mew=1.3,
                gid="masked")
    below = y_top - rows * cw - 0.06
    _text(ax, x + cols * cw / 2, below, f"{name}\n{shape[0]}×{shape[1]}", ha="center",
          va="top", linespacing=1.3, gid="matrix-label")
    return x + cols * cw


def _operator(ax: Axes, x: float, y: float, symbol: str) -> float:
    _text(ax, x + 0.17, y, symbol, size=LABEL_SIZE, ha="center", va="center", gid="operator")
    return x + 0.34


def _token_labels(ax: Axes, tokens: Sequence[str], y_top: float, cw: float, *,
                  columns_at: float | None = None) -> None:
    """Token names left of the rows (queries), or above the columns at x=columns_at (keys).

    Spaces show as '␣', tokens longer than 6 characters are cut ('…'); key labels turn upright
    only when a token is longer than two characters.
    """
    shown = [_shown(s) for s in tokens]
    turn = 90 if max(len(s) for s in shown) > 2 else 0
    for k, token in enumerate(shown):
        if columns_at is None:
            _text(ax, TOKEN_X, y_top - (k + 0.5) * cw, token, size=SMALL, ha="right",
                  va="center", gid="token")
        else:
            _text(ax, columns_at + (k + 0.5) * cw, y_top + 0.06, token, size=SMALL,
                  ha="center", va="bottom", rotation=turn, gid="token")


def _shown(token: str) -> str:
    token = token.replace(" ", "␣")
    return token if len(token) <= 6 else token[:5] + "…"


def _label_room(tokens: Sequence[str]) -> float:
    """Inches above the first row that the key labels need."""
    longest = max(len(_shown(s)) for s in tokens)
    return 0.25 if longest <= 2 else 0.12 + 0.075 * longest


def _scores_row(ax: Axes, t: int, d: int, tokens, cw: float, y: float, masked) -> float:
    """Q · Kᵀ = S, then ÷√d and the mask; returns the right edge of the masked matrix."""
    mid = y - t * cw / 2
    _token_labels(ax, tokens, y, cw)
    x = _matrix(ax, TOKEN_X + 0.1, y, _fill(t, D_CELLS, C["blue"], 0.55), cw, "Q", (t, d))
    x = _operator(ax, x, mid, "·")
    kt_top = mid + D_CELLS * cw / 2
    _token_labels(ax, tokens, kt_top, cw, columns_at=x)
    x = _matrix(ax, x, kt_top, _fill(D_CELLS, t, C["orange"], 0.55), cw, "Kᵀ", (d, t))
    x = _operator(ax, x, mid, "=")
    x = _matrix(ax, x, y, _fill(t, t, C["sky_blue"], 0.45), cw, "scores S", (t, t))
    _arrow(ax, (x + 0.08, mid), (x + 0.72, mid))
    _text(ax, x + 0.4, mid + 0.26, f"÷√{d}", size=SMALL, ha="center", va="bottom", gid="scale")
    _text(ax, x + 0.4, mid + 0.06, "mask", size=SMALL, ha="center", va="bottom", gid="scale")
    colors = np.where(masked[..., None], _tint(GREY, 0.35), _tint(C["sky_blue"], 0.45))
    return _matrix(ax, x + 0.8, y, colors, cw, "S/√d, masked", (t, t), masked=masked)


def _weights_row(ax: Axes, t: int, d: int, tokens, cw: float, y: float, weights, masked) -> float:
    """A = softmax(...) as a heatmap, · V = output; returns the right edge of the output."""
    mid = y - t * cw / 2
    _token_labels(ax, tokens, y, cw)
    colors = colormaps["Blues"](0.08 + 0.92 * weights)  # (T, T, 4)
    colors[masked] = _tint(GREY, 0.35)
    x = _matrix(ax, TOKEN_X + 0.1, y, colors, cw, "A = softmax", (t, t), masked=masked)
    x = _operator(ax, x, mid, "·")
    x = _matrix(ax, x, y, _fill(t, D_CELLS, C["green"], 0.55), cw, "V", (t, d))
    x = _operator(ax, x, mid, "=")
    return _matrix(ax, x, y, _fill(t, D_CELLS, C["purple"], 0.55), cw, "output", (t, d))


def _gqa_groups(cfg: ModelConfig) -> list[list[int]]:
    """Query heads of each KV head: head h reads KV head h // group (as model.attention does)."""
    g = cfg.num_queries_per_kv
    return [list(range(j * g, (j + 1) * g)) for j in range(cfg.num_kv_heads)]


def _gqa_panel(ax: Axes, cfg: ModelConfig, y: float) -> float:
    """Query heads above the KV heads they share, one colour per group; returns the bottom."""
    groups, g = _gqa_groups(cfg), cfg.num_queries_per_kv
    _text(ax, 0.15, y, f"Head sharing ({cfg.attention_kind}) in {cfg.name}", size=LABEL_SIZE,
          va="top", weight="bold", gid="gqa-title")
    _text(ax, 0.15, y - 0.3, f"the K and V of each KV head serve {plural(g, 'query head')}",
          va="top", gid="gqa-title")
    y -= 0.3
    x0, span = 1.45, WIDTH - 0.1 - 1.45
    slot = span / cfg.num_heads
    yq, ykv = y - 0.5, y - 1.25
    _text(ax, 0.15, yq - 0.15, f"{cfg.num_heads} query heads", va="center", gid="gqa-row")
    _text(ax, 0.15, ykv - 0.15, f"{cfg.num_kv_heads} KV heads", va="center", gid="gqa-row")
    for j, heads in enumerate(groups):
        color = (C["blue"], C["orange"])[j % 2]
        left = x0 + heads[0] * slot
        kv_w = min(len(heads) * slot - 0.04, 0.9)
        kv_x = left + (len(heads) * slot - kv_w) / 2
        label = f"KV {j}" if kv_w >= 0.45 else ""
        _box(ax, kv_x, ykv - 0.3, kv_w, 0.3, color, label, alpha=0.35, size=SMALL, gid="kv-head")
        for h in heads:
            qx = x0 + h * slot
            ax.add_patch(Rectangle((qx + 0.01, yq - 0.3), slot - 0.02, 0.3, fc=_tint(color, 0.6),
                                   ec=color, lw=0.8, gid="q-head"))
            if slot >= 0.4:
                _text(ax, qx + slot / 2, yq - 0.15, f"q {h}", size=SMALL, ha="center",
                      va="center", gid="q-label")
            ax.plot([qx + slot / 2, kv_x + kv_w / 2], [yq - 0.3, ykv], color=color, lw=0.9)
    return ykv - 0.3


def _attention_notes(ax: Axes, x: float, y: float, d: int, source: str) -> None:
    lines = [f"one head, head_dim d = {d}", f"scale 1/√{d} = {d ** -0.5:.3g}",
             "× masked: no looking ahead", "colour: weight; rows sum to 1", source]
    for k, line in enumerate(lines):
        _text(ax, x, y - k * 0.26, line, va="top", gid="note")


def draw_attention_matrices(cfg: ModelConfig, tokens: Sequence[str], *,
                            weights: np.ndarray | None = None,
                            weights_source: str = "the weights passed in",
                            sharing_cfg: ModelConfig | None = None,
                            ax: Axes | None = None) -> Axes:
    """Q·Kᵀ, ÷√d, causal mask, softmax, ·V for one head; and the GQA head sharing.

    ``weights_source`` says on the figure where given ``weights`` come from ("layer 0, head 0").
    """
    _check_plain_attention(cfg)
    tokens = _check_tokens(tokens)
    t, d = len(tokens), cfg.head_dim
    masked = causal_mask(t, t)  # (T, T) True where a query may not see a key
    if not isinstance(weights_source, str) or not weights_source.strip():
        raise ValueError(f"weights_source must be a non-empty str, got {weights_source!r}")
    source = f"A: {weights_source}" if weights is not None else "A: equal scores (schematic)"
    weights = _check_weights(weights, t, masked)
    sharing = _sharing_config(cfg, sharing_cfg)
    cw = min(0.25, 1.3 / t)
    ax, created = _canvas(ax, 8.0)
    _text(ax, WIDTH / 2, -0.1, f"Attention in {cfg.name} as matrices: {_tokens(t)}",
          size=TITLE_SIZE, ha="center", va="top", gid="title")
    # Kᵀ is centred on Q's rows: its key labels may stand higher than Q's top
    y1 = -0.6 - max(0.0, (D_CELLS - t) * cw / 2 + 0.06 + _label_room(tokens))
    right = _scores_row(ax, t, d, tokens, cw, y1, masked)
    bottom1 = y1 - max(t, t / 2 + D_CELLS / 2) * cw  # Kᵀ hangs below Q when t < D_CELLS
    gap = bottom1 - 0.6  # below the first row's labels
    y2 = gap - 0.45
    # from under the masked scores (end of row 1) to the top of A (start of row 2)
    x_from, x_to = right - t * cw / 2, TOKEN_X + 0.1 + t * cw / 2
    _arrow(ax, (x_from, gap), (x_from, gap - 0.12), (x_to, gap - 0.12), (x_to, y2 - 0.02))
    _text(ax, WIDTH / 2 - 0.3, gap - 0.08, "softmax, row by row", size=SMALL, ha="center",
          va="bottom", gid="softmax")
    x = _weights_row(ax, t, d, tokens, cw, y2, weights, masked)
    _attention_notes(ax, x + 0.35, y2 + 0.05, d, source)
    bottom = _gqa_panel(ax, sharing, min(y2 - t * cw - 0.75, y2 - 1.45))
    _fit(ax, created, -bottom + 0.15)
    ax.diagram_data = {"tokens": list(tokens), "masked": masked, "weights": weights,
                       "shapes": {"Q": (t, d), "K^T": (d, t), "scores": (t, t), "V": (t, d),
                                  "output": (t, d)},
                       "sharing_cfg": sharing.name, "groups": _gqa_groups(sharing)}
    return ax


def _check_tokens(tokens) -> list[str]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or \
            not all(isinstance(s, str) for s in tokens) or not 1 <= len(tokens) <= MAX_TOKENS:
        raise ValueError(f"tokens must be a list of 1..{MAX_TOKENS} strings; got {tokens!r:.80}")
    return list(tokens)


def _check_weights(weights, t: int, masked: np.ndarray) -> np.ndarray:
    """Given (T, T) weights, checked; else softmax of equal scores under the mask."""
    if weights is None:
        return softmax(np.where(masked, -np.inf, 0.0))  # (T, T): 1 / (i + 1) on row i
    w = np.asarray(weights, dtype=float) if isinstance(weights, np.ndarray) else None
    if w is None or w.shape != (t, t) or not np.all(np.isfinite(w)) or w.min() < 0 or w.max() > 1:
        raise ValueError(f"weights must be None or a ({t}, {t}) array of attention weights in "
                         f"0..1; got {getattr(weights, 'shape', type(weights).__name__)}")
    return w


def _sharing_config(cfg: ModelConfig, sharing_cfg) -> ModelConfig:
    """The config whose head sharing is drawn: given, cfg if it shares, else Llama-3-8B (GQA)."""
    if sharing_cfg is not None:
        return _check_plain_attention(sharing_cfg, "sharing_cfg")
    return cfg if cfg.num_kv_heads < cfg.num_heads else LLAMA_3_8B


# ---- 3. the KV cache growing ----------------------------------------------------------------
def kv_growth_shapes(cfg: ModelConfig, prompt_len: int = 4, steps: int = 3) -> list[dict]:
    """The cache after prefill and after each decode step: label, shape, new tokens, bytes.

    shape is (layers, 2 for K and V, kv_heads, tokens, head_dim); bytes come from
    memory.kv_bytes_per_sequence in the config's dtype.
    """
    _check_plain_attention(cfg)
    _check_range("prompt_len", prompt_len, 1, 8)
    _check_range("steps", steps, 1, 4)
    if prompt_len + steps > cfg.max_position_embeddings:
        raise ValueError(f"prompt_len + steps must be <= max_position_embeddings="
                         f"{cfg.max_position_embeddings}; got {prompt_len + steps}")
    rows = []
    for s in range(steps + 1):
        n = prompt_len + s
        rows.append({"label": "after prefill" if s == 0 else f"after step {s}",
                     "shape": (cfg.num_layers, 2, cfg.num_kv_heads, n, cfg.head_dim),
                     "num_tokens": n, "new_tokens": prompt_len if s == 0 else 1,
                     "bytes": kv_bytes_per_sequence(cfg, n)})
    return rows


def _kv_rows(cfg: ModelConfig) -> list[str]:
    """Row names: every layer's K and V, or the first and last layer around a '⋮'."""
    layers = range(cfg.num_layers) if cfg.num_layers <= 2 else (0, None, cfg.num_layers - 1)
    rows = []
    for layer in layers:
        rows += ["⋮"] if layer is None else [f"layer {layer} K", f"layer {layer} V"]
    return rows


def _kv_panel(ax: Axes, x: float, y: float, w: float, names: list[str], panel: dict,
              width_tokens: int) -> None:
    """One snapshot of the cache: a cell per (row, token), the new tokens in vermillion."""
    cw, ch, n, new = w / width_tokens, 0.26, panel["num_tokens"], panel["new_tokens"]
    colors = _fill(len(names), n, C["sky_blue"], 0.7)
    colors[:, n - new:] = _tint(C["vermillion"], 0.85)  # the slice this step wrote
    colors[[k for k, name in enumerate(names) if name == "⋮"]] = (1, 1, 1, 0)
    _cells(ax, x, y, colors, cw, ch, gid="kv-cells")
    new_text = f"new: {_tokens(new)}"
    _text(ax, x, y + 0.06, new_text, size=SMALL, va="bottom", color=C["vermillion"],
          gid="kv-new")
    below = y - len(names) * ch - 0.08
    for k, line in enumerate((panel["label"], _tokens(n),
                              format_bytes(panel["bytes"]))):
        _text(ax, x, below - 0.25 * k, line, va="top", gid="kv-label",
              weight="bold" if k == 0 else "normal")


def draw_kv_cache_growth(cfg: ModelConfig, *, prompt_len: int = 4, steps: int = 3,
                         ax: Axes | None = None) -> Axes:
    """The KV cache (layers × K/V × kv_heads × tokens × head_dim), one token more a step."""
    panels = kv_growth_shapes(cfg, prompt_len, steps)
    per_token = format_bytes(kv_bytes_per_token(cfg))
    ax, created = _canvas(ax, 3.6)
    _text(ax, WIDTH / 2, -0.1, f"KV cache of {cfg.name}: one token more per decode step",
          size=TITLE_SIZE, ha="center", va="top", gid="title")
    lines = [f"shape (layers, K/V, kv_heads, tokens, head_dim) = ({cfg.num_layers}, 2, "
             f"{cfg.num_kv_heads}, tokens, {cfg.head_dim})",
             f"a cell: one token's K (or V) in one layer, {cfg.num_kv_heads}×{cfg.head_dim} "
             f"numbers", f"one token adds {per_token} in {cfg.dtype}, all layers together"]
    for k, line in enumerate(lines):
        _text(ax, 0.15, -0.55 - 0.27 * k, line, va="top", gid="kv-header")
    names, y = _kv_rows(cfg), -1.8
    for k, name in enumerate(names):
        _text(ax, 1.0, y - 0.26 * (k + 0.5), name, size=SMALL, ha="right", va="center",
              gid="kv-row")
    gap, x0 = 0.3, 1.1
    w = (WIDTH - 0.1 - x0 - gap * steps) / (steps + 1)
    for k, panel in enumerate(panels):
        _kv_panel(ax, x0 + k * (w + gap), y, w, names, panel, prompt_len + steps)
    _fit(ax, created, -(y - len(names) * 0.26 - 0.9))
    ax.diagram_data = {"panels": panels, "bytes_per_token": kv_bytes_per_token(cfg),
                       "bytes_per_token_label": per_token, "rows": names}
    return ax


# ---- 4. a request's timeline: prefill, then decode --------------------------------------------
PHASE_STYLE = {"prefill": (C["green"], ""), "prefill (chunk)": (C["green"], "///"),
               "decode": (C["blue"], "")}
STEPS_X = 1.7  # left edge of step 0


def timeline_steps(prompt_len: int = 6, output_len: int = 4, *, chunked: bool = False,
                   chunk_size: int = 4) -> list[CounterRow]:
    """The real engine's trace: one request, or (chunked) two under chunk_size tokens a step.

    Greedy requests with prompt_len tokens and output_len outputs each (EOS ignored) run on the
    toy model; rows come from simulate.trace_counters, one per live request per step.
    """
    _check_range("prompt_len", prompt_len, 1, 32)
    _check_range("output_len", output_len, 1, 8)
    _check_bool("chunked", chunked)
    _check_range("chunk_size", chunk_size, 1, 64)
    engine = LLMEngine(TOY, max_num_batched_tokens=chunk_size if chunked else None)
    params = SamplingParams(temperature=0.0, max_tokens=output_len, ignore_eos=True)
    for request_id in ("A", "B") if chunked else ("A",):
        engine.add_request(list(range(prompt_len)), params, request_id=request_id)
    rows = trace_counters(engine)
    if rows[-1].step + 1 > MAX_STEPS:
        raise ValueError(f"prompt_len={prompt_len}, output_len={output_len} and chunk_size="
                         f"{chunk_size} take {rows[-1].step + 1} engine steps; the timeline "
                         f"shows at most {MAX_STEPS}: raise chunk_size or shorten the request")
    return rows


def _latencies(rows: list[CounterRow]) -> tuple[dict, dict]:
    """(TTFT, first ITL) in steps per request; every request arrives before step 0."""
    sampled: dict[str, list[int]] = {}
    for r in rows:
        if r.sampled_token_id is not None:
            sampled.setdefault(r.request_id, []).append(r.step)
    ttft = {rid: s[0] + 1 for rid, s in sampled.items()}
    itl = {rid: s[1] - s[0] for rid, s in sampled.items() if len(s) > 1}
    return ttft, itl


def _lane_boxes(ax: Axes, rows: list[CounterRow], y: float, sw: float) -> None:
    """A box per step: the tokens this request ran (dashed while it waits), ◆ when it sampled."""
    for r in rows:
        x = STEPS_X + r.step * sw
        if r.num_scheduled_tokens == 0:
            _box(ax, x + 0.04, y - 0.46, sw - 0.08, 0.42, GREY, alpha=0.0, ls="--")
            continue
        color, hatch = PHASE_STYLE[r.phase]
        ax.add_patch(Rectangle((x + 0.04, y - 0.46), sw - 0.08, 0.42, fc=_tint(color, 0.35),
                               ec=color, lw=1.4, hatch=hatch, gid=r.phase))
        _text(ax, x + sw / 2, y - 0.25, str(r.num_scheduled_tokens), ha="center", va="center",
              weight="bold", gid="lane-tokens", bbox=dict(fc="white", ec="none", pad=1.5))
        if r.sampled_token_id is not None:
            ax.plot([x + sw - 0.04], [y - 0.46], "D", color="black", ms=6, mec="white",
                    gid="sampled")


def _lane(ax: Axes, rows: list[CounterRow], y: float, sw: float, ttft: int,
          itl: int | None) -> float:
    """One request's label, boxes, TTFT and ITL brackets, top at depth y; returns its bottom."""
    outputs = sum(r.sampled_token_id is not None for r in rows)
    _text(ax, 0.15, y - 0.12, f"request {rows[0].request_id}", va="center", weight="bold",
          gid="lane")
    _text(ax, 0.15, y - 0.36, f"prompt {rows[0].num_prompt_tokens}, output {outputs}",
          size=SMALL, va="center", gid="lane")
    _lane_boxes(ax, rows, y, sw)
    _bracket(ax, STEPS_X, STEPS_X + ttft * sw, y - 0.62, f"TTFT: {plural(ttft, 'step')}",
             gid="ttft")
    if itl is None:
        return y - 1.0
    x = STEPS_X + ttft * sw
    _bracket(ax, x, x + itl * sw, y - 1.02, f"ITL: {plural(itl, 'step')}", gid="itl")
    return y - 1.4


def _timeline_legend(ax: Axes, y: float, phases: set[str]) -> None:
    """Swatches in one row for the phases drawn, then the sampled-token mark."""
    items = [(name.replace("(", "").replace(")", ""), *PHASE_STYLE[name], "-")
             for name in PHASE_STYLE if name in phases]
    if "waiting" in phases:
        items.append(("waiting", GREY, "", "--"))
    x = 0.15
    for label, color, hatch, ls in items:
        ax.add_patch(Rectangle((x, y - 0.2), 0.3, 0.2, fc=_tint(color, 0.35 if ls == "-" else 0),
                               ec=color, hatch=hatch, ls=ls, lw=1.2))
        _text(ax, x + 0.38, y - 0.1, label, size=SMALL, va="center", gid="legend")
        x += 0.5 + 0.075 * len(label)
    ax.plot([x + 0.1], [y - 0.1], "D", color="black", ms=6, mec="white")
    _text(ax, x + 0.22, y - 0.1, "token sampled", size=SMALL, va="center", gid="legend")


def draw_request_timeline(prompt_len: int = 6, output_len: int = 4, *, chunked: bool = False,
                          chunk_size: int = 4, ax: Axes | None = None) -> Axes:
    """Prefill then one token per decode step, TTFT and ITL marked; chunked: two requests."""
    rows = timeline_steps(prompt_len, output_len, chunked=chunked, chunk_size=chunk_size)
    num_steps, (ttft, itl) = rows[-1].step + 1, _latencies(rows)
    per_step = [sum(r.num_scheduled_tokens for r in rows if r.step == s) for s in range(num_steps)]
    sw = min(0.8, (WIDTH - 0.1 - STEPS_X) / num_steps)
    ax, created = _canvas(ax, 4.0)
    title = (f"Chunked prefill: two requests, at most {chunk_size} tokens per step" if chunked
             else f"One request: a {prompt_len}-token prefill, then one token per step")
    _text(ax, WIDTH / 2, -0.1, title, size=TITLE_SIZE, ha="center", va="top", gid="title")
    _text(ax, 0.15, -0.75, "tokens in step", va="center", gid="row-label")
    for s, n in enumerate(per_step):
        _text(ax, STEPS_X + (s + 0.5) * sw, -0.75, str(n), ha="center", va="center",
              gid="step-tokens")
    y = -1.05
    for request_id in ("A", "B") if chunked else ("A",):
        mine = [r for r in rows if r.request_id == request_id]
        y = _lane(ax, mine, y, sw, ttft[request_id], itl.get(request_id))
    _text(ax, 0.15, y - 0.05, "engine step", va="center", gid="row-label")
    for s in range(num_steps):
        _text(ax, STEPS_X + (s + 0.5) * sw, y - 0.05, str(s), size=SMALL, ha="center",
              va="center", gid="step")
    _timeline_legend(ax, y - 0.35, {r.phase for r in rows})
    _fit(ax, created, -(y - 0.7))
    ax.diagram_data = {"rows": rows, "tokens_per_step": per_step, "ttft_steps": ttft,
                       "itl_steps": itl, "num_steps": num_steps}
    return ax


# ---- 5. an annotated roofline ----------------------------------------------------------------
ROOFLINE_FIGSIZE = (WIDTH, 5.0)


def _math_dtype(gpu) -> str:
    """The 16-bit tensor rate the roof uses: bfloat16, or float16 on GPUs without it (T4)."""
    for dtype in ("bfloat16", "float16"):
        if dtype in gpu.dense_flops:
            return dtype
    raise ValueError(f"gpu must have a dense bfloat16 or float16 rate; {gpu.name} has "
                     f"{', '.join(gpu.dense_flops) or 'none'}")


def _check_batches(batch_sizes) -> tuple[int, int]:
    ok = isinstance(batch_sizes, (tuple, list)) and len(batch_sizes) == 2 and all(
        isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 4096 for b in batch_sizes)
    if not ok or batch_sizes[0] >= batch_sizes[1]:
        raise ValueError(f"batch_sizes must be two ints (small, large) with 1 <= small < large "
                         f"<= 4096; got {batch_sizes!r}")
    return tuple(batch_sizes)


def roofline_points(gpu, cfg: ModelConfig, *, prompt_len: int = 512,
                    batch_sizes: tuple[int, int] = (1, 64)) -> dict[str, tuple[float, float, str]]:
    """label -> (intensity FLOP/B, attainable FLOP/s, math dtype) of each point, on its roof.

    Decode at both batch sizes and the prefill use the GPU's 16-bit rate; decode at the small
    batch with fp8 weights uses the fp8 rate when the GPU has one (weights-only fp8 otherwise).
    """
    gpu, (small, large) = roofline._gpu(gpu), _check_batches(batch_sizes)
    _check_config(cfg)
    _check_range("prompt_len", prompt_len, 1, cfg.max_position_embeddings)
    math, fp8_math = _math_dtype(gpu), "fp8" if "fp8" in gpu.dense_flops else _math_dtype(gpu)
    cases = {f"decode B={small}": (roofline.decode_intensity(cfg, small), math),
             f"decode B={large}": (roofline.decode_intensity(cfg, large), math),
             f"decode B={small}, fp8 weights": (
                 roofline.decode_intensity(cfg, small, weight_dtype="fp8"), fp8_math),
             f"prefill {prompt_len} tokens": (roofline.prefill_intensity(cfg, prompt_len), math)}
    return {label: (i, roofline.attainable_flops(gpu, i, dtype), dtype)
            for label, (i, dtype) in cases.items()}


def _roof_limits(gpu, points: dict, ridge: float) -> tuple[float, float, float, float]:
    """(x_lo, x_hi, y_lo, y_hi): whole decades of x from 20x left of the leftmost point to at
    least 2.5 decades right of the ridge; y from where the roof leaves x_lo to 6x the top peak."""
    xs = [i for i, _, _ in points.values()]
    lo = 10 ** np.floor(np.log10(min(xs) / 20))
    hi = 10 ** np.ceil(np.log10(max(max(xs) * 10, ridge * 300)))
    return lo, hi, gpu.bandwidth_bytes_per_s * lo, 6 * max(gpu.dense_flops.values())


def _draw_regions(ax: Axes, lo: float, ridge: float, hi: float) -> None:
    """Memory-bound left of this GPU's ridge, compute-bound right of it, each named."""
    ax.axvspan(lo, ridge, color=MEMORY_BOUND_FILL, alpha=0.18, lw=0, gid="memory-bound")
    ax.axvspan(ridge, hi, color=COMPUTE_BOUND_FILL, alpha=0.18, lw=0, gid="compute-bound")
    trans = ax.get_xaxis_transform()
    ax.text(lo * 1.3, 0.97, "memory-bound", transform=trans, va="top", fontsize=LABEL_SIZE,
            color=C["blue"], gid="region-label")
    ax.text(hi / 1.3, 0.97, "compute-bound", transform=trans, ha="right", va="top",
            fontsize=LABEL_SIZE, color=C["vermillion"], gid="region-label")


def _draw_roofs(ax: Axes, gpu, math: str, lo: float, hi: float) -> None:
    """The roof, the fp8 roof if the GPU has one, the ridge marker and a key of the figures."""
    peak, bw = roofline.peak_and_bandwidth(gpu, math)
    ridge, short = peak / bw, {"bfloat16": "bf16", "float16": "fp16"}[math]
    x = np.geomspace(lo, hi, 256)
    ax.plot(x, np.minimum(peak, bw * x), color="black", lw=2.5, gid="roof")
    ax.plot([ridge], [peak], "D", color="black", ms=8, zorder=5, gid="ridge")
    ax.annotate(f"ridge {ridge:,.0f} FLOP/B", (ridge, peak), xytext=(-6, 6),
                textcoords="offset points", ha="right", va="bottom", fontsize=SIZE, gid="ridge")
    ax.annotate(f"{short} roof", (hi / 1.3, peak), xytext=(0, 2), textcoords="offset points",
                ha="right", va="bottom", fontsize=SIZE, gid="roof-label")
    key = [f"{short} peak {format_flops_per_s(peak)}"]
    if "fp8" in gpu.dense_flops:
        peak8 = gpu.peak_flops("fp8")
        x8 = x[x >= ridge]
        ax.plot(x8, np.minimum(peak8, bw * x8), "--", color=C["purple"], lw=2, gid="fp8-roof")
        ax.annotate("fp8 roof", (hi / 1.3, peak8), xytext=(0, 2), textcoords="offset points",
                    ha="right", va="bottom", fontsize=SIZE, color=C["purple"], gid="roof-label")
        key.append(f"fp8 peak {format_flops_per_s(peak8)}")
    key.append(f"bandwidth {format_bytes(bw)}/s")
    ax.text(0.98, 0.04, "\n".join(key), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=SIZE, linespacing=1.4, gid="key")


def _memory_roof_label(ax: Axes, bw: float, x: float) -> None:
    """The slanted roof's label, parallel to it and just below (angle from the display)."""
    (x0, y0), (x1, y1) = ax.transData.transform([(x, bw * x), (10 * x, 10 * bw * x)])
    angle = np.degrees(np.arctan2(y1 - y0, x1 - x0))
    ax.annotate("memory roof", (x, bw * x), xytext=(0, -4), textcoords="offset points",
                ha="center", va="top", rotation=angle, rotation_mode="anchor", fontsize=SIZE,
                gid="roof-label")


def _draw_points(ax: Axes, points: dict, ridge: float) -> None:
    """Decode and prefill points with their labels; arrows for batching and fp8 weights."""
    (b_small, p_small), (b_large, p_large), (fp8, p_fp8), (prefill, p_pre) = points.items()
    # Labels left of a point on the slanted roof sit above it, labels right of it below it;
    # under the flat roof the prefill's label starts right of its point, short of the roof's.
    flat = p_pre[0] >= ridge
    style = {b_small: ("o", C["vermillion"], (-8, 4), "right", "bottom"),
             b_large: ("o", C["vermillion"], (8, -6), "left", "top"),
             fp8: ("o", C["purple"], (8, -6), "left", "top"),
             prefill: ("s", C["green"], (10, -5) if flat else (-8, 4),
                       "left" if flat else "right", "top" if flat else "bottom")}
    for label, (i, y, _) in points.items():
        marker, color, offset, ha, va = style[label]
        ax.plot([i], [y], marker, color=color, ms=9, mec="white", zorder=5, gid=label)
        text = label.replace("tokens", "tok") if label == prefill else label
        ax.annotate(text, (i, y), xytext=offset, textcoords="offset points", ha=ha, va=va,
                    fontsize=SIZE, color=color, gid="point-label")
    arrow = dict(arrowstyle="-|>", color="black", lw=1.4, shrinkA=7, shrinkB=7)
    ax.annotate("", p_large[:2], p_small[:2],
                arrowprops=dict(**arrow, connectionstyle="arc3,rad=-0.3"))
    mid = np.sqrt(np.array(p_small[:2]) * np.array(p_large[:2]))  # geometric middle
    ax.annotate(f"batching: B {b_small.split('=')[1]} → {b_large.split('=')[1]}", mid,
                xytext=(-14, 22), textcoords="offset points", ha="right", va="bottom",
                fontsize=SIZE, gid="arrow-label")
    ax.annotate("", p_fp8[:2], p_small[:2],
                arrowprops=dict(**arrow, connectionstyle="arc3,rad=0.5"))


def _roof_axes(ax: Axes | None, limits: tuple[float, float, float, float]) -> Axes:
    """Log-log axes with SI tick labels over (x_lo, x_hi, y_lo, y_hi)."""
    _check_axes(ax)
    ax = new_axes(ax, ROOFLINE_FIGSIZE, left=0.12, bottom=0.12, right=0.96)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*limits[:2])
    ax.set_ylim(*limits[2:])
    ax.set_xlabel("arithmetic intensity (FLOP/byte)", fontsize=LABEL_SIZE)
    ax.set_ylabel("attainable (FLOP/s)", fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=SIZE)
    for axis in (ax.xaxis, ax.yaxis):
        _log_axis(axis)
    return ax


def draw_annotated_roofline(gpu, cfg: ModelConfig, *, prompt_len: int = 512,
                            batch_sizes: tuple[int, int] = (1, 64),
                            ax: Axes | None = None) -> Axes:
    """One GPU's roofline: the ridge, both regions, decode and prefill on the roof, what moves."""
    points = roofline_points(gpu, cfg, prompt_len=prompt_len, batch_sizes=batch_sizes)
    gpu = roofline._gpu(gpu)
    math = _math_dtype(gpu)
    peak, bw = roofline.peak_and_bandwidth(gpu, math)
    lo, hi, y_lo, y_hi = _roof_limits(gpu, points, peak / bw)
    ax = _roof_axes(ax, (lo, hi, y_lo, y_hi))
    _draw_regions(ax, lo, peak / bw, hi)
    _draw_roofs(ax, gpu, math, lo, hi)
    first = min(i for i, _, _ in points.values())
    _memory_roof_label(ax, bw, np.sqrt(lo * first))  # between the axes' edge and the point
    _draw_points(ax, points, peak / bw)
    ax.set_title(f"Roofline of {gpu.name}\n{cfg.name}, {cfg.dtype} weights",
                 fontsize=TITLE_SIZE, y=1.02)
    ax.diagram_data = {"ridge": peak / bw, "peak_flops": peak, "bandwidth": bw, "math": math,
                       "points": points, "regions": {"memory-bound": (lo, peak / bw),
                                                     "compute-bound": (peak / bw, hi)}}
    return ax


# ---- 6. the request's two counters racing ------------------------------------------------------
RACE_X = 2.3  # left edge of the token cells
RACE_CELL = 0.2  # height of a track; a cell is as wide as fits, at most 0.25 in
RACE_NOTE_W = 1.7  # inches kept right of the cells for the gap notes


def counter_states(prompt_len: int = 5, output_len: int = 3) -> list[dict]:
    """num_tokens and num_computed_tokens of one request before step 0 and after each step.

    The first state is a fresh Request's; the others are the real engine's (trace_counters).
    """
    _check_range("prompt_len", prompt_len, 1, 10)
    _check_range("output_len", output_len, 1, 6)
    fresh = Request("A", list(range(prompt_len)), SamplingParams(max_tokens=output_len))
    states = [{"label": "before step 0", "note": "waiting: nothing computed",
               "num_tokens": fresh.num_tokens, "num_computed_tokens": fresh.num_computed_tokens,
               "finished": False}]
    for r in timeline_steps(prompt_len, output_len):
        states.append({"label": f"after step {r.step}",
                       "note": f"{r.phase}: ran {r.num_scheduled_tokens}",
                       "num_tokens": r.num_tokens, "num_computed_tokens": r.num_computed_tokens,
                       "finished": r.status.startswith("FINISHED")})
    return states


def _race_row(ax: Axes, state: dict, y: float, prompt_len: int, step: int,
              cw: float) -> None:
    """A state's two tracks: every token (prompt, output), and the computed ones then the gap."""
    n, done = state["num_tokens"], state["num_computed_tokens"]
    _text(ax, 0.15, y, state["label"], va="top", weight="bold", gid="race-label")
    _text(ax, 0.15, y - 0.25, state["note"], size=SMALL, va="top", gid="race-label")
    tokens = _fill(1, n, C["blue"], 0.45)
    tokens[0, prompt_len:] = _tint(C["orange"], 0.6)
    computed = _fill(1, n, "white", 0.0)
    computed[0, :done] = _tint(C["green"], 0.6)
    for k, (name, value, cells) in enumerate((("num_tokens", n, tokens),
                                              ("num_computed_tokens", done, computed))):
        top = y - 0.5 - k * (RACE_CELL + 0.06)
        _text(ax, RACE_X - 0.1, top - RACE_CELL / 2, f"{name} = {value}", size=SMALL, ha="right",
              va="center", gid="race-track")
        _cells(ax, RACE_X, top, cells, cw, RACE_CELL, gid=name)
    gap_top = y - 0.5 - RACE_CELL - 0.06
    ax.add_patch(Rectangle((RACE_X + done * cw, gap_top - RACE_CELL), (n - done) * cw,
                           RACE_CELL, fc="none", ec=C["vermillion"], lw=1.5, hatch="///",
                           gid="gap"))
    note = ("finished: the last token", "is never fed back") if state["finished"] else \
        (f"gap = {n - done}:", f"step {step} computes {n - done}")
    for k, line in enumerate(note):
        _text(ax, WIDTH - 0.1 - RACE_NOTE_W, y - 0.5 - 0.24 * k, line, size=SMALL, va="top",
              color=C["vermillion"], gid="race-gap")


def _race_legend(ax: Axes, y: float) -> None:
    items = [("prompt token", C["blue"], 0.45), ("output token", C["orange"], 0.6),
             ("K/V computed", C["green"], 0.6)]
    x = 0.15
    for label, color, alpha in items:
        ax.add_patch(Rectangle((x, y - 0.2), 0.25, 0.2, fc=_tint(color, alpha), ec="none"))
        _text(ax, x + 0.33, y - 0.1, label, size=SMALL, va="center", gid="legend")
        x += 0.45 + 0.075 * len(label)
    ax.add_patch(Rectangle((x, y - 0.2), 0.25, 0.2, fc="none", ec=C["vermillion"], hatch="///"))
    _text(ax, x + 0.33, y - 0.1, "gap: computed next", size=SMALL, va="center", gid="legend")


def draw_counters_race(prompt_len: int = 5, output_len: int = 3, *,
                       ax: Axes | None = None) -> Axes:
    """num_tokens and num_computed_tokens step by step; their gap is what the next step runs."""
    states = counter_states(prompt_len, output_len)
    ax, created = _canvas(ax, 5.0)
    _text(ax, WIDTH / 2, -0.1, f"One request's two counters: prompt {prompt_len}, output "
          f"{output_len}", size=TITLE_SIZE, ha="center", va="top", gid="title")
    cw = min(0.25, (WIDTH - 0.35 - RACE_NOTE_W - RACE_X) / states[-1]["num_tokens"])
    y = -0.6
    for step, state in enumerate(states):
        _race_row(ax, state, y, prompt_len, step, cw)
        y -= 1.12
    _race_legend(ax, y + 0.05)
    _fit(ax, created, -(y - 0.3))
    ax.diagram_data = {"states": states}
    return ax


# ---- 7. where the weights and the FLOP go -----------------------------------------------------
PART_COLORS = {"embeddings": C["green"], "attention": C["blue"],
               "attention scores": C["sky_blue"], "MLP": C["orange"], "norms": GREY,
               "LM head": C["purple"]}
BAR_X = 2.0


def mlp_cost_split(cfg: ModelConfig, context_len: int = 0) -> dict[str, dict[str, float]]:
    """Percent of the parameters and of one token's FLOP in each part; each row sums to 100.

    Parameters from memory.param_breakdown (all experts of a MoE), FLOP from
    roofline.flops_per_token_breakdown at context_len (active experts; norms and the embedding
    lookup do no matmul).
    """
    params = param_breakdown(cfg)
    flops = roofline.flops_per_token_breakdown(cfg, context_len)
    counts = {
        "parameters": {"embeddings": params["embedding"] + params["position"],
                       "attention": params["attention"], "attention scores": 0,
                       "MLP": params["mlp"], "norms": params["norms"],
                       "LM head": params["lm_head"]},
        "FLOP per token": {"embeddings": 0, "attention": flops["attention_projections"],
                           "attention scores": flops["attention_scores"], "MLP": flops["mlp"],
                           "norms": 0, "LM head": flops["lm_head"]}}
    return {row: {part: 100 * v / sum(parts.values()) for part, v in parts.items()}
            for row, parts in counts.items()}


def _percent(p: float) -> str:
    return "<0.1%" if p < 0.05 else f"{p:.1f}%"


def _text_width(text: str, size: float = SIZE) -> float:
    """Inches a label needs, estimated (DejaVu Sans digits are ~0.62 em wide)."""
    return 0.62 * size / 72 * len(text)


def _spread(wanted: list[float], widths: list[float], low: float, high: float) -> list[float]:
    """Label centres as near the wanted ones as they can be, in order, 0.08 in apart, within
    low..high: pushed right past their left neighbours, then left off the right edge."""
    gap, centres = 0.08, []
    for c, w in zip(wanted, widths):
        floor = centres[-1] + (widths[len(centres) - 1] + w) / 2 + gap if centres else low + w / 2
        centres.append(max(c, floor))
    ceiling = high
    for k in reversed(range(len(centres))):
        centres[k] = min(centres[k], ceiling - widths[k] / 2)
        ceiling = centres[k] - widths[k] / 2 - gap
    return centres


def _outside_labels(ax: Axes, narrow: list[tuple[float, str]], edge: float,
                    outside: int) -> None:
    """Labels of narrow segments (centre x, text) beyond the bar edge, on leader lines."""
    widths = [_text_width(label) for _, label in narrow]
    centres = _spread([x for x, _ in narrow], widths, BAR_X, WIDTH - 0.1)
    ly = edge + outside * 0.14
    for (x, label), cx in zip(narrow, centres):
        ax.plot([x, cx], [edge, ly - outside * 0.02], color="black", lw=0.8)
        _text(ax, cx, ly, label, ha="center", va="bottom" if outside > 0 else "top",
              gid="share")


def _stacked_bar(ax: Axes, shares: dict[str, float], y: float, outside: int) -> None:
    """One bar of 100 %, a segment per part, labelled inside (with the part's name where it
    fits) or, if narrow, outside: above the bar for outside=1, below it for -1."""
    span, x, narrow = WIDTH - 0.15 - BAR_X, BAR_X, []
    for part, share in ((p, v) for p, v in shares.items() if v > 0):
        w = span * share / 100
        ax.add_patch(Rectangle((x, y - 0.45), w, 0.45, fc=_tint(PART_COLORS[part], 0.75),
                               ec="white", lw=1, gid=part))
        label = next((s for s in (f"{part} {_percent(share)}", _percent(share))
                      if _text_width(s) + 0.1 <= w), None)
        if label:
            _text(ax, x + w / 2, y - 0.225, label, ha="center", va="center", gid="share")
        else:
            narrow.append((x + w / 2, _percent(share)))
        x += w
    _outside_labels(ax, narrow, y if outside > 0 else y - 0.45, outside)


def draw_mlp_cost_split(cfg: ModelConfig, *, context_len: int = 0,
                        ax: Axes | None = None) -> Axes:
    """Shares of parameters and of per-token FLOP: embeddings, attention, MLP, norms, LM head."""
    _check_config(cfg)
    split = mlp_cost_split(cfg, context_len)
    ax, created = _canvas(ax, 3.6)
    _text(ax, WIDTH / 2, -0.1, f"Where {cfg.name}'s weights and FLOP go", size=TITLE_SIZE,
          ha="center", va="top", gid="title")
    params = num_params(cfg)
    flop = sum(roofline.flops_per_token_breakdown(cfg, context_len).values())
    rows = (("parameters", f"{format_count(params, short=True)} weights", -0.95, 1),
            ("FLOP per token", f"{format_flops(flop)}, context {context_len:,}", -1.6, -1))
    for row, detail, y, outside in rows:
        _text(ax, 0.15, y - 0.12, row, va="center", weight="bold", gid="bar-label")
        _text(ax, 0.15, y - 0.36, detail, size=SMALL, va="center", gid="bar-label")
        _stacked_bar(ax, split[row], y, outside)
    _part_legend(ax, [p for p in PART_COLORS if split["parameters"][p] or
                      split["FLOP per token"][p]], -2.65)
    _fit(ax, created, 2.95)
    ax.diagram_data = {"split": split, "num_params": params, "flop_per_token": flop}
    return ax


def _part_legend(ax: Axes, parts: list[str], y: float) -> None:
    x = 0.15
    for part in parts:
        ax.add_patch(Rectangle((x, y - 0.2), 0.25, 0.2, fc=_tint(PART_COLORS[part], 0.75),
                               ec="none"))
        _text(ax, x + 0.32, y - 0.1, part, size=SMALL, va="center", gid="legend")
        x += 0.5 + _text_width(part, SMALL)
