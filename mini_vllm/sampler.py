"""Sampling: greedy, temperature, top-k and top-p with vLLM v1's semantics, batched.

Order of operations for one row of logits:
1. temperature < 1e-5 means greedy: the argmax of the raw logits (lowest id on a tie);
2. otherwise divide the logits by the temperature;
3. top-k: keep every token whose logit is >= the k-th largest (ties with the k-th are kept);
4. top-p: on the softmax of what top-k kept, rank tokens by logit (descending, ties by id) and keep
   the smallest prefix whose mass reaches p, including the token that crosses p (so at least one
   token is always kept);
5. softmax (max subtracted) over the kept tokens, then one draw from the request's generator.

References:
    vLLM v1 sampler: vllm/v1/sample/sampler.py, vllm/v1/sample/ops/topk_topp_sampler.py
    Nucleus sampling (Holtzman et al., 2019): https://arxiv.org/abs/1904.09751
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Below this temperature vLLM switches to greedy sampling (vllm/v1/sample/sampler.py: _SAMPLING_EPS).
GREEDY_EPS = 1e-5


@dataclass(frozen=True)
class SamplingParams:
    """How to pick the next token of one request (validated)."""

    temperature: float = 1.0
    top_k: int | None = None  # None keeps every token (vLLM also accepts 0 or -1 for this)
    top_p: float = 1.0
    max_tokens: int = 16
    seed: int | None = None  # a request with a seed draws from its own np.random.Generator
    ignore_eos: bool = False  # keep generating after EOS (benchmarks use this)

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise ValueError(f"temperature must be a finite number >= 0; got {t!r}")
        if self.top_k is not None and (isinstance(self.top_k, bool) or
                                       not isinstance(self.top_k, int) or self.top_k < 1):
            raise ValueError(f"top_k must be None or an integer >= 1; got {self.top_k!r}")
        p = self.top_p
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise ValueError(f"top_p must be in (0, 1]; got {p!r}")
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or \
                self.max_tokens < 1:
            raise ValueError(f"max_tokens must be an integer >= 1; got {self.max_tokens!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or
                                      not isinstance(self.seed, int) or self.seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0; got {self.seed!r}")
        if not isinstance(self.ignore_eos, bool):
            raise ValueError(f"ignore_eos must be a bool; got {self.ignore_eos!r}")

    @property
    def is_greedy(self) -> bool:
        """True when the temperature is below GREEDY_EPS (vLLM's rule)."""
        return self.temperature < GREEDY_EPS


# ---- pure helpers, each on logits of shape (..., vocab) ---------------------------------------
def _as_logits(logits) -> np.ndarray:
    arr = np.asarray(logits)
    if arr.ndim < 1 or arr.shape[-1] < 1 or arr.dtype.kind not in "fiu":
        raise ValueError(f"logits must be a real array of shape (..., vocab); got {arr.shape}")
    arr = arr.astype(np.result_type(arr.dtype, np.float32), copy=False)
    if np.isnan(arr).any() or np.isposinf(arr).any():
        raise ValueError("logits contain NaN or +inf")
    if not np.isfinite(arr).any(axis=-1).all():  # softmax of all -inf is 0/0
        raise ValueError("logits need a finite value in every row; a row is all -inf")
    return arr


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """logits / temperature (temperature must be > 0; greedy is handled by the caller)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) \
            or not temperature > 0:
        raise ValueError(f"temperature must be > 0 here; got {temperature!r}")
    return _as_logits(logits) / temperature


def top_k_mask(logits, k: int | None) -> np.ndarray:
    """Boolean keep-mask: logits >= the k-th largest (ties with the k-th all kept)."""
    arr = _as_logits(logits)
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be None or an integer >= 1; got {k!r}")
    if k is None or k >= arr.shape[-1]:
        return np.ones(arr.shape, bool)
    kth = -np.partition(-arr, k - 1, axis=-1)[..., k - 1:k]  # (..., 1): the k-th largest
    return arr >= kth


def top_p_mask(logits, p: float) -> np.ndarray:
    """Boolean keep-mask of the nucleus: the most likely tokens up to and including the one crossing p."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1]; got {p!r}")
    arr = _as_logits(logits)
    probs = _softmax(arr)
    if p >= 1:
        return np.ones(probs.shape, bool)
    # Rank by logit, not by probability: two logits 1e-90 apart have equal float probabilities
    # but still a definite order, and the argmax must rank first.
    order = np.argsort(-arr, axis=-1, kind="stable")  # descending, ties by token id
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs  # mass of strictly better tokens
    keep_sorted = mass_before < p  # the first token always has mass_before 0 < p
    keep = np.empty_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return keep


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))  # -inf entries become exactly 0
    return e / np.sum(e, axis=-1, keepdims=True)


