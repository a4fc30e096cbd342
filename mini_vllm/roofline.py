"""The roofline applied to decode and prefill: intensity, ridge point, time bounds, Little's law.

A step that does F FLOP and moves D bytes takes at least max(F / peak, D / bandwidth). Its
arithmetic intensity F / D decides which term wins: below the ridge point (peak / bandwidth) the
memory term does. Decode at batch B does 2 x params x B FLOP on one read of the weights (plus
the KV cache), so its intensity is about B; prefill of P tokens is about P.

Conventions: FLOP per token = 2 x (active) parameters, the napkin version: every weight counts
once, including the embedding table and norms (a lookup and a scale, not really matmuls; the
exact per-part count is flops_per_token_breakdown), and the attention-score FLOP over the
cached keys are left out; the bytes read are all
weights once per step plus, when context_len > 0, the KV cache of every sequence. MoE models
count active parameters for FLOP but all weights for bytes (every expert is read at large batch).
weight_dtype changes only the weights' bytes; the KV cache stays in kv_dtype (default: the
model's dtype, like vLLM's kv_cache_dtype='auto').

References:
    Roofline (Williams, Waterman, Patterson, 2009): https://doi.org/10.1145/1498765.1498785
    Little's law (Little, 1961): https://doi.org/10.1287/opre.9.3.383
    Efficiently Scaling Transformer Inference (Pope et al., 2022): https://arxiv.org/abs/2211.05102
"""

from __future__ import annotations

import math

from .config import ModelConfig
from .hardware import GPUSpec, get_gpu
from .memory import (_check_count, _check_positive, kv_bytes_per_sequence, num_active_params,
                     num_params, param_breakdown, weight_bytes)


def _gpu(gpu) -> GPUSpec:
    gpu = get_gpu(gpu) if isinstance(gpu, str) else gpu
    if not isinstance(gpu, GPUSpec):
        raise ValueError(f"gpu must be a GPUSpec or a GPU name; got {type(gpu).__name__}")
    _check_positive("bandwidth_bytes_per_s", gpu.bandwidth_bytes_per_s)
    return gpu


def _compute_dtype(cfg: ModelConfig, dtype: str | None, weight_dtype: str | None) -> str:
    """The tensor-core rate to use: given, else the weights' dtype (bf16 for real models)."""
    return dtype or weight_dtype or cfg.dtype


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


# ---- decode ---------------------------------------------------------------------------------
def flops_per_token(cfg: ModelConfig) -> int:
    """2 x active parameters: one multiply and one add per weight used."""
    return 2 * num_active_params(cfg)


def flops_per_token_breakdown(cfg: ModelConfig, context_len: int = 0) -> dict[str, int]:
    """FLOP one token costs by part, attending over context_len cached keys (itself included).

    'attention_projections' (q, k, v, o), 'mlp' (active experts and router for MoE), 'lm_head'
    (the vocabulary projection, run even when tied) are 2 x the weights used; 'attention_scores'
    is q.k over context_len keys plus the weighted sum of as many values: it grows with context.
    The napkin flops_per_token (2 x all active parameters) differs by the embedding and norms.
    """
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
    """Bytes one decode step reads: all weights once + each sequence's KV cache (context_len)."""
    kv = kv_bytes_per_sequence(cfg, context_len, kv_dtype)
    return weight_bytes(cfg, weight_dtype) + _check_count("batch_size", batch_size) * kv


def decode_intensity(cfg: ModelConfig, batch_size: int = 1, *, context_len: int = 0,
                     weight_dtype: str | None = None, kv_dtype: str | None = None) -> float:
    """FLOP per byte of a decode step at batch B.

    context_len=0 is the "weights only" form, 2 x B / bytes_per_param (exactly B in bf16 for a
    dense model); context_len > 0 adds each sequence's KV read, which keeps intensity from
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

    Weights only (context_len=0): ridge x bytes_per_param / 2, whatever the model, so weights
    stored in fp8 (1 byte) but multiplied at the bf16 rate halve it. With KV reads it is
    ridge x W / (2N - ridge x K) for weight bytes W, active params N and KV bytes per sequence K.
    """
    ridge = ridge_point(gpu, _compute_dtype(cfg, dtype, weight_dtype))
    w = weight_bytes(cfg, weight_dtype)
    k = kv_bytes_per_sequence(cfg, context_len, kv_dtype)
    margin = flops_per_token(cfg) - ridge * k
    return ridge * w / margin if margin > 0 else math.inf


# ---- prefill --------------------------------------------------------------------------------
def prefill_flops(cfg: ModelConfig, prompt_len: int) -> int:
    """FLOP of prefilling one prompt of prompt_len tokens (linear layers)."""
    return _check_count("prompt_len", prompt_len) * flops_per_token(cfg)


def prefill_bytes(cfg: ModelConfig, prompt_len: int, *, weight_dtype: str | None = None,
                  kv_dtype: str | None = None) -> int | float:
    """Bytes a prefill moves: the weights once + the KV cache it writes for prompt_len tokens."""
    _check_count("prompt_len", prompt_len)
    return weight_bytes(cfg, weight_dtype) + kv_bytes_per_sequence(cfg, prompt_len,
                                                                   kv_dtype)


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
