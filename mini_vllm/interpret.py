"""Looking inside a trained model: held-out bits per byte, attention-head scores, embedding neighbours.

``bits_per_byte`` scores text over non-overlapping windows of the model's context (every byte
after the first of a window is predicted from the bytes before it in that window).
``head_scores`` measures three simple attention patterns on real text, per layer and head:
previous-token (weight on position i-1), first-token (weight on position 0 of the window) and
self (weight on position i), each averaged over queries i >= 1.

References:
    Olsson et al. (2022), "In-context learning and induction heads":
        https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/
    Voita et al. (2019), "Analyzing multi-head self-attention": https://arxiv.org/abs/1905.09418
"""

from __future__ import annotations

import numpy as np

from .model import ToyModel, softmax
from .tokenizer import ByteTokenizer

HEAD_PATTERNS = ("previous_token", "first_token", "self")


def _check_model(model) -> ToyModel:
    if not isinstance(model, ToyModel):
        raise ValueError(f"model must be a ToyModel; got {type(model).__name__}")
    return model


def text_windows(model: ToyModel, text: str, max_windows: int | None = None,
                 window: int | None = None) -> np.ndarray:
    """(n, window) byte ids of ``text`` cut into non-overlapping windows (default: the context)."""
    _check_model(model)
    if not isinstance(text, str):
        raise ValueError(f"text must be a str; got {type(text).__name__}")
    context = model.config.max_position_embeddings
    window = context if window is None else window
    if isinstance(window, bool) or not isinstance(window, int) or not 2 <= window <= context:
        raise ValueError(f"window must be an integer in 2..{context}; got {window!r}")
    if max_windows is not None and (isinstance(max_windows, bool) or
                                    not isinstance(max_windows, int) or max_windows < 1):
        raise ValueError(f"max_windows must be None or an integer >= 1; got {max_windows!r}")
    ids = np.array(ByteTokenizer().encode(text), dtype=np.int64)
    n = len(ids) // window
    if n < 1:
        raise ValueError(f"text has {len(ids)} bytes; at least window={window} are needed")
    n = n if max_windows is None else min(n, max_windows)
    return ids[:n * window].reshape(n, window)


def bits_per_byte(model: ToyModel, text: str, max_windows: int | None = None) -> float:
    """Mean -log2 p(next byte) over ``text`` in non-overlapping windows of the model's context."""
    windows = text_windows(model, text, max_windows)
    total, count = 0.0, 0
    for row in windows:
        (logits,) = model.forward([(row[:-1].tolist(), model.new_cache())])  # (T-1, vocab)
        logp = np.log(softmax(logits.astype(np.float64)))
        total -= logp[np.arange(len(row) - 1), row[1:]].sum()
        count += len(row) - 1
    return float(total / count / np.log(2))


def attention_maps(model: ToyModel, token_ids) -> np.ndarray:
    """Causal attention weights of one prompt: (num_layers, num_heads, T, T)."""
    _check_model(model)
    _, (maps,) = model.forward([(list(token_ids), model.new_cache())], return_attention=True)
    return maps


def head_scores(model: ToyModel, text: str, max_windows: int | None = 4,
                window: int | None = None) -> dict:
    """Per-head pattern scores on ``text``: {'previous_token', 'first_token', 'self'} ->
    (num_layers, num_heads) mean attention on position i-1, 0 and i, over queries i >= 1."""
    windows = text_windows(model, text, max_windows, window)
    sums = {name: 0.0 for name in HEAD_PATTERNS}
    for row in windows:
        maps = attention_maps(model, row)  # (L, H, T, T)
        i = np.arange(1, maps.shape[-1])
        sums["previous_token"] = sums["previous_token"] + maps[..., i, i - 1].mean(-1)
        sums["first_token"] = sums["first_token"] + maps[..., i, 0].mean(-1)
        sums["self"] = sums["self"] + maps[..., i, i].mean(-1)
    return {name: value / len(windows) for name, value in sums.items()}


def embedding_cosines(model: ToyModel) -> np.ndarray:
    """(vocab, vocab) cosine similarity between the rows of the input embedding table."""
    e = _check_model(model).weights.embed.astype(np.float64)
    unit = e / np.linalg.norm(e, axis=1, keepdims=True)
    return unit @ unit.T


def nearest_tokens(model: ToyModel, token_id: int, k: int = 5,
                   candidates=None) -> list[tuple[int, float]]:
    """The ``k`` tokens whose embeddings are closest (cosine) to ``token_id``'s: [(id, cos)]."""
    vocab = _check_model(model).config.vocab_size
    if isinstance(token_id, bool) or not isinstance(token_id, (int, np.integer)) \
            or not 0 <= token_id < vocab:
        raise ValueError(f"token_id must be an integer in 0..{vocab - 1}; got {token_id!r}")
    pool = np.arange(vocab) if candidates is None else np.asarray(list(candidates), dtype=np.int64)
    if pool.ndim != 1 or pool.size < 2 or pool.min() < 0 or pool.max() >= vocab:
        raise ValueError(f"candidates must hold at least 2 ids in 0..{vocab - 1}")
    pool = pool[pool != token_id]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(pool):
        raise ValueError(f"k must be an integer in 1..{len(pool)}; got {k!r}")
    cos = embedding_cosines(model)[token_id, pool]
    order = np.argsort(-cos, kind="stable")[:k]
    return [(int(pool[j]), float(cos[j])) for j in order]


def group_cohesion(model: ToyModel, groups: dict[str, list[int]], candidates=None) -> dict:
    """For each named group of ids: mean cosine within the group, and mean cosine from the group
    to the other ``candidates`` (default: the printable ASCII bytes)."""
    cos = embedding_cosines(_check_model(model))
    pool = np.arange(32, 127) if candidates is None else np.asarray(list(candidates))
    out = {}
    for name, ids in groups.items():
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.size < 2:
            raise ValueError(f"group {name!r} needs at least 2 ids")
        inside = cos[np.ix_(ids, ids)][~np.eye(len(ids), dtype=bool)].mean()
        others = np.setdiff1d(pool, ids)
        out[name] = (float(inside), float(cos[np.ix_(ids, others)].mean()))
    return out
