"""The toy Llama-style decoder in numpy: embedding, N x (RMSNorm, attention, RMSNorm, SwiGLU), head.

Attention is causal with RoPE (rotate-half / HF-NeoX layout) and supports MHA, GQA and MQA.
When fewer new queries than keys are processed (decode, or chunked prefill against a cache) the
causal mask is aligned bottom-right: new query i sits at absolute position Tk - Tq + i.
One ``forward`` takes a batch of requests of different lengths, each with its own KVCache; all
projections and MLPs run on the concatenated new tokens of the batch, only attention is per request.

References:
    Llama (Touvron et al., 2023): https://arxiv.org/abs/2302.13971
    RoPE (Su et al., 2021): https://arxiv.org/abs/2104.09864
    GQA (Ainslie et al., 2023): https://arxiv.org/abs/2305.13245
    SwiGLU (Shazeer, 2020): https://arxiv.org/abs/2002.05202
    HF transformers modeling_llama.py (rotate_half, repeat_kv)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import COMPUTE_DTYPES, ModelConfig
from .kv_cache import KVCache


# ---- small public pieces (the book reuses them) ----------------------------------------------
def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``; subtracts the max first so exp never overflows."""
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - np.where(np.isfinite(m), m, 0))
    return e / np.sum(e, axis=axis, keepdims=True)


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm over the last axis: x / sqrt(mean(x**2) + eps) * w."""
    if np.shape(w) != np.shape(x)[-1:]:
        raise ValueError(f"w must have shape ({np.shape(x)[-1]},) to match x {np.shape(x)}; got {np.shape(w)}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0; got {eps!r}")
    ms = np.add.reduce(x * x, axis=-1, keepdims=True) / x.shape[-1]  # mean(x**2), one reduction
    return x / np.sqrt(ms + float(eps)) * w  # float(eps): a numpy float64 would upcast float32


def rope_cos_sin(positions, head_dim: int, theta: float, dtype=np.float64):
    """cos and sin tables (len(positions), head_dim) for rotate-half RoPE."""
    if head_dim < 2 or head_dim % 2:
        raise ValueError(f"head_dim must be an even integer >= 2 for RoPE; got {head_dim!r}")
    if not theta > 0:
        raise ValueError(f"theta must be > 0; got {theta!r}")
    inv_freq = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)  # (hd/2,)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]  # (T, hd/2)
    angles = np.concatenate([angles, angles], axis=-1)  # (T, hd): both halves share a frequency
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate x (..., head_dim) by the angles in cos/sin (broadcast against x), HF layout."""
    if x.shape[-1] % 2 or np.shape(cos)[-1] != x.shape[-1] or np.shape(sin) != np.shape(cos):
        raise ValueError(f"x needs an even last axis equal to that of cos/sin; got x {x.shape}, "
                         f"cos {np.shape(cos)}, sin {np.shape(sin)}")
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)  # rotate_half(x)
    return x * cos + rotated * sin


def causal_mask(num_queries: int, num_keys: int) -> np.ndarray:
    """Boolean (Tq, Tk) mask, True where masked; bottom-right aligned (query i at Tk-Tq+i)."""
    if num_queries > num_keys:
        raise ValueError(f"causal attention needs num_queries <= num_keys; "
                         f"got {num_queries} > {num_keys}")
    last_visible = num_keys - num_queries + np.arange(num_queries)  # (Tq,)
    return np.arange(num_keys)[None, :] > last_visible[:, None]


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, causal: bool = True,
              return_weights: bool = False):
    """Scaled dot-product attention for q (num_heads, Tq, hd), k/v (num_kv_heads, Tk, hd).

    Query head h uses KV head h // (num_heads // num_kv_heads) (GQA; MQA is num_kv_heads=1).
    Returns out (num_heads, Tq, hd) [and weights (num_heads, Tq, Tk)].
    """
    _check_attention_shapes(q, k, v)
    if causal and q.shape[1] > k.shape[1]:
        causal_mask(q.shape[1], k.shape[1])  # raises with a clear message
    return _attend(q * q.shape[-1] ** -0.5, k, v, causal, return_weights)  # Python float: no upcast


