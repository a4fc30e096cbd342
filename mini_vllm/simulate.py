"""Requests served step by step by the real ``LLMEngine``: counter traces and arrival simulations.

``trace_counters`` records vLLM's two counters of every request after every step. A discrete-time queueing experiment for Little's law (N = X * L): every engine step is one tick
of a clock of fixed length ``step_time_s``; a seeded Poisson draw decides how many requests join
before each tick; the engine then runs one ``step()`` over everything unfinished.

References:
    J. D. C. Little, "A proof for the queuing formula L = lambda W", Operations Research 9(3), 1961.
    vLLM v1 engine loop: vllm/v1/engine/core.py (EngineCore.step)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mini_vllm.config import TOY, ModelConfig
from mini_vllm.engine import LLMEngine
from mini_vllm.memory import _check_count, _check_positive
from mini_vllm.sampler import SamplingParams


@dataclass(frozen=True)
class SimulationResult:
    """What one run recorded; every time is a whole number of steps times ``step_time_s``."""

    step_time_s: float
    arrival_step: np.ndarray  # (num_requests,) step before which each request joined
    finish_step: np.ndarray  # (num_requests,) step during which each request finished
    in_flight: np.ndarray  # (num_steps,) requests in the system (queued or running) per step
    completions: np.ndarray  # (num_steps,) requests that finished during each step
    tokens_per_step: np.ndarray  # (num_steps,) tokens the engine computed in each step

    @property
    def num_requests(self) -> int:
        """How many requests arrived (all of them finish: the run drains the engine)."""
        return len(self.arrival_step)

    @property
    def num_steps(self) -> int:
        """Length of the observation window in steps (first step to the last completion)."""
        return len(self.in_flight)

    @property
    def window_s(self) -> float:
        """Length of the observation window in simulated seconds."""
        return self.num_steps * self.step_time_s

    @property
    def latency_steps(self) -> np.ndarray:
        """Steps each request spent in the system, counting its arrival and finishing steps."""
        return self.finish_step - self.arrival_step + 1

    @property
    def latency_s(self) -> np.ndarray:
        """Per-request latency in simulated seconds."""
        return self.latency_steps * self.step_time_s

    @property
    def mean_in_flight(self) -> float:
        """N: time-average number of requests in the system over the window."""
        return float(self.in_flight.mean())

    @property
    def throughput_per_s(self) -> float:
        """X: completed requests per simulated second over the window."""
        return self.num_requests / self.window_s

    @property
    def mean_latency_s(self) -> float:
        """L: mean time a request spends in the system, in simulated seconds (nan if none came)."""
        return float(self.latency_s.mean()) if self.num_requests else float("nan")

    @property
    def tokens_per_s(self) -> float:
        """Token throughput: tokens computed per simulated second over the window."""
        return float(self.tokens_per_step.sum()) / self.window_s


def poisson_arrivals(rate_per_step: float, num_steps: int, rng: np.random.Generator) -> np.ndarray:
    """Number of new requests before each of ``num_steps`` steps, Poisson with mean ``rate_per_step``."""
    _check_positive("rate_per_step", rate_per_step, allow_zero=True)
    _check_count("num_steps", num_steps, minimum=0)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    return rng.poisson(rate_per_step, size=num_steps)  # (num_steps,)


def _check_pair(name: str, pair, maximum: int | None = None) -> tuple[int, int]:
    """(low, high) with 1 <= low <= high (<= maximum): an inclusive range of lengths."""
    ok = isinstance(pair, tuple) and len(pair) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in pair)
    if not ok or not 1 <= pair[0] <= pair[1] or (maximum is not None and pair[1] > maximum):
        top = "" if maximum is None else f" <= {maximum}"
        raise ValueError(f"{name} must be a pair (low, high) of ints with 1 <= low <= high{top}; "
                         f"got {pair!r}")
    return pair


def _check_simulation(rate_per_step, num_arrival_steps, step_time_s, prompt_len, max_tokens,
                      seed, config, max_steps) -> None:
    """simulate_serving's arguments; the engine checks its own."""
    _check_positive("rate_per_step", rate_per_step, allow_zero=True)
    _check_count("max_steps", max_steps)
    if _check_count("num_arrival_steps", num_arrival_steps) > max_steps:
        raise ValueError(f"num_arrival_steps={num_arrival_steps} must be <= max_steps="
                         f"{max_steps} (the run lasts at least num_arrival_steps steps)")
    _check_positive("step_time_s", step_time_s)
    _check_count("seed", seed, minimum=0)
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config must be a ModelConfig; got {type(config).__name__}")
    # the longest prompt must leave room for one output token
    _check_pair("prompt_len", prompt_len, maximum=config.max_position_embeddings - 1)
    _check_pair("max_tokens", max_tokens)


def _random_request(rng: np.random.Generator, prompt_len: tuple[int, int],
                    max_tokens: tuple[int, int]) -> tuple[list[int], SamplingParams]:
    """A prompt of random bytes and greedy params with a fixed output length (EOS ignored)."""
    num_prompt = int(rng.integers(prompt_len[0], prompt_len[1] + 1))
    prompt_token_ids = rng.integers(0, 256, size=num_prompt).tolist()
    num_out = int(rng.integers(max_tokens[0], max_tokens[1] + 1))
    return prompt_token_ids, SamplingParams(temperature=0.0, max_tokens=num_out, ignore_eos=True)


