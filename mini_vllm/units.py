"""Units and the one formatting helper every page uses to print bytes, FLOP, FLOP/s and time.

Decimal units (KB, MB, GB, TB) are powers of 1000, as on spec sheets; binary units (KiB, MiB,
GiB, TiB) are powers of 1024, as in nvidia-smi, PyTorch and vLLM's logs. A "24 GB" card may hold
24 GiB (25.8 GB); a KV cache of 131,072 B is 128 KiB but 131.07 KB. FLOP counts work; FLOP/s is
a rate.

References:
    IEC 80000-13 (binary prefixes): https://en.wikipedia.org/wiki/Binary_prefix
"""

from __future__ import annotations

import math

KB = 10**3
MB = 10**6
GB = 10**9
TB = 10**12
KiB = 2**10
MiB = 2**20
GiB = 2**30
TiB = 2**40

_DECIMAL = (("TB", TB), ("GB", GB), ("MB", MB), ("KB", KB))
_BINARY = (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB))
BYTE_UNITS: dict[str, int] = {"B": 1, **dict(_DECIMAL), **dict(_BINARY)}
BYTE_UNIT_CHOICES = tuple(BYTE_UNITS) + ("auto", "auto-binary", "both")


MAX_DIGITS = 20  # a float holds about 17 significant digits; more decimals show only noise


def _number(value: float, digits: int) -> str:
    """`value` with at most `digits` decimals, thousands separators, no trailing zeros."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be an integer in 0..{MAX_DIGITS}; got {digits!r}")
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _check_finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return value


def _auto(n: float, table) -> tuple[str, int]:
    for unit, size in table:
        if abs(n) >= size:
            return unit, size
    return "B", 1


def format_bytes(n: float, unit: str = "auto", digits: int = 2) -> str:
    """Bytes in the unit asked for: 'GB', 'GiB', ..., 'auto' (decimal), 'auto-binary' or 'both'.

    >>> format_bytes(131072, "both")
    '131.07 KB = 128 KiB'
    """
    _check_finite("n", n)
    if not isinstance(unit, str):
        raise ValueError(f"unit must be a str, one of {', '.join(BYTE_UNIT_CHOICES)}; "
                         f"got {unit!r}")
    if unit == "both":
        return f"{format_bytes(n, 'auto', digits)} = {format_bytes(n, 'auto-binary', digits)}"
    if unit == "auto":
        unit, size = _auto(n, _DECIMAL)
    elif unit == "auto-binary":
        unit, size = _auto(n, _BINARY)
    elif unit in BYTE_UNITS:
        size = BYTE_UNITS[unit]
    else:
        raise ValueError(
            f"unit={unit!r} is not a byte unit; allowed: {', '.join(BYTE_UNIT_CHOICES)}")
    return f"{_number(n / size, digits)} {unit}"


_FLOP_PREFIXES = (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3))


def _format_si(n: float, suffix: str, digits: int) -> str:
    for prefix, size in _FLOP_PREFIXES:
        if abs(n) >= size:
            return f"{_number(n / size, digits)} {prefix}{suffix}"
    return f"{_number(n, digits)} {suffix}"


def format_flops(n: float, digits: int = 2) -> str:
    """A count of floating-point operations: format_flops(16e9) -> '16 GFLOP'."""
    return _format_si(_check_finite("n", n), "FLOP", digits)


def format_flops_per_s(n: float, digits: int = 2) -> str:
    """A rate of floating-point operations: format_flops_per_s(312e12) -> '312 TFLOP/s'."""
    return _format_si(_check_finite("n", n), "FLOP/s", digits)


def format_bandwidth(n: float, digits: int = 3) -> str:
    """Bytes per second in decimal units, as spec sheets give them: 2.039e12 -> '2.039 TB/s'."""
    _check_finite("n", n)
    unit, size = _auto(n, _DECIMAL)
    return f"{_number(n / size, digits)} {unit}/s"


def format_duration(seconds: float, digits: int = 2) -> str:
    """A time with a readable unit: 0.0078767 -> '7.88 ms'."""
    s = _check_finite("seconds", seconds)
    for unit, size in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(s) >= size:
            return f"{_number(s / size, digits)} {unit}"
    return f"{_number(s / 1e-9, digits)} ns" if s else "0 s"


def format_count(n: float, short: bool = False, digits: int = 2) -> str:
    """A count: 8030261248 -> '8,030,261,248', or with short=True '8.03 B' (K, M, B, T)."""
    _check_finite("n", n)
    if not short:
        return f"{n:,}" if isinstance(n, int) else _number(n, digits)
    for prefix, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{_number(n / size, digits)} {prefix}"
    return _number(n, digits)
