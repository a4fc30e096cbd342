"""Lab 1 starter: greedy generation with and without a KV cache, and the work each one does.

Convention: "work" is the number of tokens pushed through the model. Replace each
``raise NotImplementedError(...)`` with your code and grade yourself with
``LAB_IMPL=starter pytest labs/lab01_kv_cache_speedup -q``. README.md has the background.

The generate functions take any ToyModel: the random ``ToyModel(TOY, seed=0)``, or the small model
trained on Shakespeare's plays that ships with mini_vllm, whose greedy text you can read (its
context is 256 tokens: keep prompt + new tokens within it). From the repository root:

    from mini_vllm import ByteTokenizer, load_pretrained
    from labs.lab01_kv_cache_speedup.starter import generate_with_cache, generate_without_cache

    tok, model = ByteTokenizer(), load_pretrained()
    ids, work = generate_with_cache(model, tok.encode("ROMEO:"), 60)
    print(tok.decode(ids), work)  # the same text, and more work, from generate_without_cache
"""

from __future__ import annotations

import numpy as np

from mini_vllm.model import ToyModel


def generate_without_cache(model: ToyModel, prompt_token_ids: list[int],
                           num_new_tokens: int) -> tuple[list[int], int]:
    """Greedy tokens and the work done when every step recomputes the whole sequence."""
    # TODO: repeat num_new_tokens times:
    #   logits = model.forward([(token_ids, model.new_cache())], last_token_only=True)[0]
    #   (a fresh, empty cache every step: all K and V are recomputed), add len(token_ids) to the
    #   work, append int(np.argmax(logits[-1])) to token_ids.
    # Return (the generated ids only, work).
    raise NotImplementedError("Lab 1: generate_without_cache is not implemented yet")


def generate_with_cache(model: ToyModel, prompt_token_ids: list[int],
                        num_new_tokens: int) -> tuple[list[int], int]:
    """Greedy tokens and the work done when K and V of past tokens are kept in a KVCache."""
    # TODO: make ONE cache = model.new_cache() before the loop. The first forward gets the whole
    #   prompt (prefill); every later forward gets only [the token just generated] (decode).
    #   The cache keeps the K and V of everything already seen. Count len(new ids) as work.
    raise NotImplementedError("Lab 1: generate_with_cache is not implemented yet")


def work_without_cache(prompt_len: int, num_generated: int) -> int:
    """Tokens processed without a cache: sum over k < n of (P + k) = n*P + n*(n-1)/2."""
    # TODO: closed form, integers only (use // for the division by 2).
    raise NotImplementedError("Lab 1: work_without_cache is not implemented yet")


def work_with_cache(prompt_len: int, num_generated: int) -> int:
    """Tokens processed with a cache: the prompt once, then n - 1 fed-back tokens."""
    # TODO: why n - 1 and not n? The last generated token is returned, never fed back in.
    raise NotImplementedError("Lab 1: work_with_cache is not implemented yet")


def speedup(prompt_len: int, num_generated: int) -> float:
    """How many times less work the cache does (grows like n/2 for a fixed prompt)."""
    # TODO: one line, using the two functions above.
    raise NotImplementedError("Lab 1: speedup is not implemented yet")


def first_n_exceeding(ratio: float, prompt_len: int) -> int:
    """The smallest number of generated tokens n whose speed-up is strictly above ``ratio``."""
    # TODO: try n = 1, 2, 3, ... Compare work_without_cache > ratio * work_with_cache rather
    #   than dividing, so an exact tie (P = 1, n = 199 gives exactly 100x) is not "exceeding".
    raise NotImplementedError("Lab 1: first_n_exceeding is not implemented yet")
