"""Lab 4 starter: six one-line functions that place a workload on the roofline.

Replace each ``raise NotImplementedError(...)`` with one line of arithmetic. Grade yourself with
``LAB_IMPL=starter pytest labs/lab04_prefill_vs_decode -q``. README.md has the background.
"""

from __future__ import annotations


def ridge_point(peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> float:
    """FLOP per byte at which a kernel stops waiting on memory and starts waiting on math."""
    # TODO: the intensity at which "time to do the math" equals "time to move the bytes".
    #       Units: (FLOP/s) / (byte/s) = FLOP/byte.
    raise NotImplementedError("Lab 4: ridge_point is not implemented yet")


def arithmetic_intensity(num_tokens: int, bytes_per_param: float) -> float:
    """FLOP per byte of weights read when one forward pass serves ``num_tokens`` tokens."""
    # TODO: a forward pass costs 2 FLOP per parameter per token and reads every parameter once.
    #       Write FLOP / bytes for N parameters and watch N cancel.
    raise NotImplementedError("Lab 4: arithmetic_intensity is not implemented yet")


def utilization(intensity: float, ridge: float) -> float:
    """Fraction of peak compute the roofline allows at ``intensity`` (never more than 1)."""
    # TODO: below the ridge you get intensity / ridge of the peak; above it, all of it.
    raise NotImplementedError("Lab 4: utilization is not implemented yet")


def decode_tokens_per_s_limit(num_params: float, bytes_per_param: float,
                              bandwidth_bytes_per_s: float) -> float:
    """Single-stream decode speed limit: each new token needs one full read of the weights."""
    # TODO: tokens per second = bandwidth / (bytes read per token).
    raise NotImplementedError("Lab 4: decode_tokens_per_s_limit is not implemented yet")


def critical_batch_size(ridge: float, bytes_per_param: float) -> float:
    """Decode batch size whose intensity reaches the ridge (2 * B / bytes_per_param = ridge)."""
    # TODO: solve arithmetic_intensity(B, bytes_per_param) == ridge for B.
    raise NotImplementedError("Lab 4: critical_batch_size is not implemented yet")


def regime(intensity: float, ridge: float) -> str:
    """'memory-bound' below the ridge, 'compute-bound' at or above it."""
    # TODO: return exactly one of the two strings.
    raise NotImplementedError("Lab 4: regime is not implemented yet")