def _attend(q_scaled, k, v, causal: bool, return_weights: bool):
    """attention() without the checks, for q already multiplied by 1/sqrt(head_dim)."""
    num_heads, tq, hd = q_scaled.shape
    num_kv_heads, tk, _ = k.shape
    group = num_heads // num_kv_heads
    qg = q_scaled.reshape(num_kv_heads, group * tq, hd)  # heads sharing a KV head become rows
    scores = qg @ k.transpose(0, 2, 1)  # (kv_heads, group*Tq, Tk)
    if causal and tq > 1:
        scores = scores.reshape(num_kv_heads, group, tq, tk)
        scores = np.where(causal_mask(tq, tk), -np.inf, scores).reshape(num_kv_heads, group * tq, tk)
    # every query sees at least one key, so the row max is finite
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    out = (weights @ v).reshape(num_heads, tq, v.shape[-1])  # (heads, Tq, hd)
    if return_weights:
        return out, weights.reshape(num_heads, tq, tk)
    return out


def _check_attention_shapes(q, k, v) -> None:
    if not all(isinstance(a, np.ndarray) and a.ndim == 3 for a in (q, k, v)):
        raise ValueError("q, k and v must be 3-d arrays (heads, tokens, head_dim)")
    if k.shape != v.shape[:2] + (k.shape[2],) or q.shape[2] != k.shape[2]:
        raise ValueError(f"incompatible shapes q {q.shape}, k {k.shape}, v {v.shape}")
    if k.shape[0] < 1 or q.shape[0] % k.shape[0]:
        raise ValueError(f"num_heads={q.shape[0]} must be a multiple of num_kv_heads={k.shape[0]}")


# When x has more than one row, OpenBLAS copies ("packs") the weight into its own layout inside the
# matmul, and for a skinny x that copy costs more than the arithmetic. Split into blocks of this
# many output rows, each block is packed and used while it is still in the CPU cache. Measured on
# 2 cores, the matmuls of one decode step of the 246M preset (best of 6), weights (in, out) used
# whole vs (out, in) in blocks: batch 1 32 -> 28 ms, batch 4 84 -> 50 ms, batch 16 92 -> 73 ms,
# batch 64 208 -> 184 ms. Batch 1 is a matrix-vector product, which packs nothing: left whole.
_LINEAR_CHUNK_ROWS = 1024


def linear(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """x (N, in) times a weight stored (out, in) as torch.nn.Linear stores it: x @ weight.T."""
    if np.ndim(x) != 2 or np.ndim(weight) != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"linear needs x (N, in) and weight (out, in); got x {np.shape(x)}, "
                         f"weight {np.shape(weight)}")
    if x.shape[0] == 1 or weight.shape[0] <= _LINEAR_CHUNK_ROWS:
        return (weight @ x.T).T
    out = np.empty((weight.shape[0], x.shape[0]), np.result_type(x, weight))  # (out, N)
    for start in range(0, weight.shape[0], _LINEAR_CHUNK_ROWS):
        stop = start + _LINEAR_CHUNK_ROWS
        np.matmul(weight[start:stop], x.T, out=out[start:stop])
    return out.T


