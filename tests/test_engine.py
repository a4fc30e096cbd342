"""Tests for mini_vllm.request and mini_vllm.engine: scheduling, counters, modes, batching."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_vllm.config import TOY, TOY_MHA, TOY_MQA
from mini_vllm.engine import LLMEngine, count_work
from mini_vllm.kv_cache import KVCache
from mini_vllm.model import ToyModel
from mini_vllm.request import Request, RequestStatus
from mini_vllm.sampler import SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=10, ignore_eos=True)


# ---- the counting convention -------------------------------------------------------------------
def test_count_work_syllabus_example():
    # 5-token prompt, 10 new tokens: 95 = 5 + 6 + ... + 14 without the cache; 14, not 15, with it
    assert count_work(5, 10) == (95, 14)
    assert count_work(5, 1) == (5, 5)
    assert sum(range(5, 15)) == 95


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300))
def test_count_work_closed_forms(p, n):
    no_cache, cached = count_work(p, n)
    assert no_cache == sum(p + k for k in range(n))
    assert cached == p + n - 1


@pytest.mark.parametrize("use_kv_cache", [True, False])
def test_engine_counters_match_count_work(use_kv_cache):
    engine = LLMEngine(use_kv_cache=use_kv_cache)
    out = engine.generate("Hello", SamplingParams(temperature=0.0, max_tokens=10, ignore_eos=True))[0]
    no_cache, cached = count_work(5, 10)
    expected = cached if use_kv_cache else no_cache
    assert out.num_processed_tokens == expected == engine.stats.total_tokens_processed
    assert len(out.token_ids) == 10 and out.finish_reason == "length"
    if use_kv_cache:
        assert engine.stats.tokens_processed_per_step == [5] + [1] * 9
    else:
        assert engine.stats.tokens_processed_per_step == list(range(5, 15))


def test_per_request_counters_in_a_batch():
    engine = LLMEngine()
    params = [SamplingParams(temperature=0.0, max_tokens=n, ignore_eos=True) for n in (3, 6)]
    outs = engine.generate(["abcd", "xy"], params)
    assert [o.num_processed_tokens for o in outs] == [count_work(4, 3)[1], count_work(2, 6)[1]]
    assert engine.stats.tokens_processed_per_step == [6, 2, 2, 1, 1, 1]
    assert engine.stats.num_requests_per_step == [2, 2, 2, 1, 1, 1]


# ---- cache vs no cache, same tokens ------------------------------------------------------------
@pytest.mark.parametrize("config", [TOY_MHA, TOY, TOY_MQA, TOY.replace(dtype="float64")])
def test_cached_and_uncached_engines_agree(config):
    prompts = ["The KV cache", "saves work", "!"]
    a = LLMEngine(config, use_kv_cache=True).generate(prompts, GREEDY)
    b = LLMEngine(config, use_kv_cache=False).generate(prompts, GREEDY)
    assert [o.token_ids for o in a] == [o.token_ids for o in b]
    assert [o.num_processed_tokens for o in b] == [count_work(len(p.encode()), 10)[0] for p in prompts]


def test_sampled_generation_same_with_and_without_cache():
    params = SamplingParams(temperature=0.9, top_k=50, top_p=0.95, max_tokens=12, seed=3)
    a = LLMEngine(use_kv_cache=True).generate("seeded", params)[0]
    b = LLMEngine(use_kv_cache=False).generate("seeded", params)[0]
    assert a.token_ids == b.token_ids


# ---- scheduling: one rule ------------------------------------------------------------------------
def test_prefill_then_decode_from_one_rule():
    engine = LLMEngine()
    req = engine.add_request("abcdef", SamplingParams(max_tokens=3, ignore_eos=True))
    assert req.status is RequestStatus.WAITING and req.num_new_tokens == 6
    out = engine.step()
    assert out.num_scheduled_tokens == {req.request_id: 6}
    assert req.status is RequestStatus.RUNNING
    assert req.num_computed_tokens == 6 and req.num_tokens == 7 and req.num_new_tokens == 1
    assert list(out.sampled_token_ids) == [req.request_id]
    engine.step()
    out = engine.step()
    assert out.finished_request_ids == [req.request_id] and req.is_finished
    assert not engine.has_unfinished_requests()
    assert engine.step().num_tokens_processed == 0


@pytest.mark.parametrize("budget", [1, 3, 7, 16])
def test_chunked_prefill_under_budget_matches_unchunked(budget):
    prompts = ["a longer prompt that needs chunks", "short"]
    ref = LLMEngine().generate(prompts, GREEDY)
    engine = LLMEngine(max_num_batched_tokens=budget)
    out = engine.generate(prompts, GREEDY)
    assert [o.token_ids for o in out] == [o.token_ids for o in ref]
    assert max(engine.stats.tokens_processed_per_step) <= budget
    assert engine.stats.total_tokens_processed == sum(o.num_processed_tokens for o in ref)


def test_chunked_prefill_steps():
    engine = LLMEngine(max_num_batched_tokens=4)
    req = engine.add_request("abcdefghij", SamplingParams(max_tokens=2, ignore_eos=True))
    sizes = []
    while engine.has_unfinished_requests():
        out = engine.step()
        sizes.append((out.num_scheduled_tokens[req.request_id], bool(out.sampled_token_ids)))
    assert sizes == [(4, False), (4, False), (2, True), (1, True)]


def test_mixed_prefill_and_decode_batch_equals_each_alone():
    alone = [LLMEngine().generate(p, GREEDY)[0].token_ids for p in ("first request", "second")]
    engine = LLMEngine()
    first = engine.add_request("first request", GREEDY)
    engine.step()
    engine.step()  # first is decoding now
    second = engine.add_request("second", GREEDY)
    out = engine.step()  # one decode token + a 6-token prefill in one forward
    assert out.num_scheduled_tokens == {first.request_id: 1, second.request_id: 6}
    while engine.has_unfinished_requests():
        engine.step()
    assert [first.output_token_ids, second.output_token_ids] == alone


# ---- stopping, seeds, outputs --------------------------------------------------------------------
def _eos_model(config=TOY):
    model = ToyModel(config)
    forward = model.forward

    def forced(batch, **kwargs):  # the real forward, with EOS made the best token
        logits = forward(batch, **kwargs)
        for row in logits:
            row[:, 256] = row.max() + 10
        return logits
    model.forward = forced
    return model


def test_stops_on_eos_unless_ignored():
    out = LLMEngine(model=_eos_model()).generate("hi", SamplingParams(temperature=0, max_tokens=5))[0]
    assert out.token_ids == [256] and out.finish_reason == "stop" and out.text == ""
    out = LLMEngine(model=_eos_model()).generate(
        "hi", SamplingParams(temperature=0, max_tokens=5, ignore_eos=True))[0]
    assert out.token_ids == [256] * 5 and out.finish_reason == "length"


def test_stops_at_context_length():
    config = TOY.replace(max_position_embeddings=8)
    out = LLMEngine(config).generate("abcde", SamplingParams(max_tokens=10, ignore_eos=True))[0]
    assert len(out.token_ids) == 3 and out.finish_reason == "length"


def test_seeded_requests_repeat_across_engines_and_batches():
    params = SamplingParams(temperature=1.0, max_tokens=8, seed=11, ignore_eos=True)
    model = ToyModel(TOY, seed=0)  # same weights; the engines' own sampling streams differ
    alone = LLMEngine(model=model, seed=1).generate("abc", params)[0].token_ids
    batched = LLMEngine(model=model, seed=2).generate(["zzz", "abc"], [SamplingParams(max_tokens=4), params])
    assert batched[1].token_ids == alone


def test_engine_seed_makes_unseeded_runs_deterministic():
    params = SamplingParams(temperature=1.0, max_tokens=8, ignore_eos=True)
    a = LLMEngine(seed=5).generate(["x", "y"], params)
    b = LLMEngine(seed=5).generate(["x", "y"], params)
    assert [o.token_ids for o in a] == [o.token_ids for o in b]


def test_generate_accepts_ids_and_text_and_decodes():
    engine = LLMEngine()
    by_text = engine.generate("hello", GREEDY)[0]
    by_ids = engine.generate([104, 101, 108, 108, 111], GREEDY)[0]
    assert by_text.token_ids == by_ids.token_ids
    assert by_text.text == engine.tokenizer.decode(by_text.token_ids)
    assert by_text.prompt == "hello" and by_ids.prompt is None


def test_engine_uses_given_model():
    model = ToyModel(TOY_MQA, seed=4)
    engine = LLMEngine(model=model)
    assert engine.model is model and engine.config is TOY_MQA
    assert LLMEngine(seed=4).model.weights.embed[0, 0] == ToyModel(TOY, seed=4).weights.embed[0, 0]


def test_finished_request_releases_cache():
    engine = LLMEngine()
    req = engine.add_request("abc", SamplingParams(max_tokens=1))
    assert isinstance(req.kv_cache, KVCache)
    engine.step()
    assert req.is_finished and req.kv_cache is None


# ---- Request -------------------------------------------------------------------------------------
def test_request_counters_and_status():
    req = Request("r", [1, 2, 3], SamplingParams(max_tokens=2))
    assert (req.num_tokens, req.num_computed_tokens, req.num_new_tokens) == (3, 0, 3)
    req.num_computed_tokens = 3
    req.append_output_token(7)
    assert (req.num_tokens, req.num_new_tokens, req.all_token_ids) == (4, 1, [1, 2, 3, 7])
    assert not req.is_finished and req.finish_reason is None
    req.append_output_token(8)
    assert req.status is RequestStatus.FINISHED_LENGTH and req.finish_reason == "length"
    stop = Request("s", [1], SamplingParams())
    stop.append_output_token(256)
    assert stop.status is RequestStatus.FINISHED_STOPPED and stop.finish_reason == "stop"


# ---- bad input -----------------------------------------------------------------------------------
def test_bad_input():
    with pytest.raises(ValueError):
        Request("", [1], SamplingParams())
    with pytest.raises(ValueError):
        Request("r", [], SamplingParams())
    with pytest.raises(ValueError):
        Request("r", [1, -2], SamplingParams())
    with pytest.raises(ValueError):
        Request("r", [1], {"temperature": 0})
    with pytest.raises(ValueError, match="seed"):
        LLMEngine(seed=-1)
    with pytest.raises(ValueError, match="max_num_batched_tokens"):
        LLMEngine(max_num_batched_tokens=0)
    with pytest.raises(ValueError, match="use_kv_cache"):
        LLMEngine(use_kv_cache="yes")
    with pytest.raises(ValueError, match="model"):
        LLMEngine(model="toy")
    with pytest.raises(ValueError, match="differ"):
        LLMEngine(TOY_MHA, model=ToyModel(TOY))
    engine = LLMEngine()
    with pytest.raises(ValueError, match="empty"):
        engine.add_request("")
    with pytest.raises(ValueError, match="300"):
        engine.add_request([1, 300])
    with pytest.raises(ValueError):
        engine.add_request(3.5)
    with pytest.raises(ValueError, match="context"):
        engine.add_request("x" * TOY.max_position_embeddings)
    engine.add_request("a", request_id="same")
    with pytest.raises(ValueError, match="same"):
        engine.add_request("b", request_id="same")
    with pytest.raises(ValueError):
        engine.generate([])
    with pytest.raises(ValueError, match="2 SamplingParams"):
        engine.generate(["a"], [SamplingParams(), SamplingParams()])
    with pytest.raises(ValueError, match="vocab"):
        LLMEngine(TOY.replace(vocab_size=1000)).add_request("text")
    with pytest.raises(ValueError):
        count_work(0, 3)
    with pytest.raises(ValueError):
        count_work(3, 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 20), st.integers(0, 20))
def test_request_token_ids_slice(start, length):
    req = Request("r", [1, 2, 3, 4, 5], SamplingParams())
    req.output_token_ids = [6, 7, 8]
    assert req.token_ids(start, start + length) == req.all_token_ids[start:start + length]


# ---- the benchmark's helpers (the benchmark itself is not a test) ------------------------------
def test_bench_helpers():
    from mini_vllm.bench import cache_speedup, decode_bytes_per_step
    weights = ToyModel(TOY).weights
    expected = weights.nbytes - weights.embed.nbytes + weights.embed[0].nbytes
    assert decode_bytes_per_step(weights) == expected
    tied = ToyModel(TOY.replace(tie_word_embeddings=True)).weights
    assert decode_bytes_per_step(tied) == tied.nbytes + tied.embed[0].nbytes
    result = cache_speedup(TOY, new_tokens=6)
    assert (result["no_cache_tokens"], result["cache_tokens"]) == count_work(16, 6)


def test_bench_rounds_alternate_and_keep_each_best():
    """best_interleaved takes every contender once per round, in an order that reverses each
    round, and keeps each one's fastest time."""
    from mini_vllm.bench import best_interleaved
    calls, times = [], {"a": iter([3.0, 1.0, 2.0]), "b": iter([5.0, 6.0, 4.0])}

    def run(name):
        def timed():
            calls.append(name)
            return next(times[name])
        return timed

    assert best_interleaved({"a": run("a"), "b": run("b")}, repeats=3) == {"a": 1.0, "b": 4.0}
    assert calls == ["a", "b", "b", "a", "a", "b"]


def test_bench_decode_run_times_only_decode_steps(monkeypatch):
    """decode_run starts its clock after the prefill and the first decode step, stops it after
    the timed steps, and every step runs the whole batch."""
    from mini_vllm import bench
    events, real_step, clock = [], LLMEngine.step, iter(range(100))

    def counting_step(self):
        events.append(f"step x{len(self.requests)}")
        return real_step(self)

    def fake_clock():
        events.append("clock")
        return float(next(clock))

    monkeypatch.setattr(LLMEngine, "step", counting_step)
    monkeypatch.setattr(bench.time, "perf_counter", fake_clock)
    seconds = bench.decode_run(ToyModel(TOY), batch_size=3, steps=4, rng=np.random.default_rng(0))()
    assert events == ["step x3"] * 2 + ["clock"] + ["step x3"] * 4 + ["clock"]
    assert seconds == 1.0
    monkeypatch.undo()
    run, nbytes = bench.matvec_run(nbytes=4 * 4096 * 8, calls=2)
    assert nbytes == 2 * 4 * 4096 * 8 and run() > 0
