"""KV bytes, exact parameter counts, free memory and vLLM v1's capacity figures.

Every number the syllabus quotes is asserted exactly as mini_vllm computes it, with the exact
value next to the rounded one where the syllabus rounds or mixes GB and GiB.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_vllm.catalog import (DEEPSEEK_V3, GPT2_SMALL, LLAMA_3_8B, LLAMA_3_70B, from_hf_config,
                             get_model, list_models)
from mini_vllm.config import TOY, TOY_MHA, TOY_MQA
from mini_vllm.hardware import get_gpu
from mini_vllm.memory import (free_kv_bytes, from_vllm_log, kv_bytes_per_sequence,
                              kv_bytes_per_token, kv_bytes_total, max_sequences_naive,
                              num_active_params, num_params, param_breakdown, parse_vllm_log,
                              vllm_kv_cache_report, vllm_page_size_bytes, weight_bytes)
from mini_vllm.units import GB, GiB, KiB, MB, MiB

MODELS_JSON = Path(__file__).resolve().parents[1] / "mini_vllm" / "data" / "models.json"
ENTRIES = {m["name"]: m for m in json.loads(MODELS_JSON.read_text())["models"]}


# ---- parameter counts -----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_num_params_reproduces_every_checkpoint(name):
    assert num_params(get_model(name)) == ENTRIES[name]["params_meta_device"]


def test_exact_counts_spelled_out():
    assert num_params(LLAMA_3_8B) == 8_030_261_248
    assert num_params(GPT2_SMALL) == 124_439_808  # wte + wpe + LayerNorms + biases, tied head
    assert param_breakdown(GPT2_SMALL)["position"] == 1024 * 768
    assert param_breakdown(GPT2_SMALL)["lm_head"] == 0
    # DeepSeek-V3: 61 main layers (the MTP module is not in 671B); the 58 MoE layers' 256-wide
    # e_score_correction_bias is a buffer in HF, so it is not in the count either.
    assert num_params(DEEPSEEK_V3) == 671_026_404_352


def test_active_params_of_moe_models():
    assert num_active_params(get_model("Mixtral-8x7B-v0.1")) == 12_879_925_248  # "12.9B active"
    assert num_active_params(DEEPSEEK_V3) == 37_552_282_624  # "37B activated"
    assert num_active_params(LLAMA_3_8B) == num_params(LLAMA_3_8B)


def test_weight_bytes():
    assert weight_bytes(LLAMA_3_8B) == 16_060_522_496  # "8e9 x 2 = 16 GB": exactly 16.06 GB
    assert weight_bytes(LLAMA_3_8B) / GiB == pytest.approx(14.957, abs=1e-3)
    assert weight_bytes(LLAMA_3_8B, "fp8") == 8_030_261_248
    assert weight_bytes(LLAMA_3_70B) == 141_107_412_992  # "140 GB": does not fit in 80 GB
    assert weight_bytes(LLAMA_3_8B, "int4") == 4_015_130_624


# ---- KV bytes: the syllabus numbers ---------------------------------------------------------
def test_llama3_8b_kv_per_token_is_128_kib():
    assert kv_bytes_per_token(LLAMA_3_8B) == 2 * 32 * 8 * 128 * 2 == 131_072
    assert kv_bytes_per_token(LLAMA_3_8B) == 128 * KiB  # the guide's "128 KB" is KiB
    assert kv_bytes_per_token(LLAMA_3_8B) / 1e3 == 131.072  # in decimal KB


def test_llama3_8b_per_sequence():
    assert kv_bytes_per_sequence(LLAMA_3_8B, 2048) == 268_435_456 == 256 * MiB
    # The guide's "2,000 tokens x 128 KB ~ 256 MB": exactly 262,144,000 B = 250 MiB = 262.1 MB.
    assert kv_bytes_per_sequence(LLAMA_3_8B, 2000) == 262_144_000 == 250 * MiB


def test_llama3_70b_at_8k():
    assert kv_bytes_per_token(LLAMA_3_70B) == 327_680 == 320 * KiB
    assert kv_bytes_per_sequence(LLAMA_3_70B, 8192) == 2_684_354_560  # 2.5 GiB = 2.68 GB
    assert kv_bytes_per_sequence(LLAMA_3_70B, 8192) == 2.5 * GiB


def test_70b_weights_do_not_fit_one_80gb_gpu():
    with pytest.raises(ValueError, match="do not fit"):
        free_kv_bytes(LLAMA_3_70B, get_gpu("A100-80GB"))
    # Two "80GB" GPUs (CUDA: 85,100,068,864 B each) at utilization 0.9, minus the weights
    assert free_kv_bytes(LLAMA_3_70B, "A100-80GB", num_gpus=2) == \
        math.floor(85_100_068_864 * 0.9 * 2 - 141_107_412_992) == 12_072_710_963


def test_users_on_a_24_gib_card():
    card = 24 * GiB  # 25,769,803,776 B
    free = free_kv_bytes(LLAMA_3_8B, card, gpu_memory_utilization=1.0)
    assert free == 25_769_803_776 - 16_060_522_496 == 9_709_281_280  # 9.04 GiB, not "8 GB"
    assert free / kv_bytes_per_sequence(LLAMA_3_8B, 2048) == 36.169891357421875
    assert max_sequences_naive(LLAMA_3_8B, card, 2048, gpu_memory_utilization=1.0) == 36
    assert max_sequences_naive(LLAMA_3_8B, card, 2000, gpu_memory_utilization=1.0) == 37
    # Where the syllabus's figures come from: "8 GB / 256 MB" = 31.25 ("about 30") and
    # "8 GiB / 256 MiB" = 32 ("~32"); both take the weights as 16 (GB or GiB) and the KV as 8.
    assert 8 * GB / (256 * MB) == 31.25 and 8 * GiB / (256 * MiB) == 32
    # With vLLM's default gpu_memory_utilization=0.9 (and no activation reserve): 26.
    assert free_kv_bytes(LLAMA_3_8B, card) == 7_132_300_902
    assert max_sequences_naive(LLAMA_3_8B, card, 2048) == 26


def test_fp8_kv_doubles_the_users():
    card = 24 * GiB
    bf16 = max_sequences_naive(LLAMA_3_8B, card, 2048, gpu_memory_utilization=1.0)
    fp8 = max_sequences_naive(LLAMA_3_8B, card, 2048, kv_dtype="fp8", gpu_memory_utilization=1.0)
    assert (bf16, fp8) == (36, 72)


def test_mla_caches_the_latent_only():
    assert kv_bytes_per_token(DEEPSEEK_V3) == 61 * (512 + 64) * 2 == 70_272
    # What caching full K (192 wide) and V (128 wide) for all 128 heads would take:
    naive_mha = 61 * 128 * (192 + 128) * 2
    assert naive_mha == ENTRIES["DeepSeek-V3"]["kv_bytes_per_token_bf16_if_naive_mha_formula"]
    assert naive_mha / kv_bytes_per_token(DEEPSEEK_V3) == pytest.approx(71.1, abs=0.05)


def test_gpt2_mha_kv():
    assert kv_bytes_per_token(GPT2_SMALL) == 2 * 12 * 12 * 64 * 2 == 36_864


# ---- properties -----------------------------------------------------------------------------
tokens = st.integers(min_value=0, max_value=1_000_000)
batches = st.integers(min_value=1, max_value=4096)
names = st.sampled_from(list_models())


@settings(max_examples=60, deadline=None)
@given(names, tokens, tokens, batches)
def test_monotonic_in_length_and_batch(name, t1, t2, b):
    cfg = get_model(name)
    lo, hi = sorted((t1, t2))
    assert kv_bytes_per_sequence(cfg, lo) <= kv_bytes_per_sequence(cfg, hi)
    assert kv_bytes_total(cfg, hi, b) <= kv_bytes_total(cfg, hi, b + 1)
    assert kv_bytes_total(cfg, hi, b) == b * hi * kv_bytes_per_token(cfg)


@settings(max_examples=40, deadline=None)
@given(names, st.integers(1, 100_000))
def test_fp8_halves_and_fp32_doubles(name, t):
    cfg = get_model(name)
    assert kv_bytes_per_sequence(cfg, t, "fp8") * 2 == kv_bytes_per_sequence(cfg, t)
    assert kv_bytes_per_sequence(cfg, t, "float32") == 2 * kv_bytes_per_sequence(cfg, t)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([1, 2, 4, 8, 16, 32]))
def test_gqa_divides_by_heads_over_kv_heads(kv_heads):
    mha = LLAMA_3_8B.replace(num_kv_heads=32)
    gqa = LLAMA_3_8B.replace(num_kv_heads=kv_heads)
    assert kv_bytes_per_token(mha) == kv_bytes_per_token(gqa) * (32 // kv_heads)
    assert kv_bytes_per_token(TOY_MHA) == 2 * kv_bytes_per_token(TOY) == 4 * kv_bytes_per_token(TOY_MQA)


@settings(max_examples=80, deadline=None)
@given(names, st.integers(1, 200 * GiB), st.integers(1, 200_000), st.sampled_from([1, 8, 16, 32, 64]),
       st.sampled_from([None, "fp8", "float32"]))
def test_vllm_concurrency_times_blocks_fits_the_pool(name, available, max_len, block, kv_dtype):
    cfg = get_model(name)
    r = vllm_kv_cache_report(cfg, None, max_len, block, available_kv_bytes=available,
                             kv_dtype=kv_dtype, check_fits=False, allow_long_max_model_len=True)
    assert r.max_concurrency * r.blocks_per_request <= r.num_gpu_blocks + 1e-6
    assert r.num_gpu_blocks * r.page_size_bytes * r.num_layers <= available
    assert (r.num_gpu_blocks + 1) * r.page_size_bytes * r.num_layers > available
    assert r.kv_cache_tokens == r.num_gpu_blocks * block
    assert r.blocks_per_request == math.ceil(max_len / block)


# ---- vLLM v1 ----------------------------------------------------------------------------------
def test_page_size_per_layer():
    assert vllm_page_size_bytes(LLAMA_3_8B) == 16 * 2 * 8 * 128 * 2 == 65_536
    assert vllm_page_size_bytes(LLAMA_3_8B, kv_dtype="fp8") == 32_768
    assert vllm_page_size_bytes(LLAMA_3_8B, tensor_parallel_size=4) == 16_384  # 2 KV heads/GPU
    assert vllm_page_size_bytes(LLAMA_3_8B, tensor_parallel_size=16) == 8_192  # replicated: 1/GPU
    assert vllm_page_size_bytes(DEEPSEEK_V3) == 16 * 576 * 2 == 18_432  # MLA: no factor 2


def test_guide_68_65x_is_reproducible():
    # The guide quotes "Maximum concurrency for 2048 tokens: 68.65x" without its inputs. One set
    # that reproduces it: Llama-3-8B, bf16 KV, block 16, max_model_len 2048, and any available KV
    # memory in [8787 x 2 MiB, 8788 x 2 MiB) = [18,427,674,624, 18,429,771,776) B (~17.16 GiB).
    for available in (8787 * 2 * MiB, 8788 * 2 * MiB - 1):
        r = vllm_kv_cache_report(LLAMA_3_8B, None, 2048, available_kv_bytes=available)
        assert r.num_gpu_blocks == 8787 and r.kv_cache_tokens == 140_592
        assert r.lines == ("GPU KV cache size: 140,592 tokens",
                           "Maximum concurrency for 2,048 tokens per request: 68.65x")
    assert 140_592 / 2048 == 68.6484375  # here tokens / max_model_len agrees (2048 % 16 == 0)


def test_concurrency_is_not_floored_and_charges_whole_blocks():
    # 1000 tokens need ceil(1000/16) = 63 blocks: concurrency is blocks / 63, not tokens / 1000.
    r = vllm_kv_cache_report(LLAMA_3_8B, None, 1000, available_kv_bytes=100 * 2 * MiB)
    assert r.num_gpu_blocks == 100 and r.blocks_per_request == 63
    assert r.max_concurrency == 100 / 63
    assert r.concurrency_line == "Maximum concurrency for 1,000 tokens per request: 1.59x"
    assert r.max_concurrency_token_ratio == 1.6  # early v1's tokens / max_model_len differs


def test_max_model_len_beyond_the_context_window_is_refused_as_vllm_does():
    """vLLM refuses a max_model_len longer than the model's max_position_embeddings unless
    VLLM_ALLOW_LONG_MAX_MODEL_LEN=1; a log it printed is trusted as it is."""
    gpt2 = get_model("GPT-2-small")
    assert gpt2.max_position_embeddings == 1024
    assert vllm_kv_cache_report(gpt2, "H100", 1024).max_model_len == 1024
    with pytest.raises(ValueError, match=r"max_model_len=1,025 .*max_position_embeddings=1,024"):
        vllm_kv_cache_report(gpt2, "H100", 1025)
    long = vllm_kv_cache_report(gpt2, "H100", 2048, allow_long_max_model_len=True)
    assert long.blocks_per_request == 128
    assert from_vllm_log(10.0, gpt2, 4096).max_model_len == 4096


def test_report_from_a_gpu():
    r = vllm_kv_cache_report(LLAMA_3_8B, 24 * GiB, 2048)
    assert r.available_kv_bytes == 7_132_300_902
    assert (r.num_gpu_blocks, r.kv_cache_tokens) == (3400, 54_400)
    assert r.concurrency_line.endswith("26.56x")
    h100 = vllm_kv_cache_report(LLAMA_3_8B, "H100", 8192)
    # 0.9 x 85,045,477,376 B (CUDA's total) - 16,060,522,496 B of weights; pages of 65,536 B
    # per layer: // 65,536 // 32 = 28,839 blocks = 461,424 tokens; 28,839 / 512 = 56.33.
    assert h100.available_kv_bytes == math.floor(85_045_477_376 * 0.9 - 16_060_522_496)
    assert (h100.num_gpu_blocks, h100.blocks_per_request) == (28_839, 512)
    assert str(h100) == ("GPU KV cache size: 461,424 tokens\n"
                         "Maximum concurrency for 8,192 tokens per request: 56.33x")


def test_tensor_parallel_70b():
    r = vllm_kv_cache_report(LLAMA_3_70B, "H100", 8192, tensor_parallel_size=4)
    assert r.page_size_bytes == 16 * 2 * 2 * 128 * 2
    assert r.available_kv_bytes == math.floor(
        85_045_477_376 * 0.9 * 4 - weight_bytes(LLAMA_3_70B)) // 4
    assert r.kv_cache_tokens == r.available_kv_bytes // r.page_size_bytes // 80 * 16


def test_mla_report():
    r = vllm_kv_cache_report(DEEPSEEK_V3, None, 8192, available_kv_bytes=20 * GiB)
    assert r.num_gpu_blocks == 20 * GiB // 18_432 // 61 == 19_099
    assert r.kv_cache_tokens == 305_584


def test_from_vllm_log_numbers_and_text():
    log = ("INFO [gpu_worker.py] Available KV cache memory: 17.16 GiB\n"
           "INFO [kv_cache_utils.py] GPU KV cache size: 140,592 tokens\n"
           "INFO [kv_cache_utils.py] Maximum concurrency for 2,048 tokens per request: 68.65x\n")
    assert parse_vllm_log(log) == {"available_kv_gib": 17.16, "kv_cache_tokens": 140_592,
                                   "max_model_len": 2048, "max_concurrency": 68.65}
    r = from_vllm_log(log, LLAMA_3_8B)
    # 17.16 GiB read back as exactly 17.16 x 2**30 B gives 8785 blocks; the log's rounding to
    # 0.01 GiB allows 140,528 to 140,608 tokens, and the logged 140,592 is inside that range.
    assert r.kv_cache_tokens == 140_560 and r.kv_cache_tokens_range == (140_528, 140_608)
    lo, hi = r.kv_cache_tokens_range
    assert lo <= parse_vllm_log(log)["kv_cache_tokens"] <= hi
    assert r.logged_kv_cache_tokens == 140_592 and r.logged_tokens_consistent is True
    assert from_vllm_log(17.16, LLAMA_3_8B, 2048).lines == r.lines
    with pytest.raises(ValueError, match="Available KV cache memory"):
        from_vllm_log("no numbers here", LLAMA_3_8B, 2048)


# A real start-up log: Qwen3-14B on one GPU, vLLM v1, quoted in
# https://github.com/LMCache/LMCache/issues/1739 (2025-10-03).
QWEN3_14B_LOG = """\
(EngineCore_DP0 pid=1133552) INFO 10-03 16:22:17 [gpu_worker.py:298] Available KV cache memory: 6.51 GiB
(EngineCore_DP0 pid=1133552) INFO 10-03 16:22:17 [kv_cache_utils.py:864] GPU KV cache size: 42,656 tokens
(EngineCore_DP0 pid=1133552) INFO 10-03 16:22:17 [kv_cache_utils.py:868] Maximum concurrency for 32,768 tokens per request: 1.30x
"""
# The fields of https://huggingface.co/Qwen/Qwen3-14B/blob/main/config.json that the KV cache uses
QWEN3_14B = from_hf_config({"model_type": "qwen3", "vocab_size": 151936, "hidden_size": 5120,
                            "num_hidden_layers": 40, "num_attention_heads": 40,
                            "num_key_value_heads": 8, "head_dim": 128,
                            "intermediate_size": 17408, "max_position_embeddings": 40960,
                            "torch_dtype": "bfloat16"}, name="Qwen3-14B")


def test_a_real_log_is_reproduced_and_its_token_line_checked():
    r = from_vllm_log(QWEN3_14B_LOG, QWEN3_14B)
    # 40 layers x 16 x 2 x 8 x 128 x 2 B = 2,621,440 B per block; 6.51 GiB holds 2,666 blocks
    assert str(r) == ("GPU KV cache size: 42,656 tokens\n"
                      "Maximum concurrency for 32,768 tokens per request: 1.30x")
    assert r.logged_kv_cache_tokens == 42_656 and r.kv_cache_tokens_range == (42_624, 42_688)
    assert r.logged_tokens_consistent is True
    assert r.check_against_log().startswith("consistent: the log's 42,656 tokens")


def test_a_token_line_the_memory_line_does_not_allow_is_called_inconsistent():
    # the same log read with the wrong model: Llama-3-8B's blocks are smaller, so more tokens
    wrong_model = from_vllm_log(QWEN3_14B_LOG, LLAMA_3_8B)
    assert wrong_model.kv_cache_tokens_range[0] > 42_656
    assert wrong_model.logged_tokens_consistent is False
    assert wrong_model.check_against_log().startswith("inconsistent: the log's 42,656 tokens")
    off_grid = QWEN3_14B_LOG.replace("42,656", "42,650")  # in the range, but not whole blocks
    assert from_vllm_log(off_grid, QWEN3_14B).logged_tokens_consistent is False
    far = QWEN3_14B_LOG.replace("42,656", "50,000")
    verdict = from_vllm_log(far, QWEN3_14B).check_against_log()
    assert verdict.startswith("inconsistent") and "42,624 to 42,688" in verdict


def test_without_a_token_line_there_is_nothing_to_check():
    memory_line_only = QWEN3_14B_LOG.splitlines()[0]
    r = from_vllm_log(memory_line_only, QWEN3_14B, 32_768)
    assert r.logged_kv_cache_tokens is None and r.logged_tokens_consistent is None
    assert "nothing to check" in r.check_against_log()
    assert from_vllm_log(6.51, QWEN3_14B, 32_768).logged_tokens_consistent is None
    assert from_vllm_log(6.51, QWEN3_14B, 32_768).lines == r.lines
    plain = vllm_kv_cache_report(QWEN3_14B, None, 32_768, available_kv_bytes=7 * GiB)
    assert plain.logged_tokens_consistent is None
    assert plain.check_against_log().startswith("not built from a vLLM log")


# ---- bad inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda: kv_bytes_per_sequence(LLAMA_3_8B, -1), "num_tokens"),
    (lambda: kv_bytes_total(LLAMA_3_8B, 10, 0), "batch_size"),
    (lambda: kv_bytes_per_token(LLAMA_3_8B, "fp7"), "kv_dtype='fp7'"),
    (lambda: weight_bytes(LLAMA_3_8B, "float128"), "weight_dtype"),
    (lambda: free_kv_bytes(LLAMA_3_8B, 0), "gpu memory"),
    (lambda: free_kv_bytes(LLAMA_3_8B, -5 * GiB), "gpu memory"),
    (lambda: free_kv_bytes(LLAMA_3_8B, 80e9, gpu_memory_utilization=0), "gpu_memory_utilization"),
    (lambda: free_kv_bytes(LLAMA_3_8B, 80e9, gpu_memory_utilization=1.5), "gpu_memory_utilization"),
    (lambda: free_kv_bytes(LLAMA_3_8B, 80e9, num_gpus=0), "num_gpus"),
    (lambda: free_kv_bytes(LLAMA_3_8B, 80e9, reserve_bytes=-1), "reserve_bytes"),
    (lambda: free_kv_bytes(LLAMA_3_8B, 16 * GB), "do not fit"),
    (lambda: free_kv_bytes(LLAMA_3_8B, "V100"), "unknown GPU"),
    (lambda: max_sequences_naive(LLAMA_3_8B, 80e9, 0), "num_tokens"),
    (lambda: vllm_kv_cache_report(LLAMA_3_8B, "H100", 0), "max_model_len"),
    (lambda: vllm_kv_cache_report(LLAMA_3_8B, "H100", 2048, block_size=0), "block_size"),
    (lambda: vllm_kv_cache_report(LLAMA_3_8B, None, 2048), "gpu or available_kv_bytes"),
    (lambda: vllm_kv_cache_report(LLAMA_3_8B, None, 2048, available_kv_bytes=0), "available_kv_bytes"),
    (lambda: vllm_kv_cache_report(LLAMA_3_8B, None, 8192, available_kv_bytes=GiB - 1), "max_model_len=8,192"),
    (lambda: vllm_kv_cache_report(LLAMA_3_70B, "A100-80GB", 2048), "do not fit"),
    (lambda: num_params("Llama-3-8B"), "ModelConfig"),
])
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- the engine's real KV cache ---------------------------------------------------------------
@pytest.mark.parametrize("cfg", [TOY, TOY_MHA, TOY_MQA, TOY.replace(dtype="float64")])
def test_engine_kv_cache_bytes_equal_the_calculator(cfg):
    kv_cache = pytest.importorskip("mini_vllm.kv_cache")
    cache = kv_cache.KVCache(cfg)
    rng = np.random.default_rng(0)
    assert cache.nbytes == kv_bytes_per_sequence(cfg, 0) == 0
    for new in (5, 1, 1, 30):  # a prefill, two decode steps, a longer chunk
        for layer in range(cfg.num_layers):
            shape = (cfg.num_kv_heads, new, cfg.head_dim)  # (kv_heads, T_new, head_dim)
            cache.append(layer, rng.standard_normal(shape).astype(cfg.dtype),
                         rng.standard_normal(shape).astype(cfg.dtype))
        assert cache.nbytes == kv_bytes_per_sequence(cfg, cache.num_tokens)
        stored = sum(cache.keys(i).nbytes + cache.values(i).nbytes for i in range(cfg.num_layers))
        assert stored == kv_bytes_per_sequence(cfg, cache.num_tokens)


@pytest.mark.parametrize("cfg", [TOY, TOY_MQA, TOY.replace(tie_word_embeddings=True)])
def test_toy_model_weights_and_forward_cache_match_the_calculator(cfg):
    model_mod = pytest.importorskip("mini_vllm.model")
    model = model_mod.ToyModel(cfg, seed=0)
    assert model.weights.num_params == num_params(cfg)
    assert model.weights.nbytes == weight_bytes(cfg)
    cache = model.new_cache()
    model.forward([(list(range(1, 12)), cache)])  # prefill 11 tokens
    model.forward([([7], cache)])  # one decode step
    assert cache.num_tokens == 12
    assert cache.nbytes == kv_bytes_per_sequence(cfg, 12) == 12 * kv_bytes_per_token(cfg)
