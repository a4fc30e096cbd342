"""Request: one prompt being generated, with vLLM v1's two counters.

``num_tokens`` is every token the request has (prompt + output); ``num_computed_tokens`` is how
many of them the model has already processed (their K/V are in the cache). The scheduler's one
rule is to compute ``num_tokens - num_computed_tokens`` more: the whole prompt at first (prefill),
one token after each sample (decode), or a slice of a long prompt under a token budget.

References:
    vLLM v1 Request: vllm/v1/request.py
"""

from __future__ import annotations

import enum

import numpy as np

from .kv_cache import KVCache
from .sampler import SamplingParams


def _check_index(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or \
            value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


def _as_list(ids) -> list | None:
    """list(ids), or None when ids is not iterable."""
    try:
        return list(ids)
    except TypeError:
        return None


class RequestStatus(enum.Enum):
    """Where a request is in its life."""

    WAITING = "waiting"  # added, nothing computed yet
    RUNNING = "running"  # scheduled at least once
    FINISHED_STOPPED = "finished_stopped"  # sampled EOS
    FINISHED_LENGTH = "finished_length"  # reached max_tokens (or the model's context length)

    @property
    def is_finished(self) -> bool:
        """True for both finished states."""
        return self in (RequestStatus.FINISHED_STOPPED, RequestStatus.FINISHED_LENGTH)


class Request:
    """A prompt, its generated tokens, the two counters and its sampling state."""

    def __init__(self, request_id: str, prompt_token_ids: list[int],
                 sampling_params: SamplingParams, *, eos_token_id: int | None = 256,
                 prompt: str | None = None):
        if not isinstance(request_id, str) or not request_id:
            raise ValueError(f"request_id must be a non-empty str; got {request_id!r}")
        ids = None if isinstance(prompt_token_ids, (str, bytes)) else _as_list(prompt_token_ids)
        if not ids or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                              and i >= 0 for i in ids):
            raise ValueError(f"prompt_token_ids must be a non-empty list of ints >= 0; "
                             f"got {prompt_token_ids!r:.80}")
        if not isinstance(sampling_params, SamplingParams):
            raise ValueError(f"sampling_params must be SamplingParams; got "
                             f"{type(sampling_params).__name__}")
        if eos_token_id is not None:
            _check_index("eos_token_id", eos_token_id)
        if prompt is not None and not isinstance(prompt, str):
            raise ValueError(f"prompt must be None or a str; got {type(prompt).__name__}")
        self.request_id = request_id
        self.prompt = prompt
        self.prompt_token_ids = [int(i) for i in ids]
        self.output_token_ids: list[int] = []
        self.sampling_params = sampling_params
        self.eos_token_id = eos_token_id
        self.status = RequestStatus.WAITING
        self.num_computed_tokens = 0
        self.num_processed_tokens = 0  # tokens pushed through the model for this request, all steps
        self.kv_cache: KVCache | None = None  # set by the engine
        self.generator: np.random.Generator | None = None  # set by the engine

    @property
    def max_tokens(self) -> int:
        """Most output tokens this request may produce."""
        return self.sampling_params.max_tokens

    @property
    def num_prompt_tokens(self) -> int:
        """Length of the prompt."""
        return len(self.prompt_token_ids)

    @property
    def num_output_tokens(self) -> int:
        """Tokens generated so far."""
        return len(self.output_token_ids)

    @property
    def num_tokens(self) -> int:
        """Prompt plus output tokens."""
        return len(self.prompt_token_ids) + len(self.output_token_ids)

    @property
    def num_new_tokens(self) -> int:
        """Tokens still to compute: num_tokens - num_computed_tokens."""
        return self.num_tokens - self.num_computed_tokens

    @property
    def all_token_ids(self) -> list[int]:
        """Prompt then output ids."""
        return self.prompt_token_ids + self.output_token_ids

    def token_ids(self, start: int, stop: int) -> list[int]:
        """all_token_ids[start:stop] without building the whole list (decode asks for one id)."""
        _check_index("start", start)
        _check_index("stop", stop)
        p = self.num_prompt_tokens
        if start >= p:
            return self.output_token_ids[start - p:stop - p]
        return self.prompt_token_ids[start:stop] + self.output_token_ids[:max(0, stop - p)]

    @property
    def is_finished(self) -> bool:
        """True once EOS or a length limit ended the request."""
        return self.status.is_finished

    @property
    def finish_reason(self) -> str | None:
        """'stop' (EOS), 'length' (max_tokens) or None while running, as in vLLM."""
        return {RequestStatus.FINISHED_STOPPED: "stop",
                RequestStatus.FINISHED_LENGTH: "length"}.get(self.status)

    def append_output_token(self, token_id: int, max_model_len: int | None = None) -> None:
        """Record a sampled token and finish the request on EOS or a length limit."""
        _check_index("token_id", token_id)
        if max_model_len is not None:
            _check_index("max_model_len", max_model_len, minimum=1)
        self.output_token_ids.append(int(token_id))
        if token_id == self.eos_token_id and not self.sampling_params.ignore_eos:
            self.status = RequestStatus.FINISHED_STOPPED
        elif self.num_output_tokens >= self.max_tokens or \
                (max_model_len is not None and self.num_tokens >= max_model_len):
            self.status = RequestStatus.FINISHED_LENGTH

    def __repr__(self) -> str:
        return (f"Request({self.request_id!r}, status={self.status.name}, num_tokens="
                f"{self.num_tokens}, num_computed_tokens={self.num_computed_tokens})")
