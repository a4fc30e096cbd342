"""Lab 3 spec: greedy, temperature, top-k, top-p, and a draw identical to mini_vllm's Sampler."""

import numpy as np
import pytest

from mini_vllm import sampler as engine
from mini_vllm.sampler import Sampler, SamplingParams

VOCAB = 257  # the toy engine's byte vocabulary


def random_logits(seed: int, vocab: int = VOCAB) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 3.0, size=vocab)  # (vocab,) float64


def test_softmax_is_stable_and_normalised(lab):
    huge = lab.softmax(np.array([1000.0, 1001.0, 1002.0]))
    assert np.all(np.isfinite(huge)), "softmax overflowed: subtract the max before exp()"
    assert np.allclose(huge, lab.softmax(np.array([0.0, 1.0, 2.0])), rtol=1e-12, atol=0)
    assert np.isclose(huge.sum(), 1.0, rtol=1e-12)
    masked = lab.softmax(np.array([0.0, -np.inf, 0.0]))
    assert masked.tolist() == [0.5, 0.0, 0.5]


def test_greedy_is_argmax_with_lowest_id_on_ties(lab):
    assert lab.greedy(np.array([0.1, 2.0, -1.0])) == 1
    assert lab.greedy(np.array([3.0, 1.0, 3.0])) == 0
    assert isinstance(lab.greedy(random_logits(0)), int)


def test_temperature_sharpens_and_flattens(lab):
    logits = np.array([2.0, 1.0, 0.0])
    assert np.array_equal(lab.apply_temperature(logits, 1.0), logits)
    assert np.array_equal(lab.apply_temperature(logits, 0.5), logits * 2)
    top = [lab.softmax(lab.apply_temperature(logits, t))[0] for t in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in zip(top, top[1:])), "lower temperature must favour the top token"


def test_temperature_zero_is_greedy(lab):
    logits = random_logits(1)
    for t in (0.0, 1e-6):
        probs = lab.probabilities(logits, temperature=t)
        assert probs.argmax() == lab.greedy(logits) and probs.max() == 1.0 and probs.sum() == 1.0


def test_top_k_keeps_k_and_ties_with_the_kth(lab):
    logits = np.array([3.0, 1.0, 2.0, 0.0])
    assert np.isinf(lab.top_k_filter(logits, 2)).tolist() == [False, True, False, True]
    assert np.array_equal(lab.top_k_filter(logits, None), logits)
    assert np.array_equal(lab.top_k_filter(logits, 10), logits)
    tied = lab.top_k_filter(np.array([3.0, 2.0, 2.0, 1.0]), 2)
    assert np.isfinite(tied).tolist() == [True, True, True, False], "a tie with the k-th is kept"


def test_top_p_boundary_is_inclusive(lab):
    uniform = np.zeros(4)  # four tokens with probability exactly 0.25
    kept = lambda p: np.isfinite(lab.top_p_filter(uniform, p)).tolist()  # noqa: E731
    assert kept(0.25) == [True, False, False, False]  # the first token reaches p exactly
    assert kept(0.5) == [True, True, False, False]  # mass reaches 0.5 exactly: stop there
    assert kept(0.5000001) == [True, True, True, False]  # the token that crosses p is kept
    assert kept(1e-9) == [True, False, False, False]  # at least one token always survives
    assert kept(1.0) == [True] * 4


def test_top_p_ranks_by_logit(lab):
    # Logits 1e-300 apart have equal float probabilities (0.5, 0.5) but the second is the argmax.
    nearly_tied = np.array([0.0, 1e-300])
    assert np.isfinite(lab.top_p_filter(nearly_tied, 0.5)).tolist() == [False, True]
    assert lab.sample(nearly_tied, np.random.default_rng(0), top_p=0.5) == lab.greedy(nearly_tied)


def test_top_p_on_a_skewed_distribution(lab):
    logits = np.log(np.array([0.1, 0.6, 0.3]))
    assert np.isfinite(lab.top_p_filter(logits, 0.7)).tolist() == [False, True, True]
    assert np.isfinite(lab.top_p_filter(logits, 0.5)).tolist() == [False, True, False]


def test_probabilities_match_the_engine(lab):
    logits = random_logits(2)
    for t, k, p in [(1.0, None, 1.0), (0.7, None, 0.9), (1.3, 20, 1.0), (0.8, 50, 0.8), (0, None, 1.0)]:
        ours = lab.probabilities(logits, temperature=t, top_k=k, top_p=p)
        theirs = engine.probabilities(logits, SamplingParams(temperature=t, top_k=k, top_p=p))
        assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-15), f"temperature={t} top_k={k} top_p={p}"


def test_seeded_sampling_is_reproducible(lab):
    logits = random_logits(3)
    draw = lambda seed: [lab.sample(logits, rng, temperature=0.9, top_p=0.95)  # noqa: E731
                         for rng in [np.random.default_rng(seed)] for _ in range(50)]
    assert draw(7) == draw(7), "the same seed must give the same tokens"
    assert draw(7) != draw(8), "a different seed should give different tokens"
    assert len(set(draw(7))) > 1, "sampling at temperature 0.9 should not always pick one token"


def test_greedy_sampling_uses_no_random_numbers(lab):
    rng = np.random.default_rng(11)
    before = rng.bit_generator.state
    assert lab.sample(random_logits(4), rng, temperature=0.0) == lab.greedy(random_logits(4))
    assert rng.bit_generator.state == before


def test_sample_frequencies_follow_the_distribution(lab):
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0])
    rng = np.random.default_rng(12)
    counts = np.bincount([lab.sample(logits, rng, temperature=1.0, top_k=4) for _ in range(4000)],
                         minlength=5)
    expected = lab.probabilities(logits, temperature=1.0, top_k=4)
    assert counts[4] == 0, "top_k=4 removed token 4"
    assert np.allclose(counts / 4000, expected, atol=0.03)


# (temperature, top_k, top_p, seed): greedy, temperature alone, each filter, and combinations.
CONFIGS = [
    (0.0, None, 1.0, 0), (1.0, None, 1.0, 1), (0.5, None, 1.0, 2), (2.0, None, 1.0, 3),
    (1.0, 1, 1.0, 4), (1.0, 10, 1.0, 5), (0.7, 40, 1.0, 6), (1.0, None, 0.5, 7),
    (1.0, None, 0.9, 8), (0.8, None, 0.95, 9), (0.7, 50, 0.9, 10), (1.2, 5, 0.8, 11),
    (0.3, 100, 0.99, 12), (1.5, 256, 0.7, 13), (1e-6, 20, 0.5, 14),
]


@pytest.mark.parametrize("temperature,top_k,top_p,seed", CONFIGS)
def test_agrees_token_for_token_with_the_engine_sampler(lab, temperature, top_k, top_p, seed):
    params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    ours_rng, engine_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    logits_rng = np.random.default_rng(1000 + seed)
    ours, theirs = [], []
    for _ in range(40):  # 40 decode steps, fresh logits each step
        logits = logits_rng.normal(0.0, 3.0, size=VOCAB)
        ours.append(lab.sample(logits, ours_rng, temperature=temperature, top_k=top_k, top_p=top_p))
        theirs.append(int(Sampler().sample(logits[None, :], [params], [engine_rng])[0]))
    mismatches = [step for step, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    assert not mismatches, f"your token differs from the engine's first at step {mismatches[:1]}"
