"""Tests for mini_vllm.config: validation, derived values, presets."""

import dataclasses

import pytest

from mini_vllm.config import (BENCH_LLAMA_200M, COMPUTE_DTYPES, TOY, TOY_MHA, TOY_MQA, ModelConfig,
                              canonical_dtype, dtype_bytes)

BASE = dict(vocab_size=100, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
            intermediate_size=128)


def test_toy_presets():
    assert (TOY.vocab_size, TOY.hidden_size, TOY.num_layers, TOY.head_dim) == (257, 64, 2, 16)
    assert (TOY.attention_kind, TOY_MHA.attention_kind, TOY_MQA.attention_kind) == ("GQA", "MHA", "MQA")
    assert TOY.dtype in COMPUTE_DTYPES
    assert TOY.num_queries_per_kv == 2 and TOY_MQA.num_queries_per_kv == 4
    assert TOY.q_size == 64 and TOY.kv_size == 32


def test_bench_preset_is_llama_shaped_and_in_range():
    c = BENCH_LLAMA_200M
    assert c.dtype == "float32" and c.attention_kind == "GQA" and c.mlp_type == "swiglu"
    params = (2 * c.vocab_size * c.hidden_size + c.hidden_size + c.num_layers * (
        2 * c.hidden_size + c.hidden_size * (c.q_size + 2 * c.kv_size) + c.q_size * c.hidden_size
        + 3 * c.hidden_size * c.intermediate_size))
    assert 100e6 <= params <= 300e6


def test_head_dim_derived_and_explicit():
    assert ModelConfig(**BASE).head_dim == 16
    assert ModelConfig(**BASE, head_dim=32).q_size == 128


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TOY.hidden_size = 3


def test_replace_revalidates_and_follows_head_dim():
    assert TOY.replace(num_heads=8, num_kv_heads=8).head_dim == 8
    with pytest.raises(ValueError, match="num_kv_heads"):
        TOY.replace(num_kv_heads=3)


def test_dtype_aliases():
    assert canonical_dtype("BF16") == "bfloat16"
    assert dtype_bytes("fp32") == 4 and dtype_bytes("int4") == 0.5
    assert ModelConfig(**BASE, dtype="fp64").dtype == "float64"


@pytest.mark.parametrize("field,value,match", [
    ("vocab_size", 0, "vocab_size"), ("hidden_size", -1, "hidden_size"),
    ("num_layers", 1.5, "num_layers"), ("num_heads", 0, "num_heads"),
    ("num_kv_heads", 3, "num_kv_heads"), ("intermediate_size", True, "intermediate_size"),
    ("head_dim", 15, "even"), ("rope_theta", 0, "rope_theta"), ("rms_norm_eps", -1e-6, "rms_norm_eps"),
    ("dtype", "float13", "dtype"), ("mlp_type", "relu", "mlp_type"),
    ("norm_type", "batchnorm", "norm_type"), ("position_embedding", "alibi", "position_embedding"),
    ("max_position_embeddings", 0, "max_position_embeddings"),
])
def test_validation_names_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{**BASE, field: value})


def test_hidden_not_divisible_needs_head_dim():
    with pytest.raises(ValueError, match="head_dim"):
        ModelConfig(**{**BASE, "hidden_size": 66})


def test_canonical_dtype_rejects_non_str():
    with pytest.raises(ValueError):
        canonical_dtype(4)