def silu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x), written to avoid overflow for large negative x."""
    half = 0.5 * x  # sigmoid(x) = (1 + tanh(x / 2)) / 2, so silu(x) = x/2 * (1 + tanh(x/2))
    out = np.tanh(half)
    out += 1.0
    out *= half
    return out


def swiglu(x: np.ndarray, w_gate: np.ndarray, w_up: np.ndarray, w_down: np.ndarray) -> np.ndarray:
    """SwiGLU MLP: (silu(x @ w_gate) * (x @ w_up)) @ w_down."""
    return (silu(x @ w_gate) * (x @ w_up)) @ w_down


# ---- weights -------------------------------------------------------------------------------
# Projection weights are stored (out, in), as torch.nn.Linear and HF/vLLM checkpoints hold them
# (qkv_proj is vLLM's qkv_proj.weight; lm_head_proj is HF's lm_head.weight, (vocab, hidden)), and
# applied by linear(). With OpenBLAS on 2 cores that layout, in 1,024-row blocks, ran every batch
# size we timed faster than (in, out) matrices (figures at _LINEAR_CHUNK_ROWS). The w_* properties
# are (in, out) views of the same memory, so the book can write x @ layer.w_q as the math reads.
@dataclass
class LayerWeights:
    """One decoder layer; projections stored (out, in) under vLLM's fused names."""

    attn_norm: np.ndarray  # (hidden,)
    qkv_proj: np.ndarray  # (q_size + 2 * kv_size, hidden): q, k, v fused into one matmul
    o_proj: np.ndarray  # (hidden, q_size)
    mlp_norm: np.ndarray  # (hidden,)
    gate_up_proj: np.ndarray  # (2 * intermediate, hidden): gate and up fused
    down_proj: np.ndarray  # (hidden, intermediate)

    @property
    def w_qkv(self) -> np.ndarray:
        """Fused q, k, v projection as an (in, out) view: (hidden, q_size + 2 * kv_size)."""
        return self.qkv_proj.T

    @property
    def w_q(self) -> np.ndarray:
        """Query projection (hidden, num_heads * head_dim), a view into qkv_proj."""
        return self.qkv_proj[:self._q_size].T

    @property
    def w_k(self) -> np.ndarray:
        """Key projection (hidden, num_kv_heads * head_dim), a view into qkv_proj."""
        return self.qkv_proj[self._q_size:self._q_size + self._kv_size].T

    @property
    def w_v(self) -> np.ndarray:
        """Value projection (hidden, num_kv_heads * head_dim), a view into qkv_proj."""
        return self.qkv_proj[self._q_size + self._kv_size:].T

    @property
    def w_o(self) -> np.ndarray:
        """Output projection (q_size, hidden), a view of o_proj."""
        return self.o_proj.T

    @property
    def w_gate_up(self) -> np.ndarray:
        """Fused gate and up projection (hidden, 2 * intermediate), a view of gate_up_proj."""
        return self.gate_up_proj.T

    @property
    def w_gate(self) -> np.ndarray:
        """Gate projection (hidden, intermediate), a view into gate_up_proj."""
        return self.gate_up_proj[:self.down_proj.shape[1]].T

    @property
    def w_up(self) -> np.ndarray:
        """Up projection (hidden, intermediate), a view into gate_up_proj."""
        return self.gate_up_proj[self.down_proj.shape[1]:].T

    @property
    def w_down(self) -> np.ndarray:
        """Down projection (intermediate, hidden), a view of down_proj."""
        return self.down_proj.T

    @property
    def _q_size(self) -> int:
        return self.o_proj.shape[1]

    @property
    def _kv_size(self) -> int:
        return (self.qkv_proj.shape[0] - self._q_size) // 2


@dataclass
class ModelWeights:
    """All weights of the toy model, in the compute dtype."""

    embed: np.ndarray  # (vocab, hidden)
    layers: list[LayerWeights]
    final_norm: np.ndarray  # (hidden,)
    lm_head_proj: np.ndarray  # (vocab, hidden); the embedding table itself when tied

    @property
    def lm_head(self) -> np.ndarray:
        """The LM head as an (in, out) view: (hidden, vocab); == embed.T when tied."""
        return self.lm_head_proj.T

    @property
    def num_params(self) -> int:
        """Distinct parameters (a tied head is counted once)."""
        arrays = [self.embed, self.final_norm] + [a for layer in self.layers for a in (
            layer.attn_norm, layer.qkv_proj, layer.o_proj, layer.mlp_norm, layer.gate_up_proj,
            layer.down_proj)]
        tied = np.shares_memory(self.lm_head_proj, self.embed)
        return sum(a.size for a in arrays) + (0 if tied else self.lm_head_proj.size)

    @property
    def nbytes(self) -> int:
        """Bytes of all distinct parameters."""
        return self.num_params * self.embed.itemsize


def _normal(rng: np.random.Generator, shape, std: float, dtype) -> np.ndarray:
    # Drawn in float32 whatever the compute dtype, so float32 and float64 models built from the
    # same seed hold the same numbers (and a 200M-parameter model needs no float64 temporaries).
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(dtype, copy=False)


def _projection(rng: np.random.Generator, fan_in: int, fan_out: int, std: float,
                dtype) -> np.ndarray:
    """A (fan_out, fan_in) weight; drawn as (fan_in, fan_out) so a seed gives the same numbers
    whichever way the weights are stored."""
    return np.ascontiguousarray(_normal(rng, (fan_in, fan_out), std, dtype).T)


