"""Lab 2 reference: the KV-cache memory formula, and how many users it lets a GPU serve.

bytes per token = num_layers x (values per token per layer) x bytes per value, where a layer
stores one key and one value vector per KV head (2 x num_kv_heads x head_dim), or, for
multi-head latent attention, one compressed latent plus a shared RoPE key.

References:
    vLLM KV cache sizing (AttentionSpec.page_size_bytes, MLAAttentionSpec): vllm/v1/kv_cache_interface.py
    Ainslie et al., "GQA" (2023): https://arxiv.org/abs/2305.13245
    DeepSeek-AI, "DeepSeek-V2" (MLA, 2024): https://arxiv.org/abs/2405.04434
"""

from __future__ import annotations

from mini_vllm.config import ModelConfig, dtype_bytes


def kv_values_per_token_per_layer(cfg: ModelConfig) -> int:
    """Numbers one token leaves in the cache of one layer."""
    if cfg.is_mla:
        return cfg.kv_lora_rank + cfg.qk_rope_head_dim  # one latent + one shared RoPE key, no x2
    return 2 * cfg.num_kv_heads * cfg.head_dim  # a key and a value per KV head


def kv_bytes_per_token(cfg: ModelConfig, kv_dtype: str | None = None) -> float:
    """Bytes of KV cache one token occupies across all layers (kv_dtype defaults to cfg.dtype)."""
    return cfg.num_layers * kv_values_per_token_per_layer(cfg) * dtype_bytes(kv_dtype or cfg.dtype)


def kv_bytes_per_sequence(cfg: ModelConfig, num_tokens: int, kv_dtype: str | None = None) -> float:
    """Bytes of KV cache one sequence of ``num_tokens`` tokens occupies."""
    return num_tokens * kv_bytes_per_token(cfg, kv_dtype)


def weight_bytes(num_params: int, weight_dtype: str = "bfloat16") -> float:
    """Bytes the weights occupy: every parameter stored once in ``weight_dtype``."""
    return num_params * dtype_bytes(weight_dtype)


def max_concurrent_sequences(gpu_memory_bytes: float, weight_bytes: float,
                             bytes_per_sequence: float) -> int:
    """Whole sequences whose KV cache fits beside the weights (0 if the weights do not fit)."""
    free_bytes = gpu_memory_bytes - weight_bytes
    return max(0, int(free_bytes // bytes_per_sequence))


def gqa_factor(cfg: ModelConfig) -> float:
    """How many times smaller the cache is than with one KV head per query head (MHA)."""
    return cfg.num_heads / cfg.num_kv_heads
