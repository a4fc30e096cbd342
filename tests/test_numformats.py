"""numformats: the figures come from finfo/iinfo and agree with the standards; rounding is exact."""

import math

import numpy as np
import pytest

from mini_vllm import numformats as nf
from mini_vllm.config import DTYPE_BYTES, dtype_bytes


# ---- what each format stores ----------------------------------------------------------------
def test_ranges_and_spacings_match_the_standards():
    assert nf.format_info("float8_e4m3fn").max == 448.0
    assert nf.format_info("float8_e5m2").max == 57344.0
    assert nf.format_info("float16").max == 65504.0
    assert nf.format_info("bfloat16").eps == 2.0**-7
    assert nf.format_info("float16").eps == 2.0**-10
    assert nf.format_info("float32").eps == 2.0**-23
    assert nf.format_info("float8_e4m3fn").eps == 2.0**-3
    assert nf.format_info("float8_e5m2").eps == 2.0**-2
    assert nf.format_info("float16").smallest_normal == 2.0**-14
    assert nf.format_info("float16").smallest_subnormal == 2.0**-24
    assert nf.format_info("float8_e4m3fn").smallest_subnormal == 2.0**-9
    assert nf.format_info("float8_e5m2").smallest_subnormal == 2.0**-16


@pytest.mark.parametrize("name, exponent, mantissa", [
    ("float32", 8, 23), ("bfloat16", 8, 7), ("float16", 5, 10),
    ("float8_e4m3fn", 4, 3), ("float8_e5m2", 5, 2)])
def test_bit_split(name, exponent, mantissa):
    info = nf.format_info(name)
    assert (info.sign_bits, info.exponent_bits, info.mantissa_bits) == (1, exponent, mantissa)
    assert info.sign_bits + info.exponent_bits + info.mantissa_bits == info.bits
    assert info.eps == 2.0**-mantissa


def test_bfloat16_keeps_float32_range():
    bf16, fp32 = nf.format_info("bfloat16"), nf.format_info("float32")
    assert bf16.smallest_normal == fp32.smallest_normal
    assert 0.99 * fp32.max < bf16.max < fp32.max


def test_special_values():
    assert not nf.format_info("float8_e4m3fn").has_inf
    assert nf.format_info("float8_e4m3fn").has_nan
    for name in ("float32", "bfloat16", "float16", "float8_e5m2"):
        assert nf.format_info(name).has_inf and nf.format_info(name).has_nan
    assert not nf.format_info("int8").has_nan and not nf.format_info("int4").has_inf


def test_integer_ranges():
    int4, int8 = nf.format_info("int4"), nf.format_info("int8")
    assert (int4.min, int4.max, int4.bits, int4.bytes) == (-8, 7, 4, 0.5)
    assert (int8.min, int8.max, int8.bits, int8.bytes) == (-128, 127, 8, 1)


def test_bytes_agree_with_config_for_every_shared_name():
    shared = [name for name in nf.FORMATS if name in DTYPE_BYTES]
    assert set(shared) == {"float32", "bfloat16", "float16", "int8", "int4"}
    for name in shared:
        assert nf.format_info(name).bytes == dtype_bytes(name)
    for fp8 in ("float8_e4m3fn", "float8_e5m2"):  # config knows them as "fp8"
        assert nf.format_info(fp8).bytes == dtype_bytes("fp8")


# ---- names -----------------------------------------------------------------------------------
@pytest.mark.parametrize("alias, name", [
    ("fp8", "float8_e4m3fn"), ("FP8_E4M3", "float8_e4m3fn"), ("fp8_e5m2", "float8_e5m2"),
    ("bf16", "bfloat16"), ("fp16", "float16"), ("half", "float16"), ("fp32", "float32"),
    (" int4 ", "int4")])
def test_aliases(alias, name):
    assert nf.format_name(alias) == name


@pytest.mark.parametrize("bad", ["float64", "float8_e4m3", "int2", "", None, 8])
def test_unknown_names_raise_with_the_allowed_list(bad):
    with pytest.raises(ValueError, match="float8_e4m3fn"):
        nf.format_info(bad)


