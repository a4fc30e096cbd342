"""Lab 1 spec: the KV cache changes the work, never the tokens.

Convention (the same as mini_vllm.engine): work = tokens pushed through the model. Without a
cache step k runs P + k tokens; with one, the prompt runs once and each new token except the
last is fed back once. For P = 5, n = 10: 95 vs 14. The tokens are checked on the random toy
model and on the small trained model that ships with mini_vllm (``load_pretrained()``).
"""

import math

import pytest

from mini_vllm.config import TOY, TOY_MHA, TOY_MQA
from mini_vllm.engine import LLMEngine, count_work
from mini_vllm.model import ToyModel
from mini_vllm.pretrained import load_pretrained
from mini_vllm.sampler import SamplingParams
from mini_vllm.tokenizer import ByteTokenizer

PROMPTS = ["Hello", "The capital of France is", "a"]


@pytest.fixture(scope="module")
def model():
    return ToyModel(TOY, seed=0)


@pytest.fixture(scope="module")
def trained_model():
    return load_pretrained()  # byte-level Llama trained on Shakespeare; context 256 tokens


def test_work_without_cache_for_the_five_token_prompt(lab):
    assert lab.work_without_cache(5, 10) == 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14 == 95, \
        "step k (k = 0..9) runs the whole sequence so far: 5 + k tokens"
    assert lab.work_without_cache(5, 1) == 5  # one step: just the prompt


def test_work_with_cache_for_the_five_token_prompt(lab):
    assert lab.work_with_cache(5, 10) == 5 + 9 == 14, \
        "the prompt once (5) plus 9 fed-back tokens: the 10th token is returned, never fed back in"
    assert lab.work_with_cache(5, 1) == 5  # one step: just the prompt (prefill)


@pytest.mark.parametrize("prompt_len", [1, 5, 17])
def test_work_formulas_match_the_step_by_step_sum(lab, prompt_len):
    for n in range(1, 40):
        assert lab.work_without_cache(prompt_len, n) == sum(prompt_len + k for k in range(n))
        assert lab.work_with_cache(prompt_len, n) == sum([prompt_len] + [1] * (n - 1))
        assert (lab.work_without_cache(prompt_len, n), lab.work_with_cache(prompt_len, n)) == \
            count_work(prompt_len, n)  # the engine's own closed form


@pytest.mark.parametrize("text", PROMPTS)
def test_tokens_identical_with_and_without_cache(lab, model, text):
    prompt = ByteTokenizer().encode(text)
    tokens_cached, _ = lab.generate_with_cache(model, prompt, 12)
    tokens_uncached, _ = lab.generate_without_cache(model, prompt, 12)
    assert len(tokens_cached) == 12
    assert tokens_cached == tokens_uncached, "the cache must not change a single token"


@pytest.mark.parametrize("config", [TOY, TOY_MHA, TOY_MQA], ids=lambda c: c.name)
def test_tokens_identical_for_mha_gqa_and_mqa(lab, config):
    model, prompt = ToyModel(config, seed=3), ByteTokenizer().encode("KV heads")
    cached, _ = lab.generate_with_cache(model, prompt, 8)
    assert cached == lab.generate_without_cache(model, prompt, 8)[0]


def test_trained_model_gives_the_same_readable_text(lab, trained_model):
    tok, n = ByteTokenizer(), 60
    prompt = tok.encode("ROMEO:")
    tokens_cached, work_cached = lab.generate_with_cache(trained_model, prompt, n)
    tokens_uncached, work_uncached = lab.generate_without_cache(trained_model, prompt, n)
    assert tokens_cached == tokens_uncached, "the cache must not change a single token"
    assert (work_uncached, work_cached) == count_work(len(prompt), n)
    text = tok.decode(tokens_cached)
    # Readable: plain ASCII letters, punctuation, spaces and newlines, mostly letters.
    assert all(t == 10 or 32 <= t < 127 for t in tokens_cached), repr(text)
    assert sum(ch.isalpha() for ch in text) >= len(text) / 2, repr(text)


def test_generation_counts_its_own_work(lab, model):
    prompt = ByteTokenizer().encode("The capital of France is")  # P = 24 bytes
    _, work_cached = lab.generate_with_cache(model, prompt, 10)
    _, work_uncached = lab.generate_without_cache(model, prompt, 10)
    assert work_cached == lab.work_with_cache(len(prompt), 10) == 24 + 9
    assert work_uncached == lab.work_without_cache(len(prompt), 10) == 10 * 24 + 45


@pytest.mark.parametrize("use_kv_cache", [True, False])
def test_engine_counters_agree_with_your_counts(lab, model, use_kv_cache):
    prompt, n = ByteTokenizer().encode("Hello"), 10
    engine = LLMEngine(model=model, use_kv_cache=use_kv_cache)
    out = engine.generate([prompt], SamplingParams(temperature=0.0, max_tokens=n, ignore_eos=True))[0]
    generate = lab.generate_with_cache if use_kv_cache else lab.generate_without_cache
    tokens, work = generate(model, prompt, n)
    assert tokens == out.token_ids, "your greedy tokens differ from the engine's"
    expected = lab.work_with_cache(5, n) if use_kv_cache else lab.work_without_cache(5, n)
    assert work == expected == out.num_processed_tokens == engine.stats.total_tokens_processed


def test_speedup_grows_like_n_over_2(lab):
    for prompt_len in (1, 5, 100):
        for n in (1, 10, 1000, 10**6):
            # Exact: speedup = n/2 + P*n / (2*(P + n - 1)), so speedup - n/2 -> P/2.
            exact = n / 2 + prompt_len * n / (2 * (prompt_len + n - 1))
            assert math.isclose(lab.speedup(prompt_len, n), exact, rel_tol=1e-12)
        assert math.isclose(lab.speedup(prompt_len, 10**6) / (10**6 / 2), 1, rel_tol=1e-3)
    assert lab.speedup(5, 10) == 95 / 14
    assert round(lab.speedup(5, 1000), 2) == 502.49


def test_first_n_whose_speedup_exceeds_100x(lab):
    assert lab.first_n_exceeding(100, 5) == 196  # P = 5: 100.45x at n = 196
    assert lab.speedup(5, 196) > 100 >= lab.speedup(5, 195)  # 99.95x at n = 195
    assert lab.speedup(1, 199) == 100.0  # P = 1 reaches exactly 100x at 199 ...
    assert lab.first_n_exceeding(100, 1) == 200  # ... so "exceeds" first happens at 200
    assert lab.first_n_exceeding(100, 100) == 142
