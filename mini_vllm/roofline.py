"""The roofline applied to decode and prefill: intensity, ridge point, time bounds, Little's law.

A step that does F FLOP and moves D bytes takes at least max(F / peak, D / bandwidth). Its
arithmetic intensity F / D decides which term wins: below the ridge point (peak / bandwidth) the
memory term does. Decode at batch B does 2 x params x B FLOP on one read of the weights (plus
the KV cache), so its intensity is about B in bf16; prefill of P tokens is about P.

Conventions: FLOP count a multiply and an add per weight a token uses, including the LM head
and the norms, but not the input embedding: a lookup copies a row, it multiplies nothing (the
per-part count, with the attention scores over the cache, is flops_per_token_breakdown). The
bytes are what a step must read: every weight matrix once (the LM head in full), only the input
embedding rows of the step's tokens (a tied model reads its one table once, as the head), and,
when context_len > 0, each sequence's KV cache. The napkin "all weights once" figure is
memory.weight_bytes. A MoE step reads only the experts its tokens are routed to: the expected
number under uniform routing (expected_experts_read); real routers are not uniform, so this is
an estimate, not a floor. weight_dtype changes only the weights' bytes; the KV cache stays in
kv_dtype (default: the model's dtype, like vLLM's kv_cache_dtype='auto').

References:
    Roofline (Williams, Waterman, Patterson, 2009): https://doi.org/10.1145/1498765.1498785
    Little's law (Little, 1961): https://doi.org/10.1287/opre.9.3.383
    Efficiently Scaling Transformer Inference (Pope et al., 2022): https://arxiv.org/abs/2211.05102
"""

from __future__ import annotations

import math

from .config import ModelConfig, canonical_dtype
from .hardware import GPUSpec, get_gpu
from .memory import (_bytes_per, _check_config, _check_count, _check_positive,
                     _exact, kv_bytes_per_sequence, num_active_params, num_params,
                     param_breakdown)


def _gpu(gpu) -> GPUSpec:
    gpu = get_gpu(gpu) if isinstance(gpu, str) else gpu
    if not isinstance(gpu, GPUSpec):
        raise ValueError(f"gpu must be a GPUSpec or a GPU name; got {type(gpu).__name__}")
    _check_positive("bandwidth_bytes_per_s", gpu.bandwidth_bytes_per_s)
    return gpu


def _compute_dtype(cfg: ModelConfig, dtype: str | None, weight_dtype: str | None) -> str:
    """The tensor-core rate to use: given, else the weights' dtype (bf16 for real models)."""
    _check_config(cfg)  # every entry point with a gpu passes here first
    for name, value in (("dtype", dtype), ("weight_dtype", weight_dtype)):
        if value is not None:
            canonical_dtype(value, name)
    return next(d for d in (dtype, weight_dtype, cfg.dtype) if d is not None)


def peak_and_bandwidth(gpu, dtype: str = "bfloat16", sparse: bool = False) -> tuple[float, float]:
    """(peak FLOP/s, bandwidth bytes/s) of a GPUSpec or GPU name; dense unless sparse=True."""
    gpu = _gpu(gpu)
    return gpu.peak_flops(dtype, sparse), gpu.bandwidth_bytes_per_s


def ridge_point(gpu, dtype: str = "bfloat16", sparse: bool = False) -> float:
    """FLOP per byte where a kernel turns compute-bound: peak FLOP/s / bandwidth (bytes/s)."""
    peak, bandwidth = peak_and_bandwidth(gpu, dtype, sparse)
    return peak / bandwidth


def attainable_flops(gpu, intensity: float, dtype: str = "bfloat16") -> float:
    """The roofline: min(peak, intensity x bandwidth) in FLOP/s."""
    _check_positive("intensity", intensity, allow_zero=True)
    peak, bandwidth = peak_and_bandwidth(gpu, dtype)
    return min(peak, intensity * bandwidth)


# ---- what a step reads and computes --------------------------------------------------------
def _lookup_params(cfg: ModelConfig) -> int:
    """Parameters a token only looks up: the input table (unless tied) and learned positions."""
    parts = param_breakdown(cfg)
    return (0 if cfg.tie_word_embeddings else parts["embedding"]) + parts["position"]


