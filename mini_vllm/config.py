"""ModelConfig: one frozen, validated description of a decoder-only transformer.

The same type drives the toy numpy engine, the KV-memory calculator, the roofline and the
widgets, so a number on one page cannot disagree with a number on another.
Field names follow HF transformers / vLLM vocabulary (``hidden_size``, ``num_kv_heads``, ...).

References:
    HF transformers ``LlamaConfig``: https://huggingface.co/docs/transformers/model_doc/llama
    vLLM ``ModelConfig.get_head_size``: vllm/config/model.py
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

# Bytes per stored number. Canonical names first; aliases map onto them.
DTYPE_BYTES: dict[str, float] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "fp8": 1,
    "int8": 1,
    "int4": 0.5,
}
DTYPE_ALIASES: dict[str, str] = {
    "fp64": "float64",
    "fp32": "float32",
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
    "float8": "fp8",
}
# numpy can compute in these; the toy engine refuses anything else.
COMPUTE_DTYPES = ("float32", "float64")

MLP_TYPES = ("swiglu", "gelu")
NORM_TYPES = ("rmsnorm", "layernorm")
POSITION_EMBEDDINGS = ("rope", "learned")


def canonical_dtype(dtype: str, name: str = "dtype") -> str:
    """Return the canonical dtype name for ``dtype`` (e.g. 'bf16' -> 'bfloat16')."""
    if not isinstance(dtype, str):
        raise ValueError(f"{name} must be a string, one of {sorted(DTYPE_BYTES)}; got {dtype!r}")
    key = dtype.strip().lower()
    key = DTYPE_ALIASES.get(key, key)
    if key not in DTYPE_BYTES:
        known = sorted(DTYPE_BYTES) + sorted(DTYPE_ALIASES)
        raise ValueError(f"{name}={dtype!r} is not a known dtype; allowed: {', '.join(known)}")
    return key


def dtype_bytes(dtype: str, name: str = "dtype") -> float:
    """Bytes per number stored in ``dtype`` ('bfloat16' -> 2, 'fp8' -> 1, 'int4' -> 0.5)."""
    return DTYPE_BYTES[canonical_dtype(dtype, name)]


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")


def _check_real(name: str, value) -> None:
    """A finite number > 0 (a bool is not a number here)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Architecture of a decoder-only transformer (Llama-style by default)."""

    name: str = "custom"
    vocab_size: int
    hidden_size: int
    num_layers: int  # HF: num_hidden_layers
    num_heads: int  # query heads; HF: num_attention_heads
    num_kv_heads: int  # HF: num_key_value_heads; == num_heads is MHA, 1 is MQA
    head_dim: int | None = None  # None -> hidden_size // num_heads (Gemma-2 sets it explicitly)
    intermediate_size: int
    max_position_embeddings: int = 2048
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    tie_word_embeddings: bool = False
    dtype: str = "bfloat16"  # storage dtype of the weights; the toy engine computes in fp32/fp64

    # Variants that only change parameter counts (real models; the toy engine is plain Llama).
    attention_bias: bool = False  # Qwen2 has a bias on q, k and v
    attention_out_bias: bool = False  # a bias on the output projection too (GPT-2)
    mlp_type: str = "swiglu"  # 'gelu' for GPT-2 (two matrices with biases)
    norm_type: str = "rmsnorm"  # 'layernorm' has a bias as well as a weight
    position_embedding: str = "rope"  # 'learned' adds a (max_position_embeddings, hidden) table
    num_norms_per_layer: int = 2  # Gemma-2 has 4 (pre and post norms around attention and MLP)
    sliding_window: int | None = None  # informational: the calculators count the full context

    # Mixture of experts (Mixtral, DeepSeek-V3). num_experts == 0 means a dense MLP.
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int | None = None  # None -> intermediate_size
    num_shared_experts: int = 0
    first_k_dense_replace: int = 0  # DeepSeek: the first k layers keep a dense MLP

    # Multi-head latent attention (DeepSeek-V2/V3). kv_lora_rank == 0 means ordinary attention.
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ValueError(f"name must be a str; got {self.name!r}")
        for field in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads",
                      "intermediate_size", "max_position_embeddings", "num_norms_per_layer"):
            _check_int(field, getattr(self, field), 1)
        if self.head_dim is None:
            if self.hidden_size % self.num_heads:
                raise ValueError(
                    f"head_dim is not given and hidden_size={self.hidden_size} is not divisible by "
                    f"num_heads={self.num_heads}; pass head_dim explicitly")
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_heads)
        _check_int("head_dim", self.head_dim, 1)
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_kv_heads={self.num_kv_heads} must divide num_heads={self.num_heads} "
                f"(allowed: {[d for d in range(1, self.num_heads + 1) if self.num_heads % d == 0]})")
        _check_real("rope_theta", self.rope_theta)
        _check_real("rms_norm_eps", self.rms_norm_eps)
        for field in ("tie_word_embeddings", "attention_bias", "attention_out_bias"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"{field} must be a bool; got {getattr(self, field)!r}")
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype))
        for field, allowed in (("mlp_type", MLP_TYPES), ("norm_type", NORM_TYPES),
                               ("position_embedding", POSITION_EMBEDDINGS)):
            value = getattr(self, field)
            if not isinstance(value, str) or value not in allowed:
                raise ValueError(f"{field}={value!r}; allowed: {', '.join(allowed)}")
        self._check_moe_and_mla()
        if self.position_embedding == "rope" and self.head_dim % 2 and not self.is_mla:
            raise ValueError(f"head_dim={self.head_dim} must be even for RoPE (it rotates pairs)")

    def _check_moe_and_mla(self) -> None:
        for field in ("num_experts", "num_experts_per_tok", "num_shared_experts",
                      "first_k_dense_replace", "kv_lora_rank", "q_lora_rank",
                      "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
            _check_int(field, getattr(self, field), 0)
        if self.num_experts and not 1 <= self.num_experts_per_tok <= self.num_experts:
            raise ValueError(f"num_experts_per_tok={self.num_experts_per_tok} must be in "
                             f"1..num_experts={self.num_experts}")
        if self.first_k_dense_replace > self.num_layers:
            raise ValueError(f"first_k_dense_replace={self.first_k_dense_replace} must be in "
                             f"0..num_layers={self.num_layers}")
        if self.moe_intermediate_size is not None:
            _check_int("moe_intermediate_size", self.moe_intermediate_size, 1)
        if self.kv_lora_rank and not self.qk_rope_head_dim:
            raise ValueError("an MLA config (kv_lora_rank > 0) needs qk_rope_head_dim >= 1")
        if self.sliding_window is not None:
            _check_int("sliding_window", self.sliding_window, 1)

    # ---- derived values -------------------------------------------------------------------
    @property
    def is_mla(self) -> bool:
        """True for multi-head latent attention (the cache holds one latent per token)."""
        return self.kv_lora_rank > 0

    @property
    def is_moe(self) -> bool:
        """True when the MLP is a mixture of experts."""
        return self.num_experts > 0

    @property
    def num_queries_per_kv(self) -> int:
        """Query heads that share one KV head (1 for MHA, num_heads for MQA)."""
        return self.num_heads // self.num_kv_heads

    @property
    def attention_kind(self) -> str:
        """'MHA', 'GQA', 'MQA' or 'MLA'."""
        if self.is_mla:
            return "MLA"
        if self.num_kv_heads == self.num_heads:
            return "MHA"
        return "MQA" if self.num_kv_heads == 1 else "GQA"

    @property
    def q_size(self) -> int:
        """Width of all query heads together: num_heads * head_dim."""
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        """Width of the keys (or the values) of one token in one layer: num_kv_heads * head_dim."""
        return self.num_kv_heads * self.head_dim

    @property
    def dtype_bytes(self) -> float:
        """Bytes per weight in the storage dtype."""
        return DTYPE_BYTES[self.dtype]

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some fields changed (validated again)."""
        derived = self.head_dim == self.hidden_size // self.num_heads
        if derived and "head_dim" not in changes and ("num_heads" in changes or "hidden_size" in changes):
            # head_dim followed hidden_size // num_heads; keep following it.
            changes["head_dim"] = None
        return dataclasses.replace(self, **changes)


