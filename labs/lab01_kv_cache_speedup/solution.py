"""Lab 1 reference: greedy generation with and without a KV cache, and the work each one does.

Convention: "work" is the number of tokens pushed through the model. Without a cache, step k
(k = 0..n-1) runs the whole sequence so far, P + k tokens; with a cache the prompt runs once
(P tokens) and each new token except the last is fed back once (n - 1 tokens).

The generate functions take any ToyModel: the random ``ToyModel(TOY, seed=0)``, or the small model
trained on Shakespeare's plays that ships with mini_vllm, ``mini_vllm.load_pretrained()``, whose
greedy output you can read (its context is 256 tokens: keep prompt + new tokens within it).

References:
    Pope et al., "Efficiently Scaling Transformer Inference" (2022): https://arxiv.org/abs/2211.05102
    mini_vllm.engine.count_work and LLMEngine(use_kv_cache=False): the same convention, counted.
"""

from __future__ import annotations

import numpy as np

from mini_vllm.model import ToyModel


def generate_without_cache(model: ToyModel, prompt_token_ids: list[int],
                           num_new_tokens: int) -> tuple[list[int], int]:
    """Greedy tokens and the work done when every step recomputes the whole sequence."""
    token_ids, work = list(prompt_token_ids), 0
    for _ in range(num_new_tokens):
        fresh_cache = model.new_cache()  # nothing kept: K and V of old tokens are recomputed
        logits = model.forward([(token_ids, fresh_cache)], last_token_only=True)[0]  # (1, vocab)
        work += len(token_ids)
        token_ids.append(int(np.argmax(logits[-1])))
    return token_ids[len(prompt_token_ids):], work


def generate_with_cache(model: ToyModel, prompt_token_ids: list[int],
                        num_new_tokens: int) -> tuple[list[int], int]:
    """Greedy tokens and the work done when K and V of past tokens are kept in a KVCache."""
    cache, new_ids, output, work = model.new_cache(), list(prompt_token_ids), [], 0
    for _ in range(num_new_tokens):
        logits = model.forward([(new_ids, cache)], last_token_only=True)[0]  # (1, vocab)
        work += len(new_ids)
        output.append(int(np.argmax(logits[-1])))
        new_ids = output[-1:]  # next step feeds only the token just generated
    return output, work


def work_without_cache(prompt_len: int, num_generated: int) -> int:
    """Tokens processed without a cache: sum over k < n of (P + k) = n*P + n*(n-1)/2."""
    return num_generated * prompt_len + num_generated * (num_generated - 1) // 2


def work_with_cache(prompt_len: int, num_generated: int) -> int:
    """Tokens processed with a cache: the prompt once, then n - 1 fed-back tokens."""
    return prompt_len + num_generated - 1


def speedup(prompt_len: int, num_generated: int) -> float:
    """How many times less work the cache does (grows like n/2 for a fixed prompt)."""
    return work_without_cache(prompt_len, num_generated) / work_with_cache(prompt_len, num_generated)


def first_n_exceeding(ratio: float, prompt_len: int) -> int:
    """The smallest number of generated tokens n whose speed-up is strictly above ``ratio``."""
    n = 1
    # Compare in integers (no-cache > ratio * cached) so the boundary is exact.
    while work_without_cache(prompt_len, n) <= ratio * work_with_cache(prompt_len, n):
        n += 1
    return n
