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
