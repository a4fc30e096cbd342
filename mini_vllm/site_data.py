"""What the book's site needs to move an explorer in the page: catalog rows, arrays, defaults.

An explorer's HTML on the static site carries a JSON *spec* built here while the book executes
its notebook; ``book/_static/explorers/*.js`` reads it and redraws in the browser, with no
kernel. Everything in a spec is a ``mini_vllm`` number (a catalog field, a parameter count, a
trained model's attention weights or logits, numpy's uniform draw for a seed), so the page's
arithmetic starts from the package's own values; ``tests/test_site_explorers.py`` runs the
page's JavaScript under node and checks its results against the Python calculators.

References:
    HTML ``<script type="application/json">`` data blocks:
    https://html.spec.whatwg.org/multipage/scripting.html#data-block
"""

from __future__ import annotations

import base64
import json

import numpy as np

from . import memory, roofline
from .catalog import get_model, list_models
from .config import DTYPE_BYTES, ModelConfig
from .hardware import get_gpu, list_gpus
from .style import COMPUTE_BOUND_FILL, CYCLE, GREY, MEMORY_BOUND_FILL, OKABE_ITO, gpu_colour

SCRIPT_CLOSE = "</"  # never inside a <script> block: written as "<\/", which JSON reads back


def kv_head_options(num_heads: int) -> list[tuple[str, int]]:
    """Divisors of num_heads, labelled MHA / GQA / MQA (the only legal num_kv_heads)."""
    divisors = [d for d in range(num_heads, 0, -1) if num_heads % d == 0]
    kind = lambda d: "MHA" if d == num_heads else "MQA" if d == 1 else "GQA"  # noqa: E731
    return [(f"{d} ({kind(d)})", d) for d in divisors]


def kv_head_choices(cfg: ModelConfig) -> list[tuple[str, int]]:
    """The KV-heads control's choices for ``cfg``: the divisors of num_heads, or for MLA, which
    caches one latent shared by every head, its own value only (there is nothing to choose)."""
    if cfg.is_mla:
        return [("MLA: one latent", cfg.num_kv_heads)]
    return kv_head_options(cfg.num_heads)


def model_row(cfg: ModelConfig) -> dict:
    """The fields of one model the page's arithmetic reads (counts exact, from memory.py)."""
    kv_options = [d for _, d in kv_head_options(cfg.num_heads)]
    variants = {d: (cfg if cfg.is_mla or d == cfg.num_kv_heads else cfg.replace(num_kv_heads=d))
                for d in kv_options}
    expert = 3 * cfg.hidden_size * (cfg.moe_intermediate_size or cfg.intermediate_size) \
        if cfg.is_moe else 0
    return {
        "name": cfg.name, "dtype": cfg.dtype, "num_layers": cfg.num_layers,
        "num_heads": cfg.num_heads, "num_kv_heads": cfg.num_kv_heads, "head_dim": cfg.head_dim,
        "hidden_size": cfg.hidden_size, "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "learned_positions": cfg.position_embedding == "learned",
        "is_mla": cfg.is_mla, "is_moe": cfg.is_moe,
        "num_experts": cfg.num_experts or 0, "num_experts_per_tok": cfg.num_experts_per_tok or 0,
        "expert_params": expert,
        "moe_layers": (cfg.num_layers - cfg.first_k_dense_replace) if cfg.is_moe else 0,
        "attention_kind": cfg.attention_kind,
        "num_params": memory.num_params(cfg),
        "lookup_params": roofline._lookup_params(cfg),
        "flops_per_token": roofline.flops_per_token(cfg),
        "kv_head_options": kv_head_choices(cfg),
        # per num_kv_heads: the weights change with it (smaller k and v projections)
        "num_params_by_kv_heads": {str(d): memory.num_params(v) for d, v in variants.items()},
        "kv_values_per_token_per_layer_by_kv_heads": {
            str(d): memory.kv_values_per_token_per_layer(v) for d, v in variants.items()},
    }


def gpu_row(name: str) -> dict:
    """One catalog GPU: memory (bytes), bandwidth (bytes/s), dense FLOP/s by dtype, colour."""
    gpu = get_gpu(name)
    return {"name": gpu.name, "memory_bytes": gpu.memory_bytes,
            "bandwidth_bytes_per_s": gpu.bandwidth_bytes_per_s,
            "dense_flops": dict(gpu.dense_flops), "colour": gpu_colour(gpu.name)}


def catalog() -> dict:
    """Every catalog model and GPU, the bytes of each dtype, and mini_vllm.style's colours."""
    return {
        "models": {name: model_row(get_model(name)) for name in list_models()},
        "gpus": {name: gpu_row(name) for name in list_gpus()},
        "dtype_bytes": dict(DTYPE_BYTES),
        "style": {"okabe_ito": dict(OKABE_ITO), "cycle": list(CYCLE), "grey": GREY,
                  "memory_bound": MEMORY_BOUND_FILL, "compute_bound": COMPUTE_BOUND_FILL},
    }


def plain_number(x):
    """A control value as a page's range input reports it: 10 significant digits, and a whole
    float as an int (0.25 + 0.05 -> 0.3, 1.0 -> 1), so Python and JavaScript keys agree."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return x
    x = float(f"{x:.10g}")
    return int(x) if x.is_integer() else x


def lookup_key(values) -> str:
    """The key of one setting in a lookup explorer's table: its values as a JSON list
    (MV.lookupKey in mv_core.js writes the same)."""
    return json.dumps([plain_number(v) for v in values], separators=(",", ":"),
                      ensure_ascii=False)


def float_array(values, dtype: str = "float32") -> str:
    """A numeric array as base64 of little-endian float32 or float64 (MV.floats reads it)."""
    arr = np.ascontiguousarray(np.asarray(values, dtype="<f4" if dtype == "float32" else "<f8"))
    return base64.b64encode(arr.tobytes()).decode("ascii")


def spec_json(spec: dict) -> str:
    """A spec as JSON that is safe inside an HTML <script> element."""
    return json.dumps(spec, separators=(",", ":"), allow_nan=False).replace(SCRIPT_CLOSE, "<\\/")


# ---- the model views: attention maps, logits and the sampler's uniform numbers -------------
def lower_triangle(maps) -> np.ndarray:
    """(..., T, T) causal weights -> (..., T * (T + 1) / 2): each row up to the diagonal, in
    order. The page puts back the zeros above the diagonal; ValueError if one is not zero."""
    arr = np.asarray(maps)
    above = np.triu(np.ones(arr.shape[-2:], bool), 1)  # (T, T) the pairs the mask removes
    if np.any(arr[..., above] != 0):
        raise ValueError("maps must be causal: zero above the diagonal")
    rows, cols = np.tril_indices(arr.shape[-1])  # row-major: (0,0), (1,0), (1,1), (2,0) ...
    return arr[..., rows, cols]


def colour_table(name: str = "viridis") -> list[str]:
    """A matplotlib colour map's entries as '#rrggbb' (value v is entry min(int(v * N), N - 1))."""
    import matplotlib
    from matplotlib.colors import to_hex

    cmap = matplotlib.colormaps[name]
    return [to_hex(cmap(i)) for i in range(cmap.N)]


def seed_uniforms(seeds) -> str:
    """float64 base64 of ``np.random.default_rng(seed).random()`` for each seed: the one number
    mini_vllm's Sampler draws for a seeded request's first token (inverse-CDF draw)."""
    return float_array([np.random.default_rng(int(s)).random() for s in seeds], "float64")