def _lookup_bytes(cfg: ModelConfig, num_tokens: float, weight_bytes_each: float) -> float:
    """Bytes of the rows num_tokens tokens look up: at most the whole table, one position each.

    A tied table is read in full as the LM head, so its rows cost nothing extra.
    """
    rows = 0 if cfg.tie_word_embeddings else min(num_tokens, cfg.vocab_size)
    if cfg.position_embedding == "learned":
        rows += min(num_tokens, cfg.max_position_embeddings)
    return rows * cfg.hidden_size * weight_bytes_each


def expected_experts_read(cfg: ModelConfig, num_tokens: int = 1) -> float:
    """Distinct routed experts one MoE layer reads for num_tokens tokens, under uniform routing.

    Each token picks k = num_experts_per_tok of E experts; if every set of k is equally likely,
    an expert is missed by one token with probability 1 - k/E, so E x (1 - (1 - k/E)^B) experts
    are read on average. Real routers favour some experts, which lowers the count; 0 for a dense
    model. It reaches E only in the limit, so "every expert" is not a floor on a step's bytes.
    """
    _check_config(cfg)
    _check_count("num_tokens", num_tokens)
    return _experts_read(cfg, num_tokens)


def _experts_read(cfg: ModelConfig, num_tokens: float) -> float:
    if not cfg.is_moe:
        return 0.0
    e, k = cfg.num_experts, cfg.num_experts_per_tok
    return e * (1 - (1 - k / e) ** num_tokens)  # exactly k for one token


def _matrix_params_read(cfg: ModelConfig, num_tokens: float) -> float:
    """Weights a step of num_tokens tokens reads once, lookup tables aside (expected for MoE)."""
    total = num_params(cfg) - _lookup_params(cfg)
    if not cfg.is_moe:
        return total
    expert = 3 * cfg.hidden_size * (cfg.moe_intermediate_size or cfg.intermediate_size)
    unread = cfg.num_experts - _experts_read(cfg, num_tokens)
    return total - (cfg.num_layers - cfg.first_k_dense_replace) * unread * expert


def _step_bytes(cfg: ModelConfig, num_tokens: float, kv_bytes: float,
                weight_dtype: str | None) -> float:
    """Bytes a step of num_tokens new tokens reads or writes: weights, its rows, kv_bytes."""
    each = _bytes_per(cfg, weight_dtype, "weight_dtype")
    return (_matrix_params_read(cfg, num_tokens) * each
            + _lookup_bytes(cfg, num_tokens, each) + kv_bytes)


# ---- decode ---------------------------------------------------------------------------------
def flops_per_token(cfg: ModelConfig) -> int:
    """2 x the weights one token multiplies: active parameters minus the lookup tables."""
    _check_config(cfg)
    return 2 * (num_active_params(cfg) - _lookup_params(cfg))


def flops_per_token_breakdown(cfg: ModelConfig, context_len: int = 0) -> dict[str, int]:
    """FLOP one token costs by part, attending over context_len cached keys (itself included).

    'attention_projections' (q, k, v, o), 'mlp' (active experts and router for MoE), 'lm_head'
    (the vocabulary projection, run even when tied) are 2 x the weights used; 'attention_scores'
    is q.k over context_len keys plus the weighted sum of as many values: it grows with context.
    flops_per_token also counts the norms (2 x their weights), which this leaves out.
    """
    _check_config(cfg)
    _check_count("context_len", context_len, minimum=0)
    parts = param_breakdown(cfg)
    active_mlp = parts["mlp"] - (num_params(cfg) - num_active_params(cfg))
    if cfg.is_mla:
        qk_dim, v_dim = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, cfg.v_head_dim
    else:
        qk_dim = v_dim = cfg.head_dim
    scores = 2 * cfg.num_layers * cfg.num_heads * (qk_dim + v_dim) * context_len
    return {"attention_projections": 2 * parts["attention"], "mlp": 2 * active_mlp,
            "lm_head": 2 * cfg.vocab_size * cfg.hidden_size, "attention_scores": scores}


def decode_flops(cfg: ModelConfig, batch_size: int = 1) -> int:
    """FLOP of one decode step of batch_size sequences (one new token each)."""
    return _check_count("batch_size", batch_size) * flops_per_token(cfg)