def simulate_serving(*, rate_per_step: float = 0.4, num_arrival_steps: int = 60,
                     step_time_s: float = 0.05, prompt_len: tuple[int, int] = (4, 16),
                     max_tokens: tuple[int, int] = (4, 16), seed: int = 0,
                     config: ModelConfig = TOY, max_num_batched_tokens: int | None = None,
                     max_steps: int = 10_000) -> SimulationResult:
    """Feed Poisson arrivals into a real ``LLMEngine`` and record one row per step until drained.

    Arrivals happen only during the first ``num_arrival_steps`` steps; the run then continues
    until every request has finished, so the window holds every request from arrival to exit.
    """
    _check_simulation(rate_per_step, num_arrival_steps, step_time_s, prompt_len, max_tokens,
                      seed, config, max_steps)
    rng = np.random.default_rng(seed)
    arrivals = poisson_arrivals(rate_per_step, num_arrival_steps, rng)  # (num_arrival_steps,)
    engine = LLMEngine(config, seed=seed, max_num_batched_tokens=max_num_batched_tokens)
    arrival_step, finish_step, live = [], [], {}
    in_flight, completions, tokens = [], [], []
    step = 0
    while step < num_arrival_steps or live:
        if step >= max_steps:
            raise RuntimeError(f"simulation did not drain within max_steps={max_steps}")
        for _ in range(int(arrivals[step]) if step < num_arrival_steps else 0):
            request = engine.add_request(*_random_request(rng, prompt_len, max_tokens))
            live[len(arrival_step)] = request
            arrival_step.append(step)
            finish_step.append(-1)
        in_flight.append(len(live))
        tokens.append(engine.step().num_tokens_processed if live else 0)
        done = [i for i, request in live.items() if request.is_finished]
        for i in done:
            finish_step[i] = step
            del live[i]
        completions.append(len(done))
        step += 1
    return SimulationResult(step_time_s=step_time_s, arrival_step=np.array(arrival_step, dtype=int),
                            finish_step=np.array(finish_step, dtype=int),
                            in_flight=np.array(in_flight, dtype=int),
                            completions=np.array(completions, dtype=int),
                            tokens_per_step=np.array(tokens, dtype=int))




@dataclass(frozen=True)
class CounterRow:
    """One request's counters right after one engine step."""

    step: int
    request_id: str
    num_prompt_tokens: int
    num_scheduled_tokens: int  # tokens of this request the step computed (0: waited)
    num_tokens: int  # prompt + output tokens after the step
    num_computed_tokens: int  # tokens whose K/V are cached after the step
    sampled_token_id: int | None  # token appended in this step, if any
    status: str  # RequestStatus name after the step

    @property
    def num_new_tokens(self) -> int:
        """The gap the scheduler still has to close: num_tokens - num_computed_tokens."""
        return self.num_tokens - self.num_computed_tokens

    @property
    def phase(self) -> str:
        """'prefill', 'prefill (chunk)', 'decode' or 'waiting': what this step was.

        'prefill (chunk)' is any piece of a prompt split by the token budget, the last piece
        (the one that samples) included; 'prefill' is a whole prompt in one step.
        """
        if self.num_scheduled_tokens == 0:
            return "waiting"
        if self.num_computed_tokens - self.num_scheduled_tokens < self.num_prompt_tokens:
            return "prefill" if self.num_scheduled_tokens >= self.num_prompt_tokens else "prefill (chunk)"
        return "decode"


def trace_counters(engine: LLMEngine, max_steps: int = 10_000) -> list[CounterRow]:
    """Step ``engine`` until it is empty; one row per live request per step, in step order."""
    if not isinstance(engine, LLMEngine):
        raise ValueError(f"engine must be an LLMEngine; got {type(engine).__name__}")
    _check_count("max_steps", max_steps)
    rows = []
    for _ in range(max_steps):
        if not engine.has_unfinished_requests():
            return rows
        live = list(engine.requests)
        out = engine.step()
        rows += [CounterRow(out.step_index, r.request_id, r.num_prompt_tokens,
                            out.num_scheduled_tokens.get(r.request_id, 0), r.num_tokens,
                            r.num_computed_tokens, out.sampled_token_ids.get(r.request_id),
                            r.status.name) for r in live]
    raise RuntimeError(f"engine did not finish within max_steps={max_steps}")


def format_counter_table(rows: list[CounterRow], tokenizer=None) -> str:
    """A text table of ``rows`` (under 80 columns); sampled ids via ``tokenizer.token_str`` if given.

    Columns: step, request id, phase, tokens run this step, the two counters, their gap, the
    sampled token and the state after the step ('waiting', 'running' or 'done').
    """
    lines = [f"{'step':>4} {'req':>3} {'phase':>15} {'run':>4}  {'num_tokens':>10}  "
             f"{'num_computed':>12} {'gap':>3} {'sampled':>8}  state"]
    for r in rows:
        sampled = "" if r.sampled_token_id is None else (
            repr(tokenizer.token_str(r.sampled_token_id)) if tokenizer else str(r.sampled_token_id))
        state = "done" if r.status.startswith("FINISHED") else r.status.lower()
        lines.append(f"{r.step:>4} {r.request_id:>3} {r.phase:>15} {r.num_scheduled_tokens:>4}  "
                     f"{r.num_tokens:>10}  {r.num_computed_tokens:>12} {r.num_new_tokens:>3} "
                     f"{sampled:>8}  {state}")
    return "\n".join(lines)
