"""LLMEngine: schedule, run one batched forward, sample, append — the loop every server runs.

Each ``step()`` gives every unfinished request ``num_tokens - num_computed_tokens`` new tokens
(first come, first served) until ``max_num_batched_tokens`` is spent. A fresh prompt therefore
gets its whole prompt (prefill), a running request gets one token (decode), and a prompt longer
than the budget is split over several steps (chunked prefill): one rule, no special cases.
A request is sampled in the step where its last scheduled token reaches ``num_tokens``.

With ``use_kv_cache=False`` the engine has the same interface but throws the cache away after
every sample, so each step recomputes the whole sequence (the KV-cache lab's baseline).

Counting convention — "work" is the number of tokens pushed through the model:
* with the cache, generating n tokens from a P-token prompt processes P + (n - 1) tokens: the
  prompt once, then each sampled token except the last is fed back once (the last one is
  returned and never fed in);
* without it, step k (k = 0..n-1) processes the whole sequence so far, P + k tokens, in total
  sum_{k=0}^{n-1} (P + k) = n*P + n*(n - 1)/2.
For P = 5, n = 10 that is 95 without the cache and 14 with it. (The often-quoted "95 vs 15"
mixes conventions: 15 = P + n counts feeding the last token back too, and under that convention
the no-cache count would be sum_{k=0}^{n} (P + k) = 110.) ``count_work`` returns both numbers and
the tests check the engine's own counters against it.

References:
    vLLM v1 scheduler: vllm/v1/core/sched/scheduler.py
    nano-vllm: https://github.com/GeeeekExplorer/nano-vllm
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import TOY, ModelConfig
from .kv_cache import KVCache
from .model import ToyModel
from .request import Request, RequestStatus
from .sampler import Sampler, SamplingParams
from .tokenizer import ByteTokenizer


def count_work(prompt_len: int, num_generated: int) -> tuple[int, int]:
    """Tokens processed to generate ``num_generated`` tokens: (without cache, with cache)."""
    for name, value, minimum in (("prompt_len", prompt_len, 1), ("num_generated", num_generated, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    n, p = int(num_generated), int(prompt_len)
    return n * p + n * (n - 1) // 2, p + n - 1


@dataclass
class EngineStats:
    """Counters kept by the engine across steps."""

    tokens_processed_per_step: list[int] = field(default_factory=list)
    num_requests_per_step: list[int] = field(default_factory=list)

    @property
    def num_steps(self) -> int:
        """Steps that ran a forward pass."""
        return len(self.tokens_processed_per_step)

    @property
    def total_tokens_processed(self) -> int:
        """Tokens pushed through the model over all steps."""
        return sum(self.tokens_processed_per_step)


@dataclass
class StepOutput:
    """What one ``step()`` did."""

    step_index: int
    num_scheduled_tokens: dict[str, int]  # request_id -> tokens run this step
    sampled_token_ids: dict[str, int]  # request_id -> token sampled this step (if any)
    finished_request_ids: list[str]

    @property
    def num_tokens_processed(self) -> int:
        """Tokens pushed through the model in this step."""
        return sum(self.num_scheduled_tokens.values())


@dataclass
class RequestOutput:
    """The result of one finished (or running) request."""

    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    token_ids: list[int]  # generated ids (EOS included if it was sampled)
    text: str  # decoded generated text ('' when the vocabulary is not the byte tokenizer's)
    finish_reason: str | None  # 'stop', 'length' or None
    num_processed_tokens: int  # tokens this request pushed through the model


class LLMEngine:
    """A tiny vLLM-style engine over ``ToyModel``: add_request, step, generate."""

    def __init__(self, config: ModelConfig | None = None, *, seed: int = 0,
                 use_kv_cache: bool = True, max_num_batched_tokens: int | None = None,
                 model: ToyModel | None = None):
        if config is not None and not isinstance(config, ModelConfig):
            raise ValueError(f"config must be None or a ModelConfig; got {type(config).__name__}")
        if model is not None and not isinstance(model, ToyModel):
            raise ValueError(f"model must be a ToyModel; got {type(model).__name__}")
        if model is not None and config is not None and config != model.config:
            raise ValueError("config and model.config differ; pass one of them")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
        if not isinstance(use_kv_cache, bool):
            raise ValueError(f"use_kv_cache must be a bool; got {use_kv_cache!r}")
        if max_num_batched_tokens is not None and (
                isinstance(max_num_batched_tokens, bool) or
                not isinstance(max_num_batched_tokens, int) or max_num_batched_tokens < 1):
            raise ValueError(f"max_num_batched_tokens must be None or an integer >= 1; "
                             f"got {max_num_batched_tokens!r}")
        # Weights come from default_rng(seed) (same as ToyModel(config, seed=seed)); unseeded
        # requests draw from a separate stream so sampling never shifts the weights.
        if model is None:
            model = ToyModel(TOY if config is None else config, seed=int(seed))
        self.model = model
        self.config = self.model.config
        self.tokenizer = ByteTokenizer()
        self.use_kv_cache = use_kv_cache
        self.max_num_batched_tokens = max_num_batched_tokens
        self.rng = np.random.default_rng([int(seed), 1])
        self.sampler = Sampler()
        self.stats = EngineStats()
        self.requests: list[Request] = []  # unfinished, in arrival order (FCFS)
        self._next_id = 0

    # ---- adding work -------------------------------------------------------------------------
    def add_request(self, prompt: str | list[int], params: SamplingParams | None = None,
                    request_id: str | None = None) -> Request:
        """Queue a prompt (text or token ids); returns its Request."""
        params = SamplingParams() if params is None else params
        text = prompt if isinstance(prompt, str) else None
        ids = self._encode(prompt)
        if len(ids) >= self.config.max_position_embeddings:
            raise ValueError(f"prompt has {len(ids)} tokens; the model's context is "
                             f"{self.config.max_position_embeddings} (room for 1 output needed)")
        if request_id is None:
            request_id = str(self._next_id)
        self._next_id += 1
        if any(r.request_id == request_id for r in self.requests):
            raise ValueError(f"request_id {request_id!r} is already in use")
        request = Request(request_id, ids, params, prompt=text,
                          eos_token_id=self.tokenizer.eos_token_id)
        request.kv_cache = KVCache(self.config)
        request.generator = self.rng if params.seed is None else np.random.default_rng(params.seed)
        self.requests.append(request)
        return request

    def _encode(self, prompt) -> list[int]:
        if isinstance(prompt, str):
            if self.config.vocab_size != self.tokenizer.vocab_size:
                raise ValueError(f"text prompts need the byte vocabulary (257); this model has "
                                 f"vocab_size={self.config.vocab_size}: pass token ids")
            ids = self.tokenizer.encode(prompt)
        elif isinstance(prompt, (list, tuple, np.ndarray)):
            ids = [int(i) for i in self.model._check_ids(prompt)]
        else:
            raise ValueError(f"prompt must be a str or a list of token ids; got {type(prompt).__name__}")
        if not ids:
            raise ValueError("prompt is empty")
        return ids

    def has_unfinished_requests(self) -> bool:
        """True while some request still has tokens to generate."""
        return bool(self.requests)

    # ---- the loop ----------------------------------------------------------------------------
    def step(self) -> StepOutput:
        """Schedule, run one batched forward, sample the requests that are due, finish them."""
        scheduled = self._schedule()
        output = StepOutput(self.stats.num_steps, {r.request_id: n for r, n in scheduled}, {}, [])
        if not scheduled:
            return output
        batch = [(r.token_ids(r.num_computed_tokens, r.num_computed_tokens + n), r.kv_cache)
                 for r, n in scheduled]
        logits = self.model.forward(batch, last_token_only=True)  # list of (1, vocab)
        due = []
        for (request, n), row in zip(scheduled, logits):
            request.num_computed_tokens += n
            request.num_processed_tokens += n
            request.status = RequestStatus.RUNNING
            if request.num_computed_tokens == request.num_tokens:  # chunk reached the end: sample
                due.append((request, row[0]))
        self._sample_and_append(due, output)
        self.stats.tokens_processed_per_step.append(output.num_tokens_processed)
        self.stats.num_requests_per_step.append(len(scheduled))
        return output

    def _schedule(self) -> list[tuple[Request, int]]:
        budget = self.max_num_batched_tokens
        scheduled = []
        for request in self.requests:
            n = request.num_new_tokens if budget is None else min(request.num_new_tokens, budget)
            if n <= 0:
                break
            scheduled.append((request, n))
            budget = None if budget is None else budget - n
        return scheduled

    def _sample_and_append(self, due, output: StepOutput) -> None:
        if not due:
            return
        logits = np.stack([row for _, row in due])  # (num_due, vocab)
        tokens = self.sampler.sample(logits, [r.sampling_params for r, _ in due],
                                     [r.generator for r, _ in due])
        for (request, _), token in zip(due, tokens):
            request.append_output_token(int(token), self.config.max_position_embeddings)
            output.sampled_token_ids[request.request_id] = int(token)
            if not self.use_kv_cache:  # forget everything: the next step recomputes it all
                request.kv_cache.clear()
                request.num_computed_tokens = 0
            if request.is_finished:
                request.kv_cache = None  # free the memory, as vLLM frees the blocks
                output.finished_request_ids.append(request.request_id)
        self.requests = [r for r in self.requests if not r.is_finished]

    # ---- convenience -------------------------------------------------------------------------
    def generate(self, prompts, params: SamplingParams | list[SamplingParams] | None = None
                 ) -> list[RequestOutput]:
        """Add the prompts, step until they finish, return their outputs in the same order."""
        if isinstance(prompts, str) or (isinstance(prompts, (list, tuple)) and prompts and
                                        isinstance(prompts[0], (int, np.integer))):
            prompts = [prompts]
        if not isinstance(prompts, (list, tuple)) or not prompts:
            raise ValueError("prompts must be a str, a list of token ids, or a non-empty list of those")
        if params is None or isinstance(params, SamplingParams):
            params = [params] * len(prompts)
        if not isinstance(params, (list, tuple)):
            raise ValueError(f"params must be None, SamplingParams or a list of them; "
                             f"got {type(params).__name__}")
        if len(params) != len(prompts):
            raise ValueError(f"got {len(params)} SamplingParams for {len(prompts)} prompts")
        requests = [self.add_request(p, sp) for p, sp in zip(prompts, params)]
        while any(not r.is_finished for r in requests):
            self.step()
        return [self.output(r) for r in requests]

    def output(self, request: Request) -> RequestOutput:
        """A RequestOutput snapshot of ``request``."""
        if not isinstance(request, Request):
            raise ValueError(f"request must be a Request; got {type(request).__name__}")
        decodable = self.config.vocab_size == self.tokenizer.vocab_size
        return RequestOutput(
            request_id=request.request_id, prompt=request.prompt,
            prompt_token_ids=list(request.prompt_token_ids),
            token_ids=list(request.output_token_ids),
            text=self.tokenizer.decode(request.output_token_ids) if decodable else "",
            finish_reason=request.finish_reason,
            num_processed_tokens=request.num_processed_tokens)