def decode_bytes(cfg: ModelConfig, batch_size: int = 1, *, context_len: int = 0,
                 weight_dtype: str | None = None, kv_dtype: str | None = None) -> int | float:
    """Bytes one decode step reads: the weights once, B embedding rows, B KV caches.

    The LM head is read in full; the input table only for the rows of the B new tokens (at most
    the table; a tied table is read once, as the head); each sequence's KV cache of context_len
    tokens. MoE: the experts B tokens are expected to reach (expected_experts_read), a float.
    """
    _check_config(cfg)
    _check_count("batch_size", batch_size)
    _check_count("context_len", context_len, minimum=0)
    kv = batch_size * kv_bytes_per_sequence(cfg, context_len, kv_dtype)
    return _exact(_step_bytes(cfg, batch_size, kv, weight_dtype))


def decode_intensity(cfg: ModelConfig, batch_size: int = 1, *, context_len: int = 0,
                     weight_dtype: str | None = None, kv_dtype: str | None = None) -> float:
    """FLOP per byte of a decode step at batch B.

    context_len=0 is the "weights only" form, 2 x B / bytes_per_param (B in bf16 for a dense
    model, less a hair for the B embedding rows read: B x hidden of N); context_len > 0 adds each sequence's KV read, which keeps intensity from
    growing with B once the KV bytes dominate.
    """
    return decode_flops(cfg, batch_size) / decode_bytes(
        cfg, batch_size, context_len=context_len, weight_dtype=weight_dtype, kv_dtype=kv_dtype)


def decode_step_breakdown(cfg: ModelConfig, gpu, batch_size: int = 1, *, context_len: int = 0,
                          weight_dtype: str | None = None, kv_dtype: str | None = None,
                          dtype: str | None = None) -> dict[str, float]:
    """Seconds of a decode step: 'memory_s' (bytes / bandwidth), 'compute_s', 'bound_s'."""
    peak, bandwidth = peak_and_bandwidth(gpu, _compute_dtype(cfg, dtype, weight_dtype))
    memory_s = decode_bytes(cfg, batch_size, context_len=context_len, weight_dtype=weight_dtype,
                            kv_dtype=kv_dtype) / bandwidth
    compute_s = decode_flops(cfg, batch_size) / peak
    return {"memory_s": memory_s, "compute_s": compute_s, "bound_s": max(memory_s, compute_s)}


def decode_step_time_bound(cfg: ModelConfig, gpu, batch_size: int = 1, **kwargs) -> float:
    """Lower bound on one decode step in seconds: max(bytes / bandwidth, FLOP / peak)."""
    return decode_step_breakdown(cfg, gpu, batch_size, **kwargs)["bound_s"]


def decode_tokens_per_s_bound(cfg: ModelConfig, gpu, batch_size: int = 1, **kwargs) -> float:
    """Upper bound on generated tokens/s over the batch: batch_size / step time bound."""
    return batch_size / decode_step_time_bound(cfg, gpu, batch_size, **kwargs)


def utilization(cfg: ModelConfig, gpu, batch_size: int = 1, *, context_len: int = 0,
                weight_dtype: str | None = None, kv_dtype: str | None = None,
                dtype: str | None = None) -> float:
    """Best-case fraction of peak FLOP/s a decode step can use: min(1, intensity / ridge)."""
    intensity = decode_intensity(cfg, batch_size, context_len=context_len,
                                 weight_dtype=weight_dtype, kv_dtype=kv_dtype)
    return min(1.0, intensity / ridge_point(gpu, _compute_dtype(cfg, dtype, weight_dtype)))


def critical_batch_size(cfg: ModelConfig, gpu, *, context_len: int = 0,
                        weight_dtype: str | None = None, kv_dtype: str | None = None,
                        dtype: str | None = None) -> float:
    """Batch at which decode intensity reaches the ridge point (not rounded; math.inf if never).

    Dense, weights only: ridge x W / (2N - ridge x r) for matrix bytes W, FLOP per token 2N and
    r bytes of embedding row per sequence: ridge x bytes_per_param / 2 but for the rows (0.01 %
    for Llama-3-8B). Weights in fp8 (1 byte) multiplied at the bf16 rate halve it. KV reads add
    K bytes per sequence to r; once ridge x (r + K) >= 2N no batch reaches the ridge. MoE reads
    more experts as B grows, so there it is solved for numerically.
    """
    ridge = ridge_point(gpu, _compute_dtype(cfg, dtype, weight_dtype))
    _check_count("context_len", context_len, minimum=0)
    kv = kv_bytes_per_sequence(cfg, context_len, kv_dtype)
    two_n = flops_per_token(cfg)

    def short(b: float) -> float:  # bytes beyond what b x 2N FLOP can cover at the ridge
        return ridge * _step_bytes(cfg, b, b * kv, weight_dtype) - b * two_n

    if ridge * kv >= two_n:  # even an endless batch stays below the ridge: 2N / K at most
        return math.inf
    each = _bytes_per(cfg, weight_dtype, "weight_dtype")
    margin = two_n - ridge * (kv + _lookup_bytes(cfg, 1, each))
    rows_capped_at = min(cfg.vocab_size, cfg.max_position_embeddings)
    if not cfg.is_moe and margin > 0:
        b = ridge * _matrix_params_read(cfg, 1) * each / margin
        if b <= rows_capped_at:  # before the rows cover a whole table, bytes are linear in B
            return b
    low, high = 0.0, 1.0
    while short(high) > 0:
        low, high = high, 2 * high
    for _ in range(200):  # bisection to float precision
        mid = (low + high) / 2
        low, high = (mid, high) if short(mid) > 0 else (low, mid)
    return high


