"""Lab 2 spec: KV bytes per token and per sequence, and the users that fit beside the weights.

GPU memory here is decimal or binary as stated: a "24 GiB" card holds 24 * 2**30 bytes; the
catalog's A100 SXM4 80GB holds 85,100,068,864 B (79.26 GiB), the total CUDA reports for it.
"""

import pytest

from mini_vllm import catalog, hardware, memory
from mini_vllm.config import TOY, TOY_MQA
from mini_vllm.units import GB, GiB, KiB, MiB

LLAMA3_8B_PARAMS = 8_030_261_248
LLAMA3_70B_PARAMS = 70_553_706_496


@pytest.fixture(scope="module")
def llama8b():
    return catalog.get_model("Llama-3-8B")  # 32 layers, 32 query heads, 8 KV heads, head_dim 128


@pytest.fixture(scope="module")
def llama70b():
    return catalog.get_model("Llama-3-70B")  # 80 layers, 64 query heads, 8 KV heads, head_dim 128


def test_llama3_8b_bytes_per_token(lab, llama8b):
    assert lab.kv_values_per_token_per_layer(llama8b) == 2 * 8 * 128, \
        "one key and one value per KV head (num_kv_heads = 8, not num_heads = 32), head_dim 128 each"
    assert lab.kv_bytes_per_token(llama8b) == 2 * 32 * 8 * 128 * 2 == 131_072 == 128 * KiB


def test_llama3_8b_bytes_per_sequence(lab, llama8b):
    assert lab.kv_bytes_per_sequence(llama8b, 2048) == 256 * MiB  # one 2048-token conversation
    assert lab.kv_bytes_per_sequence(llama8b, 8192) == 1 * GiB  # the full 8k context
    assert lab.kv_bytes_per_sequence(llama8b, 0) == 0


def test_max_concurrent_sequences_rounds_down_and_never_goes_negative(lab):
    assert lab.max_concurrent_sequences(100, 30, 10) == 7
    assert lab.max_concurrent_sequences(100, 30, 7) == 10  # 70 / 7 exactly
    assert lab.max_concurrent_sequences(100, 30, 71) == 0  # not even one sequence fits
    assert lab.max_concurrent_sequences(100, 130, 10) == 0, "weights that do not fit: 0, not negative"
    assert isinstance(lab.max_concurrent_sequences(24 * GiB, 16e9, 0.25 * GiB), int)


def test_llama3_8b_users_on_a_24_gib_card(lab, llama8b):
    weights = lab.weight_bytes(LLAMA3_8B_PARAMS, "bfloat16")
    assert weights == 16_060_522_496  # about 14.96 GiB: what is left for KV is about 9.04 GiB
    per_sequence = lab.kv_bytes_per_sequence(llama8b, 2048)
    assert lab.max_concurrent_sequences(24 * GiB, weights, per_sequence) == 36
    assert lab.max_concurrent_sequences(24 * GB, weights, per_sequence) == 29  # a decimal "24 GB"


def test_fp8_kv_is_a_factor_of_two(lab, llama8b):
    assert lab.kv_bytes_per_token(llama8b, "fp8") * 2 == lab.kv_bytes_per_token(llama8b)
    weights = lab.weight_bytes(LLAMA3_8B_PARAMS)
    fp8_sequence = lab.kv_bytes_per_sequence(llama8b, 2048, "fp8")
    assert lab.max_concurrent_sequences(24 * GiB, weights, fp8_sequence) == 72  # 36 -> 72 users


def test_gqa_is_a_factor_of_the_formula(lab, llama8b):
    assert lab.gqa_factor(llama8b) == 4  # 32 query heads share 8 KV heads
    as_mha = llama8b.replace(num_kv_heads=llama8b.num_heads)
    assert lab.kv_bytes_per_token(as_mha) == 4 * lab.kv_bytes_per_token(llama8b)
    assert lab.gqa_factor(catalog.get_model("Llama-2-7B")) == 1  # MHA: no saving
    assert lab.gqa_factor(TOY) == 2 and lab.gqa_factor(TOY_MQA) == 4  # MQA: one KV head


def test_llama3_70b_does_not_fit_on_one_80gb_gpu(lab, llama70b):
    assert lab.kv_bytes_per_token(llama70b) == 2 * 80 * 8 * 128 * 2 == 320 * KiB
    per_sequence = lab.kv_bytes_per_sequence(llama70b, 8192)
    assert per_sequence == 2.5 * GiB
    a100 = hardware.get_gpu("A100 SXM4 80GB")
    weights = lab.weight_bytes(LLAMA3_70B_PARAMS)
    # 141 GB of bf16 weights vs one "80GB" card, of which CUDA sees 85.1 GB (79.26 GiB)
    assert weights == 141_107_412_992 > a100.memory_bytes == 85_100_068_864
    assert lab.max_concurrent_sequences(a100.memory_bytes, weights, per_sequence) == 0
    # two cards: (170,200,137,728 - 141,107,412,992) B / 2.5 GiB = 10.8 -> 10 whole sequences
    assert lab.max_concurrent_sequences(2 * a100.memory_bytes, weights, per_sequence) == 10
    fp8_sequence = lab.kv_bytes_per_sequence(llama70b, 8192, "fp8")
    assert lab.max_concurrent_sequences(2 * a100.memory_bytes, weights, fp8_sequence) == 21


def test_mla_caches_one_latent_per_layer(lab):
    deepseek = catalog.get_model("DeepSeek-V3")  # 61 layers, kv_lora_rank 512, rope dim 64
    assert lab.kv_values_per_token_per_layer(deepseek) == 512 + 64
    assert lab.kv_bytes_per_token(deepseek) == 61 * 576 * 2 == 70_272


@pytest.mark.parametrize("name", catalog.list_models())
def test_agrees_with_mini_vllm_memory_for_every_catalog_model(lab, name):
    cfg = catalog.get_model(name)
    assert lab.kv_values_per_token_per_layer(cfg) == memory.kv_values_per_token_per_layer(cfg)
    for kv_dtype in (None, "bfloat16", "fp8", "float32"):
        assert lab.kv_bytes_per_token(cfg, kv_dtype) == memory.kv_bytes_per_token(cfg, kv_dtype)
        assert lab.kv_bytes_per_sequence(cfg, 4096, kv_dtype) == \
            memory.kv_bytes_per_sequence(cfg, 4096, kv_dtype)
    weights = lab.weight_bytes(memory.num_params(cfg), cfg.dtype)
    assert weights == memory.weight_bytes(cfg)
    for gpu_name in ("A100 SXM4 80GB", "H200 SXM 141GB"):
        gpu = hardware.get_gpu(gpu_name)
        ours = lab.max_concurrent_sequences(gpu.memory_bytes, weights,
                                            lab.kv_bytes_per_sequence(cfg, 4096))
        if weights > gpu.memory_bytes:
            assert ours == 0, "weights that do not fit leave room for no one"
        else:
            assert ours == memory.max_sequences_naive(cfg, gpu, 4096, gpu_memory_utilization=1.0)
