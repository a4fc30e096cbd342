"""interpret.py: bits per byte, head scores and embedding neighbours, checked on models whose
answers are known exactly (a uniform head, uniform logits, planted embedding rows)."""

import numpy as np
import pytest

from mini_vllm.config import TOY
from mini_vllm.interpret import (attention_maps, bits_per_byte, embedding_cosines,
                                 group_cohesion, head_scores, nearest_tokens, text_windows)
from mini_vllm.model import ToyModel

TEXT = "To be, or not to be, that is the question.\n" * 40


def _uniform_attention_model() -> ToyModel:
    """Queries all zero: every score is 0, so query i spreads 1/(i+1) over keys 0..i."""
    model = ToyModel(TOY, seed=0)
    for layer in model.weights.layers:
        layer.qkv_proj[:TOY.q_size] = 0.0
    return model


def test_uniform_heads_score_the_harmonic_baseline_exactly():
    model = _uniform_attention_model()
    scores = head_scores(model, TEXT, max_windows=2, window=64)
    expected = np.mean(1.0 / np.arange(2, 65))  # query i >= 1 gives 1/(i+1) to any one key
    for name in ("previous_token", "first_token", "self"):
        assert scores[name].shape == (TOY.num_layers, TOY.num_heads)
        np.testing.assert_allclose(scores[name], expected, rtol=1e-6)


def test_head_scores_read_the_attention_maps():
    model = ToyModel(TOY, seed=1)
    ids = text_windows(model, TEXT, max_windows=1, window=32)[0]
    maps = attention_maps(model, ids)
    scores = head_scores(model, TEXT, max_windows=1, window=32)
    i = np.arange(1, 32)
    np.testing.assert_allclose(scores["previous_token"], maps[..., i, i - 1].mean(-1), rtol=1e-6)
    np.testing.assert_allclose(scores["self"], maps[..., i, i].mean(-1), rtol=1e-6)


def test_uniform_logits_cost_log2_of_the_vocabulary():
    model = ToyModel(TOY, seed=0)
    model.weights.lm_head_proj[:] = 0.0  # every logit 0: p = 1/257 for every byte
    assert bits_per_byte(model, TEXT, max_windows=2) == pytest.approx(np.log2(257), rel=1e-9)


def test_windows_do_not_overlap_and_respect_the_context():
    model = ToyModel(TOY, seed=0)
    w = text_windows(model, TEXT, window=100)
    assert w.shape == (len(TEXT) // 100, 100)
    assert bytes(w.ravel().astype(np.uint8)) == TEXT.encode()[:w.size]
    assert text_windows(model, TEXT).shape[1] == TOY.max_position_embeddings


def test_nearest_tokens_finds_a_planted_twin():
    model = ToyModel(TOY, seed=2)
    e = model.weights.embed
    e[ord("b")] = 3.0 * e[ord("a")]  # same direction: cosine 1
    (best, cos), *_ = nearest_tokens(model, ord("a"), k=3)
    assert best == ord("b") and cos == pytest.approx(1.0, abs=1e-9)
    cosines = embedding_cosines(model)
    np.testing.assert_allclose(np.diag(cosines), 1.0, atol=1e-12)
    ranked = nearest_tokens(model, ord("x"), k=4, candidates=range(97, 123))
    brute = sorted((c for c in range(97, 123) if c != ord("x")),
                   key=lambda c: -cosines[ord("x"), c])[:4]
    assert [t for t, _ in ranked] == brute


def test_group_cohesion_is_the_mean_of_the_right_cosines():
    model = ToyModel(TOY, seed=3)
    cos = embedding_cosines(model)
    vowels = [ord(c) for c in "aeiou"]
    inside, outside = group_cohesion(model, {"vowels": vowels})["vowels"]
    pairs = [cos[a, b] for a in vowels for b in vowels if a != b]
    others = [t for t in range(32, 127) if t not in vowels]
    assert inside == pytest.approx(np.mean(pairs), rel=1e-12)
    assert outside == pytest.approx(cos[np.ix_(vowels, others)].mean(), rel=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda m: text_windows(m, "abc"), "at least window"),
    (lambda m: text_windows(m, 42), "text must be a str"),
    (lambda m: text_windows(m, TEXT, window=1), "window must be an integer in 2..1024"),
    (lambda m: text_windows(m, TEXT, max_windows=0), "max_windows"),
    (lambda m: nearest_tokens(m, 257), "token_id must be an integer in 0..256"),
    (lambda m: nearest_tokens(m, 5, k=0), "k must be an integer"),
    (lambda m: nearest_tokens(m, 5, candidates=[5, 300]), "candidates"),
    (lambda m: group_cohesion(m, {"one": [65]}), "at least 2 ids"),
    (lambda m: bits_per_byte("model", TEXT), "model must be a ToyModel"),
])
def test_bad_input_is_a_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(ToyModel(TOY, seed=0))