def init_weights(config: ModelConfig, rng: np.random.Generator) -> ModelWeights:
    """Random weights for ``config`` drawn from ``rng``, scaled so generations are not degenerate."""
    dtype = _compute_dtype(config)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    c = config
    h, inter = c.hidden_size, c.intermediate_size
    # Unit-variance embeddings; projections scaled by 1/sqrt(fan_in) so every block's output is
    # O(1) and attention/MLP really move the residual stream (else the last token alone decides
    # the next one and greedy decoding cycles through a few bytes).
    # A tied head scores token j by norm(x) . embed[j]; unit-variance embeddings would make the
    # current token's own row win every time, so tied models get rows of norm ~1 instead.
    embed = _normal(rng, (c.vocab_size, h), h ** -0.5 if c.tie_word_embeddings else 1.0, dtype)
    layers = [LayerWeights(
        attn_norm=np.ones(h, dtype),
        qkv_proj=_projection(rng, h, c.q_size + 2 * c.kv_size, h ** -0.5, dtype),
        o_proj=_projection(rng, c.q_size, h, c.q_size ** -0.5, dtype),
        mlp_norm=np.ones(h, dtype),
        gate_up_proj=_projection(rng, h, 2 * inter, h ** -0.5, dtype),
        down_proj=_projection(rng, inter, h, inter ** -0.5, dtype),
    ) for _ in range(c.num_layers)]
    if c.tie_word_embeddings:
        lm_head = embed  # (vocab, hidden) is already the (out, in) layout
    else:
        # logits with a standard deviation of ~2: peaked enough to prefer some bytes, flat enough
        # that temperature/top-k/top-p visibly change the distribution.
        lm_head = _projection(rng, h, c.vocab_size, 2.0 * h ** -0.5, dtype)
    return ModelWeights(embed=embed, layers=layers, final_norm=np.ones(h, dtype),
                        lm_head_proj=lm_head)


def _check_shapes(config: ModelConfig, weights: ModelWeights) -> None:
    """Every array of ``weights`` has the shape ``config`` asks for."""
    c, h = config, config.hidden_size
    want = {"embed": (c.vocab_size, h), "final_norm": (h,), "lm_head_proj": (c.vocab_size, h)}
    got = {name: np.shape(getattr(weights, name)) for name in want}
    layer = {"attn_norm": (h,), "qkv_proj": (c.q_size + 2 * c.kv_size, h),
             "o_proj": (h, c.q_size), "mlp_norm": (h,),
             "gate_up_proj": (2 * c.intermediate_size, h), "down_proj": (h, c.intermediate_size)}
    for i, lw in enumerate(weights.layers):
        want.update({f"layers[{i}].{k}": s for k, s in layer.items()})
        got.update({f"layers[{i}].{k}": np.shape(getattr(lw, k)) for k in layer})
    bad = [f"{k} {got[k]} (config needs {s})" for k, s in want.items() if got[k] != s]
    if len(weights.layers) != c.num_layers:
        bad.insert(0, f"{len(weights.layers)} layers (config needs {c.num_layers})")
    if bad:
        raise ValueError(f"weights do not match config {c.name!r}: {'; '.join(bad[:3])}")


def _compute_dtype(config: ModelConfig) -> np.dtype:
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config must be a ModelConfig; got {type(config).__name__}")
    if config.dtype not in COMPUTE_DTYPES:
        raise ValueError(f"the numpy model computes in {COMPUTE_DTYPES}; config.dtype="
                         f"{config.dtype!r} (use config.replace(dtype='float32'))")
    if config.is_mla or config.is_moe or config.mlp_type != "swiglu" or \
            config.norm_type != "rmsnorm" or config.position_embedding != "rope" or \
            config.attention_bias or config.attention_out_bias or config.num_norms_per_layer != 2:
        raise ValueError(f"the toy model is plain Llama (rope, rmsnorm x2, swiglu, no bias, no MoE/"
                         f"MLA); config {config.name!r} is not")
    return np.dtype(config.dtype)