# ---- prefill --------------------------------------------------------------------------------
def prefill_flops(cfg: ModelConfig, prompt_len: int) -> int:
    """FLOP of prefilling one prompt of prompt_len tokens (linear layers)."""
    return _check_count("prompt_len", prompt_len) * flops_per_token(cfg)


def prefill_bytes(cfg: ModelConfig, prompt_len: int, *, weight_dtype: str | None = None,
                  kv_dtype: str | None = None) -> int | float:
    """Bytes a prefill moves: the weights once, the prompt's rows, the KV cache it writes."""
    _check_config(cfg)
    kv = kv_bytes_per_sequence(cfg, _check_count("prompt_len", prompt_len), kv_dtype)
    return _exact(_step_bytes(cfg, prompt_len, kv, weight_dtype))


def prefill_intensity(cfg: ModelConfig, prompt_len: int, *, weight_dtype: str | None = None,
                      kv_dtype: str | None = None) -> float:
    """FLOP per byte of a prefill of prompt_len tokens (about prompt_len in bf16)."""
    return prefill_flops(cfg, prompt_len) / prefill_bytes(cfg, prompt_len,
                                                          weight_dtype=weight_dtype,
                                                          kv_dtype=kv_dtype)


def prefill_time_bound(cfg: ModelConfig, gpu, prompt_len: int, *, weight_dtype: str | None = None,
                       kv_dtype: str | None = None, dtype: str | None = None) -> float:
    """Lower bound on a prefill in seconds: max(FLOP / peak, bytes / bandwidth)."""
    peak, bandwidth = peak_and_bandwidth(gpu, _compute_dtype(cfg, dtype, weight_dtype))
    moved = prefill_bytes(cfg, prompt_len, weight_dtype=weight_dtype, kv_dtype=kv_dtype)
    return max(prefill_flops(cfg, prompt_len) / peak, moved / bandwidth)


# ---- latency --------------------------------------------------------------------------------
def ttft_estimate(cfg: ModelConfig, gpu, prompt_len: int, *, queue_s: float = 0.0,
                  **kwargs) -> float:
    """Time to first token: waiting time + the prefill bound (the first token comes out of it)."""
    return _check_positive("queue_s", queue_s, allow_zero=True) + prefill_time_bound(
        cfg, gpu, prompt_len, **kwargs)


def itl_estimate(cfg: ModelConfig, gpu, batch_size: int = 1, *, context_len: int = 0,
                 **kwargs) -> float:
    """Inter-token latency: one decode step of the whole batch (its lower bound)."""
    return decode_step_time_bound(cfg, gpu, batch_size, context_len=context_len, **kwargs)


def littles_law_concurrency(throughput: float, latency_s: float) -> float:
    """Items in flight N = throughput X (items/s) x time each spends inside L (s)."""
    _check_positive("throughput", throughput, allow_zero=True)
    return throughput * _check_positive("latency_s", latency_s, allow_zero=True)


def littles_law_throughput(concurrency: float, latency_s: float) -> float:
    """Throughput X = items in flight N / time each spends inside L (s)."""
    _check_positive("concurrency", concurrency, allow_zero=True)
    return concurrency / _check_positive("latency_s", latency_s)


def littles_law_latency(concurrency: float, throughput: float) -> float:
    """Time each item spends inside L = items in flight N / throughput X."""
    _check_positive("concurrency", concurrency, allow_zero=True)
    return concurrency / _check_positive("throughput", throughput)