# ---- rounding --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value, expected", [
    ("bfloat16", 1 / 3, 0.333984375),
    ("float16", 0.1, 0.0999755859375),
    ("float16", 1 / 3, 0.333251953125),
    ("bfloat16", math.pi, 3.140625),
    ("float16", math.pi, 3.140625),
    ("float8_e4m3fn", math.pi, 3.25),
    ("float8_e5m2", math.pi, 3.0),
    ("float16", 1000.7, 1000.5),
    ("bfloat16", 1000.7, 1000.0),
    ("float8_e5m2", 500.0, 512.0),
    ("bfloat16", 70000.0, 70144.0),
    ("float8_e4m3fn", 464.0, 448.0),        # the midpoint to 480 rounds (to even) down
    ("float8_e4m3fn", 1e-5, 0.0),           # below half the smallest subnormal
    ("float8_e5m2", 1e-5, 2.0**-16),        # the smallest subnormal
    ("float32", 0.1, 0.100000001490116119384765625)])
def test_exact_rounding(name, value, expected):
    assert nf.round_to([value], name)[0] == expected


def test_rounds_directly_from_float64():
    # Exactly above bf16's midpoint 1 + 2**-8; rounding via float32 first would tie to 1.0.
    assert nf.round_to([1 + 2**-8 + 2**-30], "bfloat16")[0] == 1 + 2**-7


def test_overflow_nan_in_e4m3fn_inf_elsewhere():
    big = [465.0, 1e6, np.inf, -np.inf]
    assert np.isnan(nf.round_to(big, "float8_e4m3fn")).all()  # ml_dtypes: no inf -> NaN
    assert np.array_equal(nf.round_to([1e6, -1e6], "float8_e5m2"), [np.inf, -np.inf])
    assert np.isinf(nf.round_to([70000.0], "float16")).all()
    assert np.isnan(nf.round_to([np.nan], "bfloat16")).all()


def test_saturate_clips_to_max():
    out = nf.round_to([500.0, -1e9, np.inf, np.nan], "fp8", saturate=True)
    assert np.array_equal(out[:3], [448.0, -448.0, 448.0]) and np.isnan(out[3])


@pytest.mark.parametrize("name", list(nf.FLOAT_FORMATS))
def test_relative_error_at_most_half_eps_for_normal_numbers(name):
    info = nf.format_info(name)
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(np.log(info.smallest_normal), np.log(info.max / 2), 10_000))
    x *= rng.choice([-1.0, 1.0], x.size)
    rel = np.abs(nf.round_to(x, name) - x) / np.abs(x)
    assert rel.max() <= info.eps / 2


def test_round_to_returns_float64_same_shape_and_refuses_integers():
    out = nf.round_to(np.ones((2, 3), np.float32), "bf16")
    assert out.dtype == np.float64 and out.shape == (2, 3)
    with pytest.raises(ValueError, match="quantize_int"):
        nf.round_to([1.0], "int8")


# ---- absmax integer quantization -------------------------------------------------------------
@pytest.mark.parametrize("name, qmax", [("int8", 127), ("int4", 7)])
def test_absmax_quantization(name, qmax):
    x = np.random.default_rng(1).normal(size=(4, 64))
    q = nf.quantize_int(x, name)
    assert q.scale == np.abs(x).max() / qmax
    ints = q.ints.astype(np.int64)
    assert ints.shape == x.shape and np.abs(ints).max() == qmax and ints.min() >= -qmax
    assert q.ints.dtype == nf.FORMATS[name]
    np.testing.assert_array_equal(q.dequantized, ints * q.scale)
    assert np.abs(q.dequantized - x).max() <= q.max_abs_error_bound * (1 + 1e-12)


def test_int4_error_larger_than_int8():
    x = np.random.default_rng(2).normal(size=256)
    err = {n: np.abs(nf.quantize_int(x, n).dequantized - x).mean() for n in ("int8", "int4")}
    assert err["int4"] > 10 * err["int8"]


def test_quantize_int_zeros_and_bad_input():
    q = nf.quantize_int(np.zeros(3), "int4")
    assert q.scale == 1.0 and not q.dequantized.any()
    for bad in ([], [1.0, np.nan], [np.inf]):
        with pytest.raises(ValueError, match="finite"):
            nf.quantize_int(bad)
    with pytest.raises(ValueError, match="int8, int4"):
        nf.quantize_int([1.0], "bfloat16")
