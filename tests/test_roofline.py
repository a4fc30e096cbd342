"""Roofline: the syllabus's A100 numbers exactly, properties, and agreement with the H100 data."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_vllm.catalog import LLAMA_3_8B, get_model
from mini_vllm.hardware import GPUSpec, get_gpu, h100_measured_spec, load_h100_measurements
from mini_vllm.memory import weight_bytes
from mini_vllm.roofline import (attainable_flops, critical_batch_size, decode_bytes, decode_flops,
                                decode_intensity, decode_step_breakdown, decode_step_time_bound,
                                decode_tokens_per_s_bound, itl_estimate, littles_law_concurrency,
                                littles_law_latency, littles_law_throughput, prefill_intensity,
                                prefill_time_bound, ridge_point, ttft_estimate, utilization)

A100 = get_gpu("A100-80GB")
# The syllabus rounds the A100's 2.039 TB/s to 2 TB/s; this spec holds its rounded inputs.
A100_ROUNDED = GPUSpec(name="A100 (rounded, as in the guide)", memory_bytes=80e9,
                       bandwidth_bytes_per_s=2e12, dense_flops={"bfloat16": 312e12})


def test_a100_ridge_point():
    assert ridge_point(A100) == 312e12 / 2.039e12 == 153.01618440411966  # exact: 153.0
    assert ridge_point(A100_ROUNDED) == 156.0  # the guide's 156 uses 2 TB/s
    assert ridge_point(A100, sparse=True) == 2 * ridge_point(A100)  # why dense matters


def test_decode_intensity_is_batch_in_bf16_weights_only():
    assert decode_intensity(LLAMA_3_8B, 1) == 1.0
    assert decode_intensity(LLAMA_3_8B, 64) == 64.0
    assert decode_intensity(LLAMA_3_8B, 1, weight_dtype="fp8") == 2.0
    # With the KV read of a 2,048-token context it is a little lower, and saturates with batch.
    assert decode_intensity(LLAMA_3_8B, 1, context_len=2048) == 0.9835607724149279
    assert decode_intensity(LLAMA_3_8B, 10_000, context_len=2048) < 16_060_522_496 / 268_435_456


def test_batch_1_utilization():
    assert utilization(LLAMA_3_8B, A100, 1) == 1 / 153.01618440411966  # 0.654 %: "~0.6 %"
    assert utilization(LLAMA_3_8B, A100, 1) == pytest.approx(0.006535256410256411, rel=1e-15)
    assert utilization(LLAMA_3_8B, A100_ROUNDED, 1) == 1 / 156  # 0.641 %
    assert utilization(LLAMA_3_8B, A100, 1000) == 1.0


def test_8b_decode_speed_limit_on_a100():
    t = decode_step_breakdown(LLAMA_3_8B, A100, 1)
    assert t["memory_s"] == 16_060_522_496 / 2.039e12  # 7.877 ms ("8 ms")
    assert t["compute_s"] == 2 * 8_030_261_248 / 312e12  # 0.0515 ms ("0.05 ms")
    assert t["memory_s"] / t["compute_s"] == pytest.approx(153.016, abs=1e-3)  # "~160x"
    assert decode_step_time_bound(LLAMA_3_8B, A100) == t["memory_s"]
    assert decode_tokens_per_s_bound(LLAMA_3_8B, A100) == pytest.approx(126.957, abs=1e-3)
    # The guide's 125 tok/s: 8e9 params x 2 B read at 2e12 B/s = 8 ms.
    assert 1 / (8e9 * 2 / 2e12) == 125.0


def test_critical_batch():
    assert critical_batch_size(LLAMA_3_8B, A100) == pytest.approx(153.01618440411966, rel=1e-12)
    assert critical_batch_size(LLAMA_3_8B, A100_ROUNDED) == 156.0
    # fp8 weights multiplied at the bf16 rate: half the bytes per FLOP, half the batch.
    assert critical_batch_size(LLAMA_3_8B, A100, weight_dtype="fp8", dtype="bf16") == \
        pytest.approx(153.01618440411966 / 2, rel=1e-12)
    # On an H100 with fp8 math too, the doubled peak cancels the halved bytes.
    h100 = get_gpu("H100")
    assert critical_batch_size(LLAMA_3_8B, h100, weight_dtype="fp8", dtype="fp8") == \
        pytest.approx(critical_batch_size(LLAMA_3_8B, h100), rel=1e-3)
    # Model size cancels: the 70B has the same weights-only critical batch.
    assert critical_batch_size(get_model("Llama-3-70B"), A100) == \
        pytest.approx(critical_batch_size(LLAMA_3_8B, A100), rel=1e-12)
    # At 2,048 tokens of context each sequence reads 268 MB of KV for 16 GFLOP: never compute-bound.
    assert critical_batch_size(LLAMA_3_8B, A100, context_len=2048) == math.inf
    assert 153.1 < critical_batch_size(LLAMA_3_8B, A100, context_len=16) < 160


def test_attainable_flops_is_the_roofline():
    assert attainable_flops(A100, 1.0) == 2.039e12
    assert attainable_flops(A100, 1000.0) == 312e12
    assert attainable_flops(A100, 0.0) == 0.0


def test_prefill():
    assert prefill_intensity(LLAMA_3_8B, 2048) == pytest.approx(2014.3324619057723, rel=1e-12)
    flops = 2 * 8_030_261_248 * 2048
    assert prefill_time_bound(LLAMA_3_8B, A100, 2048) == flops / 312e12  # compute-bound: 105 ms
    assert prefill_time_bound(LLAMA_3_8B, A100, 1) == decode_step_time_bound(
        LLAMA_3_8B, A100, 1, context_len=1)
    assert ttft_estimate(LLAMA_3_8B, A100, 2048, queue_s=0.5) == 0.5 + flops / 312e12


def test_itl_is_the_decode_step():
    assert itl_estimate(LLAMA_3_8B, A100, 8, context_len=1024) == decode_step_time_bound(
        LLAMA_3_8B, A100, 8, context_len=1024)


def test_littles_law_both_ways():
    assert littles_law_concurrency(1000, 0.05) == 50.0  # 1000 tok/s at 50 ms ITL: 50 in flight
    assert littles_law_throughput(50, 0.05) == 1000.0
    assert littles_law_latency(50, 1000) == 0.05
    assert littles_law_concurrency(10, 2.0) == 20.0  # 10 requests/s staying 2 s each


def test_bounds_never_exceed_the_h100_measurements():
    for ctx in (512, 2048, 8192):
        spec = h100_measured_spec(ctx)
        for rec in load_h100_measurements(ctx):
            if rec["kind"] == "decode":
                bound = decode_step_time_bound(LLAMA_3_8B, spec, rec["batch"], context_len=ctx)
                assert bound * 1e3 <= rec["graph_ms"]
                assert decode_bytes(LLAMA_3_8B, rec["batch"], context_len=ctx) == \
                    weight_bytes(LLAMA_3_8B) + rec["kv_bytes"]
            if rec["kind"] == "prefill":
                assert prefill_time_bound(LLAMA_3_8B, spec, rec["prompt"]) * 1e3 <= rec["ms"]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4096), st.integers(0, 100_000), st.sampled_from(["A100", "H100", "L4", "B200"]))
def test_intensity_and_throughput_grow_with_batch(batch, ctx, gpu):
    assert decode_intensity(LLAMA_3_8B, batch + 1, context_len=ctx) >= \
        decode_intensity(LLAMA_3_8B, batch, context_len=ctx)
    assert decode_tokens_per_s_bound(LLAMA_3_8B, gpu, batch + 1, context_len=ctx) >= \
        decode_tokens_per_s_bound(LLAMA_3_8B, gpu, batch, context_len=ctx) * (1 - 1e-12)
    assert 0 < utilization(LLAMA_3_8B, gpu, batch, context_len=ctx) <= 1
    assert decode_flops(LLAMA_3_8B, batch) == batch * 2 * 8_030_261_248


@pytest.mark.parametrize("call, match", [
    (lambda: ridge_point(get_gpu("T4"), "bfloat16"), "float16"),
    (lambda: ridge_point("V100"), "unknown GPU"),
    (lambda: ridge_point(3.0), "GPUSpec"),
    (lambda: decode_intensity(LLAMA_3_8B, 0), "batch_size"),
    (lambda: decode_intensity(LLAMA_3_8B, 1, context_len=-1), "num_tokens"),
    (lambda: prefill_intensity(LLAMA_3_8B, 0), "prompt_len"),
    (lambda: attainable_flops(A100, -1.0), "intensity"),
    (lambda: decode_step_time_bound(LLAMA_3_8B, A100, 1, dtype="fp8"), "no dense fp8"),
    (lambda: littles_law_throughput(10, 0), "latency_s"),
    (lambda: littles_law_latency(10, 0), "throughput"),
    (lambda: littles_law_concurrency(-1, 1), "throughput"),
    (lambda: ttft_estimate(LLAMA_3_8B, A100, 10, queue_s=-1), "queue_s"),
    (lambda: GPUSpec(name="broken", memory_bytes=1e9, bandwidth_bytes_per_s=0), "bandwidth"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_flops_per_token_breakdown():
    from mini_vllm.config import TOY
    from mini_vllm.roofline import flops_per_token_breakdown
    parts = flops_per_token_breakdown(LLAMA_3_8B, context_len=0)
    assert parts["attention_scores"] == 0
    assert parts["mlp"] == 2 * 32 * 3 * 4096 * 14336
    assert parts["lm_head"] == 2 * 128256 * 4096
    assert parts["attention_projections"] == 2 * 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024)
    with_ctx = flops_per_token_breakdown(LLAMA_3_8B, context_len=1000)
    assert with_ctx["attention_scores"] == 2 * 32 * 32 * (128 + 128) * 1000
    # linear parts are the napkin count minus the embedding lookup and the norms
    linear = sum(v for k, v in parts.items() if k != "attention_scores")
    assert linear == 2 * (8_030_261_248 - 128256 * 4096 - (32 * 2 + 1) * 4096)
    mix = flops_per_token_breakdown(get_model("Mixtral-8x7B-v0.1"))
    assert mix["mlp"] == 2 * 32 * (2 * 3 * 4096 * 14336 + 8 * 4096)  # 2 of 8 experts + router
    tied = flops_per_token_breakdown(TOY.replace(tie_word_embeddings=True), context_len=3)
    assert tied["lm_head"] == 2 * 257 * 64
    with pytest.raises(ValueError, match="context_len"):
        flops_per_token_breakdown(TOY, context_len=-1)
