"""Lab 2 starter: the KV-cache memory formula, and how many users it lets a GPU serve.

Replace each ``raise NotImplementedError(...)`` with your code. Grade yourself with
``LAB_IMPL=starter pytest labs/lab02_kv_memory_calculator -q``. README.md has the background.
"""

from __future__ import annotations

from mini_vllm.config import ModelConfig, dtype_bytes


def kv_values_per_token_per_layer(cfg: ModelConfig) -> int:
    """Numbers one token leaves in the cache of one layer."""
    # TODO: one key vector and one value vector per KV head, each head_dim numbers long.
    #       Use cfg.num_kv_heads (not cfg.num_heads: that is the point of GQA) and cfg.head_dim.
    # TODO (DeepSeek): if cfg.is_mla, a layer stores one latent of cfg.kv_lora_rank numbers plus
    #       one RoPE key of cfg.qk_rope_head_dim numbers shared by all heads -- and no factor 2.
    raise NotImplementedError("Lab 2: kv_values_per_token_per_layer is not implemented yet")


def kv_bytes_per_token(cfg: ModelConfig, kv_dtype: str | None = None) -> float:
    """Bytes of KV cache one token occupies across all layers (kv_dtype defaults to cfg.dtype)."""
    # TODO: layers x values per layer x bytes per value. dtype_bytes("bf16") == 2,
    #       dtype_bytes("fp8") == 1. When kv_dtype is None, use cfg.dtype.
    raise NotImplementedError("Lab 2: kv_bytes_per_token is not implemented yet")


def kv_bytes_per_sequence(cfg: ModelConfig, num_tokens: int, kv_dtype: str | None = None) -> float:
    """Bytes of KV cache one sequence of ``num_tokens`` tokens occupies."""
    # TODO: every token of the sequence (prompt and output) keeps its own entry.
    raise NotImplementedError("Lab 2: kv_bytes_per_sequence is not implemented yet")


def weight_bytes(num_params: int, weight_dtype: str = "bfloat16") -> float:
    """Bytes the weights occupy: every parameter stored once in ``weight_dtype``."""
    # TODO: parameters x bytes per parameter.
    raise NotImplementedError("Lab 2: weight_bytes is not implemented yet")


def max_concurrent_sequences(gpu_memory_bytes: float, weight_bytes: float,
                             bytes_per_sequence: float) -> int:
    """Whole sequences whose KV cache fits beside the weights (0 if the weights do not fit)."""
    # TODO: the weights are loaded first; what is left holds KV caches. Round down (half a
    #       sequence cannot be served) and never return a negative number.
    raise NotImplementedError("Lab 2: max_concurrent_sequences is not implemented yet")


def gqa_factor(cfg: ModelConfig) -> float:
    """How many times smaller the cache is than with one KV head per query head (MHA)."""
    # TODO: compare the KV heads an MHA model would have (one per query head) with cfg's.
    raise NotImplementedError("Lab 2: gqa_factor is not implemented yet")
