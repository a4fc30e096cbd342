"""Number formats: what fp32, bf16, fp16, fp8 (E4M3, E5M2), int8 and int4 store, and rounding.

Every figure (bits, range, spacing) is read from ``np.finfo`` / ``ml_dtypes.finfo`` / ``iinfo``,
never typed in; ``round_to`` does a real cast through numpy or ``ml_dtypes`` and back.

References:
    IEEE 754-2019, Standard for Floating-Point Arithmetic (binary32, binary16).
    OCP 8-bit Floating Point Specification (OFP8), revision 1.0, 2023:
        https://www.opencompute.org/documents/ocp-8-bit-floating-point-specification-ofp8-revision-1-0-2023-12-01-pdf-1
    Micikevicius et al., "FP8 Formats for Deep Learning", 2022, arXiv:2209.05433.
    bfloat16 (Google Brain): https://cloud.google.com/tpu/docs/bfloat16; Kalamkar et al.,
        "A Study of BFLOAT16 for Deep Learning Training", 2019, arXiv:1905.12322.
    ml_dtypes (bfloat16, float8_*, int4 for numpy): https://github.com/jax-ml/ml_dtypes
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import ml_dtypes
import numpy as np

from .config import DTYPE_ALIASES, canonical_dtype

# Format name -> numpy scalar type. Names follow config.py's canonical dtype names, except that
# config's one "fp8" (1 byte, for byte counts only) is split here into its two real encodings.
FLOAT_FORMATS = MappingProxyType({
    "float32": np.float32,
    "bfloat16": ml_dtypes.bfloat16,
    "float16": np.float16,
    # "fn": finite and NaN only, no infinity; max 448. The E4M3 of NVIDIA's FP8 and the OCP spec
    # (ml_dtypes.float8_e4m3, with infinities, is the IEEE-style variant: not what GPUs use).
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e5m2": ml_dtypes.float8_e5m2,
})
INT_FORMATS = MappingProxyType({"int8": np.int8, "int4": ml_dtypes.int4})
FORMATS = MappingProxyType({**FLOAT_FORMATS, **INT_FORMATS})

# Names config.py does not know, or maps only to "fp8": "fp8" is E4M3, as in vLLM's
# kv_cache_dtype="fp8" (which means fp8_e4m3 there).
ALIASES = MappingProxyType({
    "fp8": "float8_e4m3fn", "float8": "float8_e4m3fn", "fp8_e4m3": "float8_e4m3fn",
    "e4m3": "float8_e4m3fn",
    "fp8_e5m2": "float8_e5m2", "e5m2": "float8_e5m2",
})


@dataclass(frozen=True)
class FormatInfo:
    """What one number format stores. For integers, mantissa_bits counts the value bits."""

    name: str
    kind: str                       # "float" or "int"
    bits: int
    bytes: float                    # bits / 8: int4 is 0.5 (two per byte when packed)
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int              # stored fraction bits; the leading 1 is implicit
    max: float                      # largest finite value
    min: float                      # most negative finite value
    smallest_normal: float | None   # None for integers
    smallest_subnormal: float | None
    eps: float                      # spacing just above 1.0 (integers: 1)
    has_inf: bool
    has_nan: bool


def format_name(dtype: str) -> str:
    """The FORMATS key for ``dtype`` ('bf16' -> 'bfloat16', 'fp8' -> 'float8_e4m3fn')."""
    config_aliases = [a for a, canonical in DTYPE_ALIASES.items() if canonical in FORMATS]
    allowed = ", ".join([*FORMATS, *ALIASES, *config_aliases])
    if not isinstance(dtype, str):
        raise ValueError(f"dtype must be a string, one of {allowed}; got {dtype!r}")
    key = dtype.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    try:
        key = canonical_dtype(key)  # config's aliases: fp32, bf16, fp16, half
    except ValueError:
        pass
    if key not in FORMATS:
        raise ValueError(f"dtype={dtype!r} is not a number format here; allowed: {allowed}")
    return key


def _survives(value: float, scalar_type) -> np.float64:
    """``value`` cast to the format and back (casting warnings silenced: this is a probe)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array([value]).astype(scalar_type).astype(np.float64)[0]


def format_info(dtype: str) -> FormatInfo:
    """Bits, range, spacing and special values of a format, read from finfo/iinfo."""
    name = format_name(dtype)
    scalar = FORMATS[name]
    if name in INT_FORMATS:
        ii = ml_dtypes.iinfo(scalar)
        return FormatInfo(name, "int", ii.bits, ii.bits / 8, 1, 0, ii.bits - 1,
                          float(ii.max), float(ii.min), None, None, 1.0, False, False)
    fi = ml_dtypes.finfo(scalar)
    return FormatInfo(
        name, "float", fi.bits, fi.bits / 8, fi.bits - fi.nexp - fi.nmant, fi.nexp, fi.nmant,
        float(fi.max), float(fi.min), float(fi.smallest_normal),
        float(fi.smallest_subnormal), float(fi.eps),
        has_inf=bool(np.isinf(_survives(np.inf, scalar))),
        has_nan=bool(np.isnan(_survives(np.nan, scalar))))


def round_to(values, dtype: str, *, saturate: bool = False) -> np.ndarray:
    """``values`` stored in a float format and read back, as float64 (round to nearest even).

    Out of range, a cast gives inf where the format has one and NaN in float8_e4m3fn (OCP's
    non-saturating conversion). ``saturate=True`` clips to +-max first, as fp8 kernels do.
    """
    name = format_name(dtype)
    if name not in FLOAT_FORMATS:
        raise ValueError(f"dtype={dtype!r} is an integer format; use quantize_int, or one of "
                         f"{', '.join(FLOAT_FORMATS)}")
    x = np.asarray(values, dtype=np.float64)
    if saturate:
        top = format_info(name).max
        x = np.clip(x, -top, top)  # +-inf become +-max too; NaN stays NaN
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf/NaN is the point
        return x.astype(FLOAT_FORMATS[name]).astype(np.float64)


@dataclass(frozen=True)
class QuantizedTensor:
    """Integers, one scale, and what they stand for: dequantized = ints * scale."""

    ints: np.ndarray          # same shape as the input, dtype int8 or ml_dtypes.int4
    scale: float
    dequantized: np.ndarray   # float64, same shape as the input

    @property
    def max_abs_error_bound(self) -> float:
        """Rounding to the nearest integer step is off by at most half a step."""
        return self.scale / 2


def quantize_int(values, dtype: str = "int8") -> QuantizedTensor:
    """Symmetric absmax quantization with one scale per tensor (the simplest scheme).

    scale = max|x| / qmax, with qmax = 127 (int8) or 7 (int4); ints = round(x / scale) (half to
    even), so the largest |x| maps to +-qmax and the most negative integer (-128, -8) stays unused.
    Libraries usually refine this: one scale per row, channel or group of 32-128 values, zero
    points, or scales found by calibration (GPTQ, AWQ).
    """
    name = format_name(dtype)
    if name not in INT_FORMATS:
        raise ValueError(f"dtype={dtype!r} is not an integer format; allowed: "
                         f"{', '.join(INT_FORMATS)}")
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("values must be a non-empty array of finite numbers")
    qmax = format_info(name).max                  # 127.0 or 7.0
    absmax = float(np.abs(x).max())
    scale = absmax / qmax if absmax > 0 else 1.0  # all zeros: any scale is exact
    ints = np.clip(np.rint(x / scale), -qmax, qmax).astype(INT_FORMATS[name])
    return QuantizedTensor(ints, scale, ints.astype(np.float64) * scale)
