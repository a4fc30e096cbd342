"""Tests for mini_vllm.simulate: determinism, bookkeeping, and Little's law on the finite run."""

import numpy as np
import pytest

from mini_vllm.simulate import poisson_arrivals, simulate_serving

SMALL = dict(rate_per_step=0.5, num_arrival_steps=20, prompt_len=(2, 6), max_tokens=(2, 5))


@pytest.fixture(scope="module")
def result():
    return simulate_serving(**SMALL, seed=3)


def test_littles_law_is_exact_over_the_window(result):
    n = result.mean_in_flight
    x_times_l = result.throughput_per_s * result.mean_latency_s
    assert n == pytest.approx(x_times_l, rel=1e-12)


def test_little_in_integer_steps(result):
    # sum over steps of requests present == sum over requests of steps present
    assert result.in_flight.sum() == result.latency_steps.sum()


def test_every_request_finishes_inside_the_window(result):
    assert result.num_requests > 0
    assert (result.finish_step >= result.arrival_step).all()
    assert result.finish_step.max() == result.num_steps - 1
    assert result.completions.sum() == result.num_requests


def test_in_flight_matches_arrivals_minus_departures(result):
    arrived = np.array([(result.arrival_step <= t).sum() for t in range(result.num_steps)])
    left_before = np.array([(result.finish_step < t).sum() for t in range(result.num_steps)])
    np.testing.assert_array_equal(result.in_flight, arrived - left_before)


def test_deterministic_for_a_seed():
    a = simulate_serving(**SMALL, seed=7)
    b = simulate_serving(**SMALL, seed=7)
    np.testing.assert_array_equal(a.in_flight, b.in_flight)
    np.testing.assert_array_equal(a.finish_step, b.finish_step)
    np.testing.assert_array_equal(a.tokens_per_step, b.tokens_per_step)


def test_token_budget_caps_tokens_per_step():
    r = simulate_serving(**SMALL, seed=3, max_num_batched_tokens=4)
    assert r.tokens_per_step.max() <= 4
    assert r.in_flight.sum() == r.latency_steps.sum()


def test_step_time_scales_seconds_not_steps():
    a = simulate_serving(**SMALL, seed=3, step_time_s=0.05)
    b = simulate_serving(**SMALL, seed=3, step_time_s=0.10)
    np.testing.assert_array_equal(a.latency_steps, b.latency_steps)
    assert b.mean_latency_s == pytest.approx(2 * a.mean_latency_s)
    assert b.throughput_per_s == pytest.approx(a.throughput_per_s / 2)


def test_poisson_arrivals_mean_and_validation():
    counts = poisson_arrivals(2.0, 20_000, np.random.default_rng(0))
    assert counts.mean() == pytest.approx(2.0, rel=0.03)
    with pytest.raises(ValueError):
        poisson_arrivals(-1.0, 5, np.random.default_rng(0))


def _engine_with(prompt_len, max_tokens, budget=None):
    from mini_vllm.engine import LLMEngine
    from mini_vllm.sampler import SamplingParams

    engine = LLMEngine(seed=0, max_num_batched_tokens=budget)
    engine.add_request([65] * prompt_len, SamplingParams(temperature=0.0, max_tokens=max_tokens,
                                                        ignore_eos=True))
    return engine


def test_trace_counters_prefill_then_decode():
    from mini_vllm.simulate import trace_counters

    rows = trace_counters(_engine_with(10, 4))
    assert [r.num_scheduled_tokens for r in rows] == [10, 1, 1, 1]
    assert [r.num_computed_tokens for r in rows] == [10, 11, 12, 13]
    assert [r.num_tokens for r in rows] == [11, 12, 13, 14]
    assert all(r.num_new_tokens == 1 for r in rows)
    assert rows[-1].status == "FINISHED_LENGTH"


def test_trace_counters_chunked_prefill_respects_budget():
    from mini_vllm.simulate import trace_counters

    rows = trace_counters(_engine_with(20, 3, budget=6))
    assert [r.num_scheduled_tokens for r in rows] == [6, 6, 6, 2, 1, 1]
    assert [r.sampled_token_id is not None for r in rows] == [False] * 3 + [True] * 3
    assert (rows[-1].num_tokens, rows[-1].num_computed_tokens) == (23, 22)


def test_phases_and_table():
    from mini_vllm.simulate import format_counter_table, trace_counters
    from mini_vllm.tokenizer import ByteTokenizer

    rows = trace_counters(_engine_with(20, 2, budget=8))
    assert [r.phase for r in rows] == ["prefill (chunk)"] * 3 + ["decode"]  # the last chunk too
    whole = trace_counters(_engine_with(20, 2, budget=None))
    assert [r.phase for r in whole] == ["prefill", "decode"]
    table = format_counter_table(rows, ByteTokenizer())
    assert len(table.splitlines()) == len(rows) + 1
    assert "prefill (chunk)" in table


def test_table_fits_in_80_columns():
    from mini_vllm.simulate import format_counter_table, trace_counters
    from mini_vllm.tokenizer import ByteTokenizer

    table = format_counter_table(trace_counters(_engine_with(12, 3, budget=5)), ByteTokenizer())
    assert max(len(line) for line in table.splitlines()) <= 80
    assert table.splitlines()[-1].endswith("done")


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None)
@given(rate=st.floats(0.0, 1.5), steps=st.integers(1, 12), seed=st.integers(0, 10_000),
       budget=st.one_of(st.none(), st.integers(1, 12)), step_time_s=st.floats(0.001, 1.0))
def test_littles_law_holds_for_any_drained_run(rate, steps, seed, budget, step_time_s):
    r = simulate_serving(rate_per_step=rate, num_arrival_steps=steps, prompt_len=(1, 5),
                         max_tokens=(1, 4), seed=seed, max_num_batched_tokens=budget,
                         step_time_s=step_time_s)
    assert r.in_flight.sum() == r.latency_steps.sum()
    if r.num_requests:
        assert r.mean_in_flight == pytest.approx(r.throughput_per_s * r.mean_latency_s, rel=1e-12)
        if budget is not None:
            assert r.tokens_per_step.max() <= budget


def test_no_arrivals_is_an_empty_but_valid_run():
    r = simulate_serving(rate_per_step=0.0, num_arrival_steps=5)
    assert r.num_requests == 0 and r.mean_in_flight == 0.0 and r.throughput_per_s == 0.0
    assert np.isnan(r.mean_latency_s)
