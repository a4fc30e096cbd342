"""Lab 4 spec: the roofline on one spec sheet, the NVIDIA A100 SXM4 80GB.

A100 SXM4 80GB: 2.039 TB/s of HBM2e bandwidth and 312 TFLOP/s dense BF16. (The 40 GB SXM4 part
has 1.555 TB/s; many slides round the 80 GB part to "2 TB/s", which gives a ridge of 156.)
"""

import math

import pytest

from mini_vllm import catalog, hardware, memory, roofline

A100 = "A100 SXM4 80GB"
PEAK_BF16 = 312e12  # FLOP/s, dense (no 2:4 sparsity)
BANDWIDTH = 2.039e12  # byte/s
BF16 = 2  # bytes per parameter
LLAMA3_8B_NOMINAL = 8e9  # the "8B" of the name; the checkpoint holds 8,030,261,248
RIDGE = PEAK_BF16 / BANDWIDTH  # 153.016... FLOP/byte; each test below checks one function


@pytest.fixture(scope="module")
def a100():
    return hardware.get_gpu(A100)


def test_spec_sheet_is_the_80gb_sxm4(a100):
    assert a100.peak_flops("bfloat16") == PEAK_BF16
    assert a100.bandwidth_bytes_per_s == BANDWIDTH


def test_ridge_point(lab):
    ridge = lab.ridge_point(PEAK_BF16, BANDWIDTH)
    assert ridge == PEAK_BF16 / BANDWIDTH, "peak FLOP/s divided by bandwidth in bytes/s"
    assert round(ridge, 1) == 153.0  # FLOP/byte
    assert lab.ridge_point(PEAK_BF16, 2e12) == 156.0  # the rounded "2 TB/s" of many slides


def test_ridge_point_matches_mini_vllm_roofline(lab, a100):
    ours = lab.ridge_point(a100.peak_flops("bfloat16"), a100.bandwidth_bytes_per_s)
    assert math.isclose(ours, roofline.ridge_point(a100, "bfloat16"), rel_tol=1e-12)


def test_arithmetic_intensity_counts_tokens_per_weight_read(lab):
    assert lab.arithmetic_intensity(1, BF16) == 1.0  # decode, batch 1, bf16: 1 FLOP/byte
    assert lab.arithmetic_intensity(64, BF16) == 64.0  # decode, batch 64
    assert lab.arithmetic_intensity(2048, BF16) == 2048.0  # prefill of a 2048-token prompt
    assert lab.arithmetic_intensity(1, 1) == 2.0  # 8-bit weights: half the bytes, twice the intensity


def test_intensity_does_not_depend_on_model_size(lab):
    for num_params in (124_439_808, 8_030_261_248, 70_553_706_496):
        flops, bytes_read = 2 * num_params * 16, num_params * BF16  # batch of 16 tokens
        assert lab.arithmetic_intensity(16, BF16) == flops / bytes_read


def test_utilization_of_single_stream_decode(lab):
    ridge = RIDGE
    used = lab.utilization(1.0, ridge)  # decode at batch 1 in bf16: 1 FLOP/byte
    assert used == 1 / ridge
    assert round(100 * used, 2) == 0.65  # percent of the tensor cores doing work
    assert lab.utilization(2048.0, ridge) == 1.0  # a 2048-token prefill: capped at the peak
    assert lab.utilization(ridge / 2, ridge) == 0.5


def test_decode_speed_limit(lab):
    assert lab.decode_tokens_per_s_limit(LLAMA3_8B_NOMINAL, BF16, 2e12) == 125.0  # the slide
    assert lab.decode_tokens_per_s_limit(LLAMA3_8B_NOMINAL, BF16, BANDWIDTH) == 127.4375
    exact = lab.decode_tokens_per_s_limit(8_030_261_248, BF16, BANDWIDTH)
    assert round(exact, 2) == 126.96
    # fp16 and bf16 are both 2 bytes: same limit. 8-bit weights double it.
    assert lab.decode_tokens_per_s_limit(LLAMA3_8B_NOMINAL, 1, BANDWIDTH) == 2 * 127.4375


def test_critical_batch_size(lab):
    ridge = RIDGE
    batch = lab.critical_batch_size(ridge, BF16)
    assert batch == ridge
    assert math.ceil(batch) == 154  # the first whole batch on the compute-bound side (153 < ridge)
    assert lab.critical_batch_size(ridge, 1) == ridge / 2  # 8-bit weights reach it at half the batch


def test_regime(lab):
    ridge = RIDGE  # bf16 intensities below are FLOP/byte = tokens per weight read
    assert lab.regime(1.0, ridge) == "memory-bound"  # decode, batch 1
    assert lab.regime(153.0, ridge) == "memory-bound"  # decode, batch 153
    assert lab.regime(154.0, ridge) == "compute-bound"  # decode, batch 154
    assert lab.regime(2048.0, ridge) == "compute-bound"  # prefill of 2048 tokens
    assert lab.regime(ridge, ridge) == "compute-bound"  # the ridge itself: both limits meet


def test_memory_time_over_compute_time_is_the_critical_batch(lab):
    # One decode step at batch 1 of a nominal 8e9-parameter model: read all weights vs do 2 FLOP
    # per weight (the exact Llama-3-8B step reads fewer bytes: the next test).
    memory_s = 1 / lab.decode_tokens_per_s_limit(LLAMA3_8B_NOMINAL, BF16, BANDWIDTH)
    compute_s = 2 * LLAMA3_8B_NOMINAL / PEAK_BF16
    assert round(memory_s * 1e3, 2) == 7.85  # ms
    assert round(compute_s * 1e3, 3) == 0.051  # ms
    assert math.isclose(memory_s / compute_s, RIDGE * BF16 / 2, rel_tol=1e-12)  # 153x


def test_a_decode_step_reads_one_embedding_row_not_the_table(lab, a100):
    # Llama-3-8B's input table (128,256 x 4,096) is looked up, not read: one row per token.
    cfg = catalog.get_model("Llama-3-8B")
    read = memory.num_params(cfg) - 128_256 * 4_096 + 4_096  # 7,504,928,768 weights
    limit = lab.decode_tokens_per_s_limit(read, BF16, a100.bandwidth_bytes_per_s)
    assert limit == roofline.decode_tokens_per_s_bound(cfg, a100, 1)
    assert round(limit, 2) == 135.84  # tokens/s, not the 126.96 of "every weight once"
    assert round(1e3 / limit, 2) == 7.36  # ms per step


def test_agrees_with_mini_vllm_roofline_for_llama3_8b(lab, a100):
    cfg = catalog.get_model("Llama-3-8B")  # bf16 weights, dense
    ridge = roofline.ridge_point(a100, "bfloat16")
    # mini_vllm also counts the B embedding rows a step reads (B x 4,096 of 7.5e9 weights):
    # the intensity and the critical batch agree to within B x 4,096 / 7.5e9 (3e-4 at B = 512).
    for batch in (1, 8, 64, 153, 154, 512):
        ours = lab.arithmetic_intensity(batch, BF16)
        assert math.isclose(ours, roofline.decode_intensity(cfg, batch), rel_tol=3e-4)
        assert math.isclose(lab.utilization(ours, ridge), roofline.utilization(cfg, a100, batch),
                            rel_tol=3e-4)
        assert lab.regime(ours, ridge) == lab.regime(roofline.decode_intensity(cfg, batch), ridge)
    assert math.isclose(lab.critical_batch_size(ridge, BF16), roofline.critical_batch_size(cfg, a100),
                        rel_tol=1e-4)
