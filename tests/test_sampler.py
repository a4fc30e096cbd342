"""Tests for mini_vllm.sampler: vLLM semantics, batching, reproducibility, frequencies."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mini_vllm.sampler import (GREEDY_EPS, Sampler, SamplingParams, apply_temperature,
                               probabilities, top_k_mask, top_p_mask)

logit_rows = arrays(np.float64, st.integers(2, 40),
                    elements=st.floats(-20, 20, allow_nan=False, allow_infinity=False))


def _draw(logits, params, n, seed=0):
    gens = [np.random.default_rng(seed)]
    return np.array([Sampler().sample(logits[None, :], [params], gens)[0] for _ in range(n)])


@settings(max_examples=50, deadline=None)
@given(logit_rows, st.integers(0, 10 ** 6))
def test_greedy_and_top_k_1_are_argmax(logits, seed):
    gens = [np.random.default_rng(seed)]
    for params in (SamplingParams(temperature=0.0), SamplingParams(temperature=GREEDY_EPS / 2)):
        assert Sampler().sample(logits[None], [params], gens)[0] == np.argmax(logits)
    if (logits == logits.max()).sum() == 1:  # without a tie at the top, top_k=1 is argmax too
        assert Sampler().sample(logits[None], [SamplingParams(top_k=1)], gens)[0] == np.argmax(logits)


@settings(max_examples=50, deadline=None)
@given(logit_rows, st.integers(0, 10 ** 6))
def test_tiny_top_p_is_argmax(logits, seed):
    if (logits == logits.max()).sum() > 1:
        return
    params = SamplingParams(temperature=1.3, top_p=1e-9)
    assert Sampler().sample(logits[None], [params], [np.random.default_rng(seed)])[0] == np.argmax(logits)
    assert probabilities(logits, params)[np.argmax(logits)] == 1.0


def test_crossing_token_is_kept():
    logits = np.log([0.5, 0.3, 0.2])
    assert top_p_mask(logits, 0.6).tolist() == [True, True, False]  # 0.5 < 0.6, 0.3 crosses it
    assert top_p_mask(logits, 0.45).tolist() == [True, False, False]
    assert top_p_mask(logits, 0.81).tolist() == [True, True, True]
    np.testing.assert_allclose(probabilities(logits, SamplingParams(top_p=0.6)), [0.625, 0.375, 0])


def test_ties_at_kth_value_are_kept():
    logits = np.array([3.0, 2.0, 2.0, 1.0, 2.0])
    assert top_k_mask(logits, 2).tolist() == [True, True, True, False, True]
    p = probabilities(logits, SamplingParams(top_k=2))
    assert (p > 0).tolist() == [True, True, True, False, True]


def test_temperature_applied_before_top_p():
    logits = np.log([0.5, 0.3, 0.2])
    # At temperature 0.1 the top token holds > 99% of the mass: top_p=0.9 keeps it alone.
    p = probabilities(logits, SamplingParams(temperature=0.1, top_p=0.9))
    assert p.tolist() == [1.0, 0.0, 0.0]
    # At temperature 10 the distribution is nearly flat: top_p=0.5 needs two tokens.
    p = probabilities(logits, SamplingParams(temperature=10.0, top_p=0.5))
    assert (p > 0).sum() == 2


def test_top_p_applies_to_renormalised_top_k():
    logits = np.log([0.4, 0.3, 0.2, 0.1])
    # after top_k=2 the renormalised probs are [4/7, 3/7]: top_p=0.5 keeps only the first
    p = probabilities(logits, SamplingParams(top_k=2, top_p=0.5))
    assert p.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_max_subtraction_softmax():
    p = probabilities(np.array([1000.0, 999.0, -1000.0]), SamplingParams())
    np.testing.assert_allclose(p, [1 / (1 + np.e ** -1), np.e ** -1 / (1 + np.e ** -1), 0.0])


@settings(max_examples=60, deadline=None)
@given(logit_rows, st.floats(0.05, 3.0), st.one_of(st.none(), st.integers(1, 50)),
       st.floats(0.01, 1.0))
def test_probabilities_is_a_distribution_over_allowed_tokens(logits, t, k, p):
    params = SamplingParams(temperature=t, top_k=k, top_p=p)
    probs = probabilities(logits, params)
    assert probs.shape == logits.shape
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-9)
    allowed = top_k_mask(apply_temperature(logits, t), k)
    assert not np.any(probs[~allowed] > 0)
    assert probs[np.argmax(logits)] > 0  # the most likely token always survives
    if k is not None:
        assert (probs > 0).sum() <= allowed.sum()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10 ** 6))
def test_batch_matches_rows(batch, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((batch, 30)) * 3
    params = [SamplingParams(temperature=float(rng.choice([0.0, 0.7, 1.5])),
                             top_k=[None, 3, 10][rng.integers(3)],
                             top_p=float(rng.choice([1.0, 0.5, 0.9])), seed=int(seed) + i)
              for i in range(batch)]
    batched = Sampler().sample(logits, params, [np.random.default_rng(p.seed) for p in params])
    for i, p in enumerate(params):
        alone = Sampler().sample(logits[i:i + 1], [p], [np.random.default_rng(p.seed)])
        assert batched[i] == alone[0]
        assert probabilities(logits[i], p)[batched[i]] > 0


def test_seeded_draws_repeat():
    logits = np.random.default_rng(5).standard_normal(50)
    params = SamplingParams(temperature=1.0, seed=42)
    a = _draw(logits, params, 100, seed=42)
    b = _draw(logits, params, 100, seed=42)
    c = _draw(logits, params, 100, seed=43)
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


def test_draw_frequencies_match_probabilities_chi_square():
    logits = np.log(np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.25]))
    params = SamplingParams(temperature=1.0)
    n = 20000
    gens = [np.random.default_rng(1234)]
    # draw n rows at once from one generator: the batch is vectorised
    draws = Sampler().sample(np.tile(logits, (n, 1)), [params] * n, gens * n)
    observed = np.bincount(draws, minlength=6)
    expected = n * probabilities(logits, params)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < 20.52, (observed, expected)  # 5 degrees of freedom, p = 0.001


def test_removed_tokens_never_drawn():
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0])
    params = SamplingParams(temperature=2.0, top_k=3, top_p=0.8)
    allowed = probabilities(logits, params) > 0
    n = 2000
    draws = Sampler().sample(np.tile(logits, (n, 1)), [params] * n, [np.random.default_rng(0)] * n)
    assert allowed[draws].all()


# ---- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"temperature": -0.1}, {"temperature": float("nan")}, {"temperature": "hot"},
    {"top_k": 0}, {"top_k": 1.5}, {"top_k": True},
    {"top_p": 0.0}, {"top_p": 1.5}, {"top_p": -1},
    {"max_tokens": 0}, {"max_tokens": 2.0}, {"seed": -1}, {"seed": 1.0}, {"ignore_eos": 1},
])
def test_sampling_params_validation(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SamplingParams(**kwargs)


def test_helper_validation():
    logits = np.zeros(4)
    with pytest.raises(ValueError):
        apply_temperature(logits, 0.0)
    with pytest.raises(ValueError):
        top_k_mask(logits, 0)
    with pytest.raises(ValueError):
        top_k_mask(logits, 100.5)
    with pytest.raises(ValueError):
        top_p_mask(logits, 0.0)
    with pytest.raises(ValueError):
        probabilities(logits, {"temperature": 1.0})
    with pytest.raises(ValueError):
        probabilities(np.zeros((2, 4)), SamplingParams())
    with pytest.raises(ValueError):
        probabilities(np.array([np.nan, 0.0]), SamplingParams())
    with pytest.raises(ValueError):
        Sampler().sample(np.zeros((2, 4)), [SamplingParams()], [np.random.default_rng()])
    with pytest.raises(ValueError):
        Sampler().sample(np.zeros((1, 4)), [SamplingParams()], [0])
    with pytest.raises(ValueError):
        Sampler().sample(np.zeros(4), [SamplingParams()], [np.random.default_rng()])