# ---- the model -------------------------------------------------------------------------------
class ToyModel:
    """Llama-style decoder over a batch of requests, each with its own KVCache."""

    def __init__(self, config: ModelConfig, rng: np.random.Generator | None = None, seed: int = 0):
        self.dtype = _compute_dtype(config)
        if rng is None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
            rng = np.random.default_rng(seed)
        self.config = config
        self.weights = init_weights(config, rng)

    @classmethod
    def from_weights(cls, config: ModelConfig, weights: ModelWeights) -> "ToyModel":
        """A model that runs ``weights`` (already in the compute dtype) under ``config``."""
        model = cls.__new__(cls)
        model.dtype = _compute_dtype(config)
        if not isinstance(weights, ModelWeights) or weights.embed.dtype != model.dtype:
            raise ValueError(f"weights must be a ModelWeights in {model.dtype}")
        _check_shapes(config, weights)
        model.config, model.weights = config, weights
        return model

    @classmethod
    def from_pretrained(cls, path) -> "ToyModel":
        """Load an HF-format Llama directory (config.json + model.safetensors); float32 compute."""
        from .pretrained import load_weights

        return cls.from_weights(*load_weights(path))

    def new_cache(self) -> KVCache:
        """An empty KVCache for this model's config."""
        return KVCache(self.config)

    def embed(self, ids) -> np.ndarray:
        """Embedding rows of ``ids``: (T, hidden)."""
        return self.weights.embed[self._check_ids(ids)]

    def forward(self, batch: list[tuple[list[int], KVCache]], *, return_attention: bool = False,
                last_token_only: bool = False, causal: bool = True):
        """Run the new tokens of every request, appending their K/V to each request's cache.

        batch: list of (new_token_ids, cache). Returns a list of logits per request, each
        (num_new_tokens, vocab) — or (1, vocab) for the last new token if ``last_token_only`` —
        and, if ``return_attention``, also a list of (num_layers, num_heads, num_new, num_keys).
        ``causal=False`` lets every new token see every key, later ones included: only for showing
        what the mask does (a real decoder never runs like this; its logits mean nothing).
        """
        for name, flag in (("return_attention", return_attention),
                           ("last_token_only", last_token_only), ("causal", causal)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be a bool; got {flag!r}")
        ids, caches, lengths = self._check_batch(batch)
        c, w = self.config, self.weights
        starts = np.cumsum([0] + lengths)  # row ranges of each request in the flat batch
        past = np.repeat([cache.num_tokens for cache in caches], lengths)  # (N,)
        positions = past + np.arange(len(ids)) - np.repeat(starts[:-1], lengths)  # (N,)
        cos, sin = rope_cos_sin(positions, c.head_dim, c.rope_theta, self.dtype)
        cos, sin = cos[:, None, :], sin[:, None, :]  # (N, 1, hd): broadcast over heads
        x = w.embed[ids]  # (N, hidden)
        attn_maps = [[] for _ in caches]
        for layer_index, layer in enumerate(w.layers):
            h = rms_norm(x, layer.attn_norm, c.rms_norm_eps)
            attn = self._attention_block(h, layer, layer_index, caches, starts, cos, sin,
                                         attn_maps if return_attention else None, causal)
            x = x + linear(attn, layer.o_proj)  # (N, hidden)
            h = rms_norm(x, layer.mlp_norm, c.rms_norm_eps)
            x = x + self._mlp(h, layer)
        if last_token_only:
            x = x[starts[1:] - 1]  # (B, hidden): the last new token of each request
            starts = np.arange(len(caches) + 1)
        logits = np.ascontiguousarray(  # (N or B, vocab), rows contiguous for the sampler
            linear(rms_norm(x, w.final_norm, c.rms_norm_eps), w.lm_head_proj))
        out = [logits[a:b] for a, b in zip(starts[:-1], starts[1:])]
        if return_attention:
            return out, [np.stack(maps) for maps in attn_maps]
        return out

    def _attention_block(self, h, layer, layer_index, caches, starts, cos, sin, attn_maps,
                         causal=True):
        c = self.config
        n, heads, kv_heads = h.shape[0], c.num_heads, c.num_kv_heads
        # (N, heads + 2 * kv_heads, hd): each token's q heads, then its k heads, then its v heads
        qkv = linear(h, layer.qkv_proj).reshape(n, heads + 2 * kv_heads, c.head_dim)
        qk = apply_rope(qkv[:, :heads + kv_heads], cos, sin)  # q and k heads, rotated together
        q = qk[:, :heads] * c.head_dim ** -0.5  # (N, heads, hd); a Python float keeps float32
        k, v = qk[:, heads:], qkv[:, heads + kv_heads:]  # (N, kv_heads, hd) each
        kv = np.stack((k, v)).transpose(0, 2, 1, 3)  # (2, kv_heads, N, hd): the cache's layout
        if attn_maps is None and n == len(caches) > 1:  # every request decodes one token
            return self._decode_attention(q, kv, layer_index, caches)
        out = np.empty((n, heads, c.head_dim), self.dtype)
        for i, cache in enumerate(caches):  # only attention is per request
            a, b = starts[i], starts[i + 1]
            keys, values = cache._append(layer_index, kv[:, :, a:b])
            result = _attend(q[a:b].transpose(1, 0, 2), keys, values, causal, attn_maps is not None)
            if attn_maps is not None:
                result, weights = result
                attn_maps[i].append(weights)
            out[a:b] = result.transpose(1, 0, 2)
        return out.reshape(n, c.q_size)

    def _decode_attention(self, q, kv, layer_index, caches) -> np.ndarray:
        """One new token per request: gather every request's K/V into one batch (padded when the
        lengths differ, the padding masked) and attend once, instead of a handful of small numpy
        calls per request."""
        c = self.config
        views = [cache._append(layer_index, kv[:, :, i:i + 1]) for i, cache in enumerate(caches)]
        lengths = [view.shape[2] for view in views]
        longest = max(lengths)
        padded = min(lengths) != longest  # else the requests are in lockstep: nothing to pad
        if padded:
            stacked = np.zeros((len(views), 2, c.num_kv_heads, longest, c.head_dim), self.dtype)
            for i, view in enumerate(views):
                stacked[i, :, :, :lengths[i]] = view
        else:
            stacked = np.stack(views)  # (B, 2, kv_heads, T, hd)
        keys, values = stacked[:, 0], stacked[:, 1]  # (B, kv_heads, T_max, hd)
        qg = q.reshape(len(views), c.num_kv_heads, c.num_queries_per_kv, c.head_dim)
        scores = qg @ keys.transpose(0, 1, 3, 2)  # (B, kv_heads, group, T_max)
        if padded:
            padding = np.arange(longest)[None, :] >= np.array(lengths)[:, None]  # (B, T_max)
            scores = np.where(padding[:, None, None, :], -np.inf, scores)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        return (weights @ values).reshape(len(views), c.q_size)  # (B, heads * hd)

    def _mlp(self, h: np.ndarray, layer: LayerWeights) -> np.ndarray:
        inter = self.config.intermediate_size
        gate_up = linear(h, layer.gate_up_proj)  # (N, 2 * intermediate)
        return linear(silu(gate_up[:, :inter]) * gate_up[:, inter:], layer.down_proj)  # (N, hidden)

    def _check_ids(self, ids) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim != 1 or arr.size == 0 or not (arr.dtype.kind in "iu"):
            raise ValueError(f"token ids must be a non-empty 1-d sequence of ints; got {ids!r:.80}")
        bad = arr[(arr < 0) | (arr >= self.config.vocab_size)]
        if bad.size:
            raise ValueError(f"token id {int(bad[0])} is outside 0..{self.config.vocab_size - 1}")
        return arr

    def _check_batch(self, batch):
        if not isinstance(batch, (list, tuple)) or not batch:
            raise ValueError("batch must be a non-empty list of (token_ids, KVCache) pairs")
        caches, lengths, flat = [], [], []
        for item in batch:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], KVCache)):
                raise ValueError("each batch item must be a (token_ids, KVCache) tuple")
            if item[1].config is not self.config and item[1].config != self.config:
                raise ValueError("a KVCache was built for a different config than the model's")
            ids = item[0] if isinstance(item[0], list) else self._check_ids(item[0]).tolist()
            if not ids:
                raise ValueError("every request in a batch needs at least one new token")
            flat.extend(ids)
            caches.append(item[1])
            lengths.append(len(ids))
        if len({id(cache) for cache in caches}) != len(caches):
            raise ValueError("two requests in one batch share a KVCache")
        return self._check_ids(flat), caches, lengths  # one check for the whole batch
