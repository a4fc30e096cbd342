"""Roofline: the A100 numbers exactly, properties, and agreement with the H100 data."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_vllm.catalog import LLAMA_3_8B, get_model
from mini_vllm.hardware import GPUSpec, get_gpu, h100_measured_spec, load_h100_measurements
from mini_vllm.memory import weight_bytes
from mini_vllm.config import TOY
from mini_vllm.roofline import (attainable_flops, critical_batch_size, decode_bytes, decode_flops,
                                decode_intensity, expected_experts_read, prefill_bytes, decode_step_breakdown, decode_step_time_bound,
                                decode_tokens_per_s_bound, itl_estimate, littles_law_concurrency,
                                littles_law_latency, littles_law_throughput, prefill_intensity,
                                prefill_time_bound, ridge_point, ttft_estimate, utilization)

A100 = get_gpu("A100-80GB")
# Napkin versions round the A100's 2.039 TB/s to 2 TB/s; this spec holds those inputs.
A100_ROUNDED = GPUSpec(name="A100 (rounded, as in the guide)", memory_bytes=80e9,
                       bandwidth_bytes_per_s=2e12, dense_flops={"bfloat16": 312e12})


def test_a100_ridge_point():
    assert ridge_point(A100) == 312e12 / 2.039e12 == 153.01618440411966  # exact: 153.0
    assert ridge_point(A100_ROUNDED) == 156.0  # the guide's 156 uses 2 TB/s
    assert ridge_point(A100, sparse=True) == 2 * ridge_point(A100)  # why dense matters


# Llama-3-8B: 8,030,261,248 parameters, of which the input table holds 128,256 x 4,096.
N_MATRIX = 8_030_261_248 - 128_256 * 4_096  # the weights a token multiplies (untied head)
ROW = 4_096 * 2  # one bf16 embedding row


def test_decode_reads_the_embedding_rows_not_the_table():
    assert N_MATRIX == 7_504_924_672
    assert decode_bytes(LLAMA_3_8B, 1) == 2 * N_MATRIX + ROW == 15_009_857_536
    assert weight_bytes(LLAMA_3_8B) - decode_bytes(LLAMA_3_8B, 1) == 1_050_664_960  # 1.05 GB
    assert decode_bytes(LLAMA_3_8B, 64) == 2 * N_MATRIX + 64 * ROW
    assert decode_bytes(LLAMA_3_8B, 3, context_len=100) == \
        2 * N_MATRIX + 3 * ROW + 3 * 100 * 131_072
    # A tied model reads its one table once, as the head: every weight, no extra rows.
    tied = TOY.replace(tie_word_embeddings=True)
    assert decode_bytes(tied, 5) == weight_bytes(tied)
    # At most the whole table: a 257-row byte vocabulary is read in full at batch 4,096.
    assert decode_bytes(TOY, 4096) == weight_bytes(TOY)
    # GPT-2 (tied, learned positions) reads one position row per sequence.
    gpt2 = get_model("GPT-2-small")
    assert decode_bytes(gpt2, 2) == weight_bytes(gpt2) - (1024 - 2) * 768 * 2
    # FLOP: a lookup multiplies nothing; the LM head and the norms count.
    assert decode_flops(LLAMA_3_8B, 1) == 2 * N_MATRIX
    assert prefill_bytes(LLAMA_3_8B, 2048) == 2 * N_MATRIX + 2048 * ROW + 2048 * 131_072


def test_decode_intensity_is_batch_in_bf16_weights_only():
    # FLOP and matrix bytes cancel to B; each sequence's 8 KB row keeps it a hair below.
    for batch in (1, 64, 153):
        assert decode_intensity(LLAMA_3_8B, batch) == \
            2 * batch * N_MATRIX / (2 * N_MATRIX + batch * ROW)
        assert 1 - 1e-4 < decode_intensity(LLAMA_3_8B, batch) / batch < 1
    assert decode_intensity(TOY.replace(tie_word_embeddings=True), 7) == 7 * 2 / 4  # float32
    assert decode_intensity(LLAMA_3_8B, 1, weight_dtype="fp8") == \
        2 * N_MATRIX / (N_MATRIX + ROW / 2)
    # With the KV read of a 2,048-token context it is a little lower, and saturates with batch.
    assert decode_intensity(LLAMA_3_8B, 1, context_len=2048) == \
        2 * N_MATRIX / (2 * N_MATRIX + ROW + 268_435_456)
    assert decode_intensity(LLAMA_3_8B, 10_000, context_len=2048) < 2 * N_MATRIX / 268_435_456


def test_batch_1_utilization():
    assert utilization(LLAMA_3_8B, A100, 1) == decode_intensity(LLAMA_3_8B, 1) / ridge_point(A100)
    assert utilization(LLAMA_3_8B, A100, 1) == pytest.approx(1 / 153.016, rel=1e-5)  # 0.654 %
    assert utilization(LLAMA_3_8B, A100, 1000) == 1.0


def test_8b_decode_speed_limit_on_a100():
    t = decode_step_breakdown(LLAMA_3_8B, A100, 1)
    assert t["memory_s"] == 15_009_857_536 / 2.039e12  # 7.361 ms
    assert t["compute_s"] == 2 * N_MATRIX / 312e12  # 0.0481 ms
    assert decode_step_time_bound(LLAMA_3_8B, A100) == t["memory_s"]
    assert decode_tokens_per_s_bound(LLAMA_3_8B, A100) == 2.039e12 / 15_009_857_536
    assert decode_tokens_per_s_bound(LLAMA_3_8B, A100) == pytest.approx(135.844, abs=1e-3)
    # The napkin version reads all weights: 126.96 tok/s; with 2 TB/s and 8e9 x 2 B, 125.
    assert 2.039e12 / weight_bytes(LLAMA_3_8B) == pytest.approx(126.957, abs=1e-3)
    assert 1 / (8e9 * 2 / 2e12) == 125.0


def test_critical_batch():
    ridge = ridge_point(A100)
    # ridge x W / (2N - ridge x r): the ridge, but for the rows (0.008 % more)
    assert critical_batch_size(LLAMA_3_8B, A100) == \
        ridge * 2 * N_MATRIX / (2 * N_MATRIX - ridge * ROW)
    assert critical_batch_size(LLAMA_3_8B, A100) == pytest.approx(153.029, abs=1e-3)
    assert critical_batch_size(LLAMA_3_8B, A100_ROUNDED) == pytest.approx(156.0, rel=1e-4)
    # It is where the intensity meets the ridge.
    b = critical_batch_size(LLAMA_3_8B, A100)
    assert 2 * b * N_MATRIX / (2 * N_MATRIX + b * ROW) == pytest.approx(ridge, rel=1e-12)
    # fp8 weights multiplied at the bf16 rate: half the bytes per FLOP, half the batch.
    assert critical_batch_size(LLAMA_3_8B, A100, weight_dtype="fp8", dtype="bf16") == \
        pytest.approx(ridge / 2, rel=1e-4)
    # On an H100 with fp8 math too, the doubled peak cancels the halved bytes.
    h100 = get_gpu("H100")
    assert critical_batch_size(LLAMA_3_8B, h100, weight_dtype="fp8", dtype="fp8") == \
        pytest.approx(critical_batch_size(LLAMA_3_8B, h100), rel=1e-3)
    # Model size nearly cancels: the 70B has about the same weights-only critical batch.
    assert critical_batch_size(get_model("Llama-3-70B"), A100) == \
        pytest.approx(critical_batch_size(LLAMA_3_8B, A100), rel=1e-4)
    # At 2,048 tokens of context each sequence reads 268 MB of KV for 15 GFLOP: never compute-bound.
    assert critical_batch_size(LLAMA_3_8B, A100, context_len=2048) == math.inf
    assert 153.1 < critical_batch_size(LLAMA_3_8B, A100, context_len=16) < 160


def test_moe_reads_the_experts_its_tokens_reach():
    mix = get_model("Mixtral-8x7B-v0.1")  # 8 experts, 2 per token, 32 layers
    assert expected_experts_read(mix, 1) == 2.0
    assert expected_experts_read(mix, 2) == 8 * (1 - 0.75 ** 2) == 3.5
    assert 7.999 < expected_experts_read(mix, 64) < 8
    assert expected_experts_read(LLAMA_3_8B, 64) == 0.0
    expert = 3 * 4096 * 14336 * 2  # bytes of one expert in bf16
    unread_at_1 = 32 * 6 * expert
    table = 32000 * 4096 * 2
    assert decode_bytes(mix, 1) == weight_bytes(mix) - unread_at_1 - table + 4096 * 2
    # batch 1 reads exactly the active weights: intensity 1 in bf16, but for the row
    assert decode_intensity(mix, 1) == pytest.approx(1.0, rel=1e-6)
    # all experts only in the limit; the bytes grow with B, and so does the critical batch
    assert decode_bytes(mix, 8) < decode_bytes(mix, 64) < weight_bytes(mix) - table + 64 * 4096 * 2
    h100 = get_gpu("H100")
    b = critical_batch_size(mix, h100)
    from mini_vllm.roofline import _step_bytes
    assert b * decode_flops(mix, 1) / _step_bytes(mix, b, 0.0, None) == \
        pytest.approx(ridge_point(h100), rel=1e-9)
    assert b > critical_batch_size(LLAMA_3_8B, h100)
    with pytest.raises(ValueError, match="num_tokens"):
        expected_experts_read(mix, 0)


def test_attainable_flops_is_the_roofline():
    assert attainable_flops(A100, 1.0) == 2.039e12
    assert attainable_flops(A100, 1000.0) == 312e12
    assert attainable_flops(A100, 0.0) == 0.0


def test_prefill():
    moved = 2 * N_MATRIX + 2048 * ROW + 2048 * 131_072  # weights, the prompt's rows, its KV
    assert prefill_intensity(LLAMA_3_8B, 2048) == 2048 * 2 * N_MATRIX / moved
    flops = 2 * N_MATRIX * 2048
    assert prefill_time_bound(LLAMA_3_8B, A100, 2048) == flops / 312e12  # compute-bound: 98 ms
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
                    2 * N_MATRIX + rec["batch"] * ROW + rec["kv_bytes"]
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
    assert decode_flops(LLAMA_3_8B, batch) == batch * 2 * N_MATRIX


@pytest.mark.parametrize("call, match", [
    (lambda: ridge_point(get_gpu("T4"), "bfloat16"), "float16"),
    (lambda: ridge_point("V100"), "unknown GPU"),
    (lambda: ridge_point(3.0), "GPUSpec"),
    (lambda: decode_intensity(LLAMA_3_8B, 0), "batch_size"),
    (lambda: decode_intensity(LLAMA_3_8B, 1, context_len=-1), "context_len"),
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