# ---- toy presets: what the book's engine actually runs -------------------------------------
# Byte vocabulary (256 bytes + EOS). Small enough that a forward pass takes well under 1 ms.
TOY = ModelConfig(
    name="toy", vocab_size=257, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
    intermediate_size=176,  # ~8/3 * hidden, rounded up to a multiple of 16, as Llama does
    max_position_embeddings=1024, rope_theta=10000.0, dtype="float32")
TOY_MHA = TOY.replace(name="toy-mha", num_kv_heads=4)
TOY_MQA = TOY.replace(name="toy-mqa", num_kv_heads=1)

# ---- benchmark preset: Llama-shaped and big enough that decode is memory-bound on a CPU -------
# ~246M parameters in float32 (~0.85 GB read per decode step without the embedding table), far
# larger than any CPU cache, so batch-1 decode speed is set by memory bandwidth as on a GPU.
# Shapes follow Llama's ratios: GQA with 4 query heads per KV head, intermediate ~2.75x hidden.
BENCH_LLAMA_200M = ModelConfig(
    name="bench-llama-200m", vocab_size=32000, hidden_size=1024, num_layers=16, num_heads=16,
    num_kv_heads=4, intermediate_size=2816, max_position_embeddings=2048, rope_theta=10000.0,
    dtype="float32")