def probabilities(logits, params: SamplingParams) -> np.ndarray:
    """The distribution the sampler draws from, shape (vocab,); zeros for removed tokens.

    Greedy params give a one-hot vector on the argmax.
    """
    if not isinstance(params, SamplingParams):
        raise ValueError(f"params must be SamplingParams; got {type(params).__name__}")
    arr = _as_logits(logits)
    if arr.ndim != 1:
        raise ValueError(f"probabilities takes one row of logits (vocab,); got {arr.shape}")
    return _batch_probabilities(arr[None, :], [params])[0]


def _batch_probabilities(logits: np.ndarray, params_list: list[SamplingParams]) -> np.ndarray:
    """Rows of (B, vocab) logits -> (B, vocab) sampling distributions, vectorised over rows."""
    batch, vocab = logits.shape
    greedy = np.array([p.is_greedy for p in params_list])
    temps = np.array([1.0 if p.is_greedy else p.temperature for p in params_list])
    scaled = logits / temps[:, None].astype(logits.dtype)  # (B, V)
    ks = np.array([vocab if p.top_k is None else min(p.top_k, vocab) for p in params_list])
    if (ks < vocab).any():
        kth = np.take_along_axis(np.sort(scaled, axis=-1), (vocab - ks)[:, None], axis=-1)
        scaled = np.where(scaled >= kth, scaled, -np.inf)  # ties with the k-th survive
    probs = _softmax(scaled)
    ps = np.array([p.top_p for p in params_list])
    if (ps < 1).any():
        order = np.argsort(-scaled, axis=-1, kind="stable")
        sorted_probs = np.take_along_axis(probs, order, axis=-1)
        keep_sorted = (np.cumsum(sorted_probs, axis=-1) - sorted_probs) < ps[:, None]
        keep = np.empty_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        probs = np.where(keep, probs, 0.0)
        probs = probs / probs.sum(axis=-1, keepdims=True)
    if greedy.any():
        probs[greedy] = np.eye(vocab, dtype=probs.dtype)[np.argmax(logits[greedy], axis=-1)]
    return probs


class Sampler:
    """Draws one token per row of a (B, vocab) logits batch, each row with its own params."""

    def sample(self, logits, params_list: list[SamplingParams],
               generators: list[np.random.Generator]) -> np.ndarray:
        """Token ids (B,). Greedy rows take the argmax and consume no random number."""
        arr = _as_logits(logits)
        if arr.ndim != 2:
            raise ValueError(f"logits must be (batch, vocab); got {arr.shape}")
        for name, items in (("params_list", params_list), ("generators", generators)):
            if not isinstance(items, (list, tuple)) or len(items) != arr.shape[0]:
                raise ValueError(f"{name} must be a list with one entry per row of logits "
                                 f"({arr.shape[0]}); got {items!r:.80}")
        if not all(isinstance(p, SamplingParams) for p in params_list):
            raise ValueError("params_list must hold SamplingParams")
        greedy = np.array([p.is_greedy for p in params_list])
        tokens = np.argmax(arr, axis=-1)
        if greedy.all():
            return tokens
        rows = np.flatnonzero(~greedy)
        probs = _batch_probabilities(arr[rows], [params_list[i] for i in rows])
        uniforms = np.array([_check_generator(generators[i]).random() for i in rows])  # (R,)
        cdf = np.cumsum(probs, axis=-1)  # (R, V)
        # Inverse-CDF draw: the first token whose cumulative mass exceeds u * total.
        drawn = np.sum(cdf <= (uniforms * cdf[:, -1])[:, None], axis=-1)
        tokens[rows] = np.minimum(drawn, arr.shape[1] - 1)
        return tokens


def _check_generator(g) -> np.random.Generator:
    if not isinstance(g, np.random.Generator):
        raise ValueError(f"generators must be numpy.random.Generator objects; got {type(g).__name__}")
    return g
