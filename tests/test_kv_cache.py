"""Tests for mini_vllm.kv_cache."""

import numpy as np
import pytest

from mini_vllm.config import TOY, TOY_MQA
from mini_vllm.kv_cache import KVCache


def _kv(config, n, rng):
    shape = (config.num_kv_heads, n, config.head_dim)
    return rng.standard_normal(shape).astype(config.dtype), rng.standard_normal(shape).astype(config.dtype)


def test_append_and_read_back_across_growth():
    rng = np.random.default_rng(0)
    cache = KVCache(TOY, capacity=2)
    chunks = [_kv(TOY, n, rng) for n in (3, 1, 1, 7)]
    for k, v in chunks:
        for layer in range(TOY.num_layers):
            cache.append(layer, k, v)
    assert cache.num_tokens == 12
    np.testing.assert_array_equal(cache.keys(1), np.concatenate([k for k, _ in chunks], axis=1))
    np.testing.assert_array_equal(cache.values(0), np.concatenate([v for _, v in chunks], axis=1))
    assert cache.keys(0).shape == (TOY.num_kv_heads, 12, TOY.head_dim)


@pytest.mark.parametrize("config", [TOY, TOY_MQA, TOY.replace(dtype="float64")])
def test_nbytes_formula(config):
    cache = KVCache(config)
    assert cache.nbytes == 0
    k, v = _kv(config, 5, np.random.default_rng(1))
    for layer in range(config.num_layers):
        cache.append(layer, k, v)
    itemsize = 8 if config.dtype == "float64" else 4
    assert cache.nbytes == 2 * config.num_layers * config.num_kv_heads * config.head_dim * 5 * itemsize


def test_num_tokens_counts_complete_layers_only():
    cache = KVCache(TOY)
    k, v = _kv(TOY, 2, np.random.default_rng(2))
    cache.append(0, k, v)
    assert cache.num_tokens == 0
    cache.append(1, k, v)
    assert cache.num_tokens == 2
    cache.clear()
    assert cache.num_tokens == 0 and cache.nbytes == 0


@pytest.mark.parametrize("config", [TOY, TOY_MQA, TOY.replace(dtype="float64", num_layers=3)])
@pytest.mark.parametrize("num_tokens", [1, 17, 1000])
def test_nbytes_equals_memory_calculator(config, num_tokens):
    memory = pytest.importorskip("mini_vllm.memory")
    cache = KVCache(config)
    k, v = _kv(config, num_tokens, np.random.default_rng(3))
    for layer in range(config.num_layers):
        cache.append(layer, k, v)
    assert cache.nbytes == memory.kv_bytes_per_sequence(config, num_tokens, kv_dtype=config.dtype)


def test_bad_input():
    with pytest.raises(ValueError, match="dtype"):
        KVCache(TOY.replace(dtype="bfloat16"))
    with pytest.raises(ValueError, match="ModelConfig"):
        KVCache("toy")
    with pytest.raises(ValueError, match="capacity"):
        KVCache(TOY, capacity=0)
    cache = KVCache(TOY)
    k, v = _kv(TOY, 1, np.random.default_rng(4))
    with pytest.raises(ValueError, match="layer"):
        cache.append(2, k, v)
    with pytest.raises(ValueError, match="shape"):
        cache.append(0, k[:1], v[:1])
    with pytest.raises(ValueError, match="layer"):
        cache.keys(-1)
