"""Lab 3 reference: turn one row of logits into one token, exactly as mini_vllm's engine does.

Order: temperature (below 1e-5 means greedy) -> top-k (ties with the k-th kept) -> top-p on the
renormalised distribution (the token that crosses p is kept) -> softmax -> one inverse-CDF draw
from a seeded numpy Generator.

References:
    vLLM v1 sampler: vllm/v1/sample/sampler.py, vllm/v1/sample/ops/topk_topp_sampler.py
    Holtzman et al., "The Curious Case of Neural Text Degeneration" (top-p): https://arxiv.org/abs/1904.09751
"""

from __future__ import annotations

import numpy as np

GREEDY_EPS = 1e-5  # below this temperature, sample greedily (vLLM's _SAMPLING_EPS)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits (vocab,), stable for huge logits; -inf becomes exactly 0."""
    logits = np.asarray(logits, dtype=np.float64)
    e = np.exp(logits - np.max(logits))  # subtracting the max keeps exp() <= 1: no overflow
    return e / np.sum(e)


def greedy(logits: np.ndarray) -> int:
    """The most likely token (the lowest id on a tie)."""
    return int(np.argmax(logits))


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Logits divided by the temperature (> 0): < 1 sharpens, > 1 flattens."""
    return np.asarray(logits, dtype=np.float64) / temperature


def top_k_filter(logits: np.ndarray, k: int | None) -> np.ndarray:
    """Logits with -inf outside the k largest (ties with the k-th largest are kept)."""
    logits = np.asarray(logits, dtype=np.float64)
    if k is None or k >= logits.size:
        return logits
    kth_largest = np.sort(logits)[-k]
    return np.where(logits >= kth_largest, logits, -np.inf)


def top_p_filter(logits: np.ndarray, p: float) -> np.ndarray:
    """Logits with -inf outside the nucleus: the most likely tokens up to and including the one
    whose cumulative probability reaches p."""
    logits = np.asarray(logits, dtype=np.float64)
    if p >= 1:
        return logits
    probs = softmax(logits)
    # Rank by logit (most likely first, ties by id): logits 1e-90 apart have equal float
    # probabilities but a definite order, and the argmax must come first.
    order = np.argsort(-logits, kind="stable")
    mass_before = np.cumsum(probs[order]) - probs[order]  # mass of the strictly better tokens
    keep = np.zeros(logits.size, dtype=bool)
    keep[order[mass_before < p]] = True  # the first token has mass_before 0, so one always stays
    return np.where(keep, logits, -np.inf)


def probabilities(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float = 1.0) -> np.ndarray:
    """The distribution a token is drawn from, (vocab,); one-hot on the argmax when greedy."""
    logits = np.asarray(logits, dtype=np.float64)
    if temperature < GREEDY_EPS:
        return np.eye(logits.size)[greedy(logits)]
    filtered = top_k_filter(apply_temperature(logits, temperature), top_k)
    return softmax(top_p_filter(filtered, top_p))


def sample(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
           top_k: int | None = None, top_p: float = 1.0) -> int:
    """One token id. Greedy uses no random number; otherwise one rng.random() draw."""
    if temperature < GREEDY_EPS:
        return greedy(logits)
    cdf = np.cumsum(probabilities(logits, temperature, top_k, top_p))  # (vocab,)
    u = rng.random()
    # Inverse CDF: the first token whose cumulative mass exceeds u (scaled by the total, ~1).
    return int(min(np.sum(cdf <= u * cdf[-1]), cdf.size - 1))
