"""Lab 4 reference: six one-line functions that place a workload on the roofline.

Every function takes plain numbers (FLOP/s, bytes/s, bytes per parameter), so the same lines
work for any GPU; test_lab.py feeds them the A100 SXM4 80GB spec sheet from mini_vllm.hardware.

References:
    Williams, Waterman, Patterson, "Roofline" (CACM 2009): https://doi.org/10.1145/1498765.1498785
    NVIDIA A100 datasheet (SXM4 80GB: 2,039 GB/s HBM2e, 312 TFLOP/s dense BF16).
"""

from __future__ import annotations


def ridge_point(peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> float:
    """FLOP per byte at which a kernel stops waiting on memory and starts waiting on math."""
    return peak_flops_per_s / bandwidth_bytes_per_s


def arithmetic_intensity(num_tokens: int, bytes_per_param: float) -> float:
    """FLOP per byte of weights read when one forward pass serves ``num_tokens`` tokens."""
    # 2 FLOP (multiply + add) per parameter per token, over one read of every parameter:
    # (2 * N * T) / (N * b) -- the parameter count N cancels, model size does not matter.
    return 2 * num_tokens / bytes_per_param


def utilization(intensity: float, ridge: float) -> float:
    """Fraction of peak compute the roofline allows at ``intensity`` (never more than 1)."""
    return min(1.0, intensity / ridge)


def decode_tokens_per_s_limit(num_params: float, bytes_per_param: float,
                              bandwidth_bytes_per_s: float) -> float:
    """Single-stream decode speed limit: each new token needs one full read of the weights."""
    return bandwidth_bytes_per_s / (num_params * bytes_per_param)


def critical_batch_size(ridge: float, bytes_per_param: float) -> float:
    """Decode batch size whose intensity reaches the ridge (2 * B / bytes_per_param = ridge)."""
    return ridge * bytes_per_param / 2


def regime(intensity: float, ridge: float) -> str:
    """'memory-bound' below the ridge, 'compute-bound' at or above it."""
    return "compute-bound" if intensity >= ridge else "memory-bound"
