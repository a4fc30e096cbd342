"""Units: constants and the formatting helper."""

import pytest

from mini_vllm.units import (GB, GiB, KB, KiB, MB, MiB, TB, TiB, format_bandwidth, format_bytes,
                             format_count, format_duration, format_flops, format_flops_per_s)


def test_constants_are_exact_powers():
    assert (KB, MB, GB, TB) == (10**3, 10**6, 10**9, 10**12)
    assert (KiB, MiB, GiB, TiB) == (2**10, 2**20, 2**30, 2**40)


@pytest.mark.parametrize("n, unit, text", [
    (131_072, "KiB", "128 KiB"),
    (131_072, "KB", "131.07 KB"),
    (131_072, "both", "131.07 KB = 128 KiB"),
    (268_435_456, "auto", "268.44 MB"),
    (268_435_456, "auto-binary", "256 MiB"),
    (2_684_354_560, "both", "2.68 GB = 2.5 GiB"),
    (16_060_522_496, "GiB", "14.96 GiB"),
    (512, "auto", "512 B"),
    (0, "auto", "0 B"),
])
def test_format_bytes(n, unit, text):
    assert format_bytes(n, unit) == text


def test_format_bytes_rejects_unknown_unit_and_nan():
    with pytest.raises(ValueError, match="unit"):
        format_bytes(1, "gigabytes")
    with pytest.raises(ValueError, match="n must be"):
        format_bytes(float("nan"))


def test_flop_versus_flop_per_s():
    assert format_flops(16e9) == "16 GFLOP"
    assert format_flops_per_s(312e12) == "312 TFLOP/s"
    assert format_flops_per_s(989.4e12) == "989.4 TFLOP/s"
    assert format_bandwidth(2.039e12) == "2.039 TB/s"


@pytest.mark.parametrize("seconds, text", [
    (0.0078767, "7.88 ms"), (5e-5, "50 µs"), (2.5, "2.5 s"), (90, "1.5 min"), (0, "0 s"),
    (3e-9, "3 ns")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_count():
    assert format_count(8_030_261_248) == "8,030,261,248"
    assert format_count(8_030_261_248, short=True) == "8.03 B"
    assert format_count(124_439_808, short=True) == "124.44 M"
    assert format_count(36.17) == "36.17"
