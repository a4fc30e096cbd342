"""KVCache: the keys and values one request has computed so far, per layer.

Each layer holds K and V of shape (num_kv_heads, num_tokens, head_dim) in the compute dtype, side
by side in one array (2, num_kv_heads, capacity, head_dim) so a new token is stored with one copy.
Storage grows by doubling so appending one token per decode step is amortised O(1).
``nbytes`` counts the tokens actually held (not the spare capacity), so it equals
``memory.kv_bytes_per_sequence(config, num_tokens, kv_dtype=config.dtype)``.

References:
    vLLM v1 KV cache manager (paged blocks; this is the unpaged, per-request version):
    https://docs.vllm.ai/en/latest/design/v1/prefix_caching.html
"""

from __future__ import annotations

import numpy as np

from .config import COMPUTE_DTYPES, ModelConfig


class KVCache:
    """Per-request, per-layer K and V, each (num_kv_heads, num_tokens, head_dim)."""

    def __init__(self, config: ModelConfig, capacity: int = 16):
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig; got {type(config).__name__}")
        if config.dtype not in COMPUTE_DTYPES:
            raise ValueError(f"KVCache needs a compute dtype in {COMPUTE_DTYPES}; "
                             f"config.dtype={config.dtype!r}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1; got {capacity!r}")
        capacity = min(capacity, config.max_position_embeddings)  # no request holds more
        self.config = config
        self.dtype = np.dtype(config.dtype)
        shape = (2, config.num_kv_heads, capacity, config.head_dim)  # [0] is K, [1] is V
        self._kv = [np.empty(shape, self.dtype) for _ in range(config.num_layers)]
        self._lengths = [0] * config.num_layers

    @property
    def num_tokens(self) -> int:
        """Tokens whose K and V are stored in every layer."""
        return min(self._lengths)

    @property
    def nbytes(self) -> int:
        """Exact bytes of K and V held: 2 * layers * kv_heads * head_dim * tokens * itemsize."""
        c = self.config
        return 2 * c.num_layers * c.num_kv_heads * c.head_dim * self.num_tokens * self.dtype.itemsize

    def append(self, layer: int, k: np.ndarray, v: np.ndarray) -> None:
        """Append new keys and values (num_kv_heads, T_new, head_dim) to one layer."""
        self._check_layer(layer)
        if not isinstance(k, np.ndarray) or not isinstance(v, np.ndarray):
            raise ValueError(f"k and v must be numpy arrays; got {type(k).__name__} and "
                             f"{type(v).__name__}")
        c = self.config
        expected = (c.num_kv_heads, k.shape[1] if k.ndim == 3 else -1, c.head_dim)
        if k.shape != expected or v.shape != expected:
            raise ValueError(f"k and v must have shape (num_kv_heads={c.num_kv_heads}, T_new, "
                             f"head_dim={c.head_dim}); got {k.shape} and {v.shape}")
        self._append(layer, np.stack((k, v)))

    def _append(self, layer: int, kv: np.ndarray) -> np.ndarray:
        """append() without the checks, for kv (2, num_kv_heads, T_new, head_dim) (the model's
        hot path); returns the layer's K and V so far as one view (2, num_kv_heads, T, head_dim)."""
        start = self._lengths[layer]
        end = start + kv.shape[2]
        if end > self._kv[layer].shape[2]:
            self._grow(layer, end)
        self._kv[layer][:, :, start:end] = kv
        self._lengths[layer] = end
        return self._kv[layer][:, :, :end]

    def keys(self, layer: int) -> np.ndarray:
        """All keys of ``layer``: a view (num_kv_heads, tokens_in_layer, head_dim)."""
        self._check_layer(layer)
        return self._kv[layer][0, :, :self._lengths[layer]]

    def values(self, layer: int) -> np.ndarray:
        """All values of ``layer``: a view (num_kv_heads, tokens_in_layer, head_dim)."""
        self._check_layer(layer)
        return self._kv[layer][1, :, :self._lengths[layer]]

    def clear(self) -> None:
        """Forget every token (the storage is kept for reuse)."""
        self._lengths = [0] * self.config.num_layers

    def _grow(self, layer: int, needed: int) -> None:
        old = self._kv[layer]
        new = np.empty(old.shape[:2] + (max(needed, 2 * old.shape[2]), old.shape[3]), self.dtype)
        new[:, :, :self._lengths[layer]] = old[:, :, :self._lengths[layer]]
        self._kv[layer] = new

    def _check_layer(self, layer: int) -> None:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or \
                not 0 <= layer < self.config.num_layers:
            raise ValueError(f"layer must be in 0..{self.config.num_layers - 1}; got {layer!r}")

    def __repr__(self) -> str:
        return f"KVCache(num_tokens={self.num_tokens}, nbytes={self.nbytes}, dtype={self.dtype})"
