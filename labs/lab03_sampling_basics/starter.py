"""Lab 3 starter: turn one row of logits into one token, exactly as mini_vllm's engine does.

Replace each ``raise NotImplementedError(...)`` with your code. Grade yourself with
``LAB_IMPL=starter pytest labs/lab03_sampling_basics -q``. README.md has the background.
"""

from __future__ import annotations

import numpy as np

GREEDY_EPS = 1e-5  # below this temperature, sample greedily (vLLM's _SAMPLING_EPS)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits (vocab,), stable for huge logits; -inf becomes exactly 0."""
    # TODO: exp(logits) / sum(exp(logits)) overflows for logits near 1000. Subtract the max first:
    #       the result is mathematically the same and every exp() is then <= 1.
    raise NotImplementedError("Lab 3: softmax is not implemented yet")


def greedy(logits: np.ndarray) -> int:
    """The most likely token (the lowest id on a tie)."""
    # TODO: one numpy call; return a plain int.
    raise NotImplementedError("Lab 3: greedy is not implemented yet")


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Logits divided by the temperature (> 0): < 1 sharpens, > 1 flattens."""
    # TODO: one line.
    raise NotImplementedError("Lab 3: apply_temperature is not implemented yet")


def top_k_filter(logits: np.ndarray, k: int | None) -> np.ndarray:
    """Logits with -inf outside the k largest (ties with the k-th largest are kept)."""
    # TODO: k None (or k >= vocab) keeps everything. Otherwise find the k-th largest logit and
    #       set every logit strictly below it to -np.inf (so softmax gives it probability 0).
    raise NotImplementedError("Lab 3: top_k_filter is not implemented yet")


def top_p_filter(logits: np.ndarray, p: float) -> np.ndarray:
    """Logits with -inf outside the nucleus: the most likely tokens up to and including the one
    whose cumulative probability reaches p."""
    # TODO: p >= 1 keeps everything. Otherwise: probabilities with your softmax; order tokens from
    #       most to least likely by LOGIT (np.argsort(-logits, kind="stable"): ties by id); keep a
    #       token when the mass of the tokens before it is < p. The first token is always kept.
    raise NotImplementedError("Lab 3: top_p_filter is not implemented yet")


def probabilities(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float = 1.0) -> np.ndarray:
    """The distribution a token is drawn from, (vocab,); one-hot on the argmax when greedy."""
    # TODO: temperature < GREEDY_EPS -> one-hot on greedy(logits). Otherwise, in this order:
    #       temperature, top-k, top-p, softmax.
    raise NotImplementedError("Lab 3: probabilities is not implemented yet")


def sample(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
           top_k: int | None = None, top_p: float = 1.0) -> int:
    """One token id. Greedy uses no random number; otherwise one rng.random() draw."""
    # TODO: greedy -> greedy(logits), and do not touch rng. Otherwise draw u = rng.random() once
    #       and return the first token whose cumulative probability exceeds u (inverse CDF):
    #       cdf = np.cumsum(probs); token = number of entries of cdf that are <= u * cdf[-1],
    #       capped at vocab - 1. This is exactly how mini_vllm's Sampler draws.
    raise NotImplementedError("Lab 3: sample is not implemented yet")
