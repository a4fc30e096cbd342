"""KV-cache bytes, weight bytes, what fits on a GPU, and vLLM v1's own capacity figures.

Everything is derived from one ModelConfig: the parameter count reproduces the exact counts of
the HF checkpoints in data/models.json; the KV arithmetic counts K and V in every layer (or, for
MLA, the one compressed latent); the vLLM figures follow vLLM v1's block arithmetic line by line.

References:
    vLLM v1 KV cache sizing, vllm-project/vllm @ 001cabc1be16a59a70d720ed61a13b678c060a18:
        vllm/v1/core/kv_cache_utils.py (get_num_blocks, get_max_concurrency_for_kv_cache_config,
        _report_kv_cache_config), vllm/v1/kv_cache_interface.py (FullAttentionSpec,
        MLAAttentionSpec: page_size_bytes, max_memory_usage_bytes)
    PagedAttention (Kwon et al., 2023): https://arxiv.org/abs/2309.06180
    GQA (Ainslie et al., 2023): https://arxiv.org/abs/2305.13245
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from .config import ModelConfig, dtype_bytes
from .units import GiB


# ---- checks ---------------------------------------------------------------------------------
def _check_config(cfg) -> None:
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"cfg must be a ModelConfig; got {type(cfg).__name__}")


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


def _check_positive(name: str, value, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return value


def _bytes_per(cfg: ModelConfig, dtype: str | None, name: str) -> float:
    """Bytes per number in ``dtype``, or in the model's own dtype when it is None."""
    return dtype_bytes(cfg.dtype if dtype is None else dtype, name)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return value


def _exact(x: float) -> int | float:
    """An int when the value is whole (bytes of int4 data may be half-bytes)."""
    return int(x) if float(x).is_integer() else x


# ---- parameters -----------------------------------------------------------------------------
def _attention_params(cfg: ModelConfig) -> int:
    """Weights of one attention block (projections, biases, MLA's small norms)."""
    h = cfg.hidden_size
    if cfg.is_mla:
        qk_head = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
        if cfg.q_lora_rank:  # q goes through its own low-rank bottleneck, with an RMSNorm
            q = h * cfg.q_lora_rank + cfg.q_lora_rank + cfg.q_lora_rank * cfg.num_heads * qk_head
        else:
            q = h * cfg.num_heads * qk_head
        kv_a = h * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) + cfg.kv_lora_rank  # + its RMSNorm
        kv_b = cfg.kv_lora_rank * cfg.num_heads * (cfg.qk_nope_head_dim + cfg.v_head_dim)
        return q + kv_a + kv_b + cfg.num_heads * cfg.v_head_dim * h
    params = 2 * h * cfg.q_size + 2 * h * cfg.kv_size  # q, o and k, v
    if cfg.attention_bias:
        params += cfg.q_size + 2 * cfg.kv_size
    if cfg.attention_out_bias:
        params += h
    return params


def _mlp_params(cfg: ModelConfig, layer: int) -> int:
    """Weights of the MLP of `layer` (dense, or routed + shared experts + router)."""
    h = cfg.hidden_size
    if cfg.mlp_type == "gelu":  # up and down projections, each with a bias
        return 2 * h * cfg.intermediate_size + cfg.intermediate_size + h
    if not cfg.is_moe or layer < cfg.first_k_dense_replace:
        return 3 * h * cfg.intermediate_size  # gate, up, down
    expert = 3 * h * (cfg.moe_intermediate_size or cfg.intermediate_size)
    # The router is a (num_experts, hidden) matrix. DeepSeek-V3's e_score_correction_bias is a
    # *buffer* in HF transformers, so the checkpoint's parameter count leaves it out.
    return (cfg.num_experts + cfg.num_shared_experts) * expert + cfg.num_experts * h


def param_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Parameters by part: embedding, position, attention, mlp, norms, lm_head (all layers)."""
    _check_config(cfg)
    h, norm = cfg.hidden_size, 2 if cfg.norm_type == "layernorm" else 1  # LayerNorm has a bias
    return {
        "embedding": cfg.vocab_size * h,
        "position": cfg.max_position_embeddings * h if cfg.position_embedding == "learned" else 0,
        "attention": cfg.num_layers * _attention_params(cfg),
        "mlp": sum(_mlp_params(cfg, layer) for layer in range(cfg.num_layers)),
        "norms": (cfg.num_layers * cfg.num_norms_per_layer + 1) * norm * h,  # + the final norm
        "lm_head": 0 if cfg.tie_word_embeddings else cfg.vocab_size * h,
    }


def num_params(cfg: ModelConfig) -> int:
    """Exact parameter count (matches params_meta_device of every model in data/models.json).

    DeepSeek-V3: the 61 main layers only (the multi-token-prediction module of the HF checkpoint
    is not counted, as in the 671B of the paper) and without the routers' 58 x 256
    e_score_correction_bias values (HF registers them as buffers).
    """
    return sum(param_breakdown(cfg).values())


def num_active_params(cfg: ModelConfig) -> int:
    """Parameters used per token: a MoE model runs only num_experts_per_tok routed experts."""
    total = num_params(cfg)
    if not cfg.is_moe:
        return total
    expert = 3 * cfg.hidden_size * (cfg.moe_intermediate_size or cfg.intermediate_size)
    idle = cfg.num_experts - cfg.num_experts_per_tok
    return total - (cfg.num_layers - cfg.first_k_dense_replace) * idle * expert


def weight_bytes(cfg: ModelConfig, weight_dtype: str | None = None) -> int | float:
    """Bytes of all weights: num_params x bytes per weight (cfg.dtype unless given)."""
    _check_config(cfg)
    return _exact(num_params(cfg) * _bytes_per(cfg, weight_dtype, "weight_dtype"))


# ---- KV cache -------------------------------------------------------------------------------
def kv_values_per_token_per_layer(cfg: ModelConfig) -> int:
    """Numbers cached per token per layer: 2 x kv_heads x head_dim, or MLA's latent + rope key."""
    _check_config(cfg)
    if cfg.is_mla:  # vLLM MLAAttentionSpec: one "head" of kv_lora_rank + qk_rope_head_dim, no K/V
        return cfg.kv_lora_rank + cfg.qk_rope_head_dim
    return 2 * cfg.num_kv_heads * cfg.head_dim


def kv_bytes_per_token(cfg: ModelConfig, kv_dtype: str | None = None) -> int | float:
    """KV bytes one token occupies over all layers: 2 x layers x kv_heads x head_dim x bytes.

    MLA (DeepSeek) caches layers x (kv_lora_rank + qk_rope_head_dim) x bytes: no factor 2.
    The KV dtype defaults to the weights' dtype (vLLM's kv_cache_dtype='auto').
    """
    per_layer = kv_values_per_token_per_layer(cfg)
    return _exact(cfg.num_layers * per_layer * _bytes_per(cfg, kv_dtype, "kv_dtype"))


def kv_bytes_per_sequence(cfg: ModelConfig, num_tokens: int,
                          kv_dtype: str | None = None) -> int | float:
    """KV bytes of one sequence of num_tokens tokens (0 tokens hold 0 bytes)."""
    _check_count("num_tokens", num_tokens, minimum=0)
    return _exact(num_tokens * kv_bytes_per_token(cfg, kv_dtype))


def kv_bytes_total(cfg: ModelConfig, num_tokens: int, batch_size: int,
                   kv_dtype: str | None = None) -> int | float:
    """KV bytes of batch_size sequences of num_tokens tokens each."""
    _check_count("batch_size", batch_size)
    return _exact(batch_size * kv_bytes_per_sequence(cfg, num_tokens, kv_dtype))


# ---- what fits on a GPU ---------------------------------------------------------------------
def _memory_bytes(gpu) -> float:
    """Memory of a GPUSpec, a GPU name, or a plain number of bytes."""
    if isinstance(gpu, str):
        from .hardware import get_gpu
        gpu = get_gpu(gpu)
    memory = getattr(gpu, "memory_bytes", gpu)
    return _check_positive("gpu memory (bytes)", memory)


def free_kv_bytes(cfg: ModelConfig, gpu, *, num_gpus: int = 1,
                  gpu_memory_utilization: float = 0.9, weight_dtype: str | None = None,
                  reserve_bytes: float = 0) -> int:
    """Bytes left for the KV cache: memory x utilization x num_gpus - weights - reserve.

    ``gpu`` is a GPUSpec, a GPU name or a number of bytes. The default utilization 0.9 is vLLM's
    ``gpu_memory_utilization`` default; pass 1.0 for the napkin "memory minus weights".
    ``reserve_bytes`` (default 0) stands for activations, CUDA graphs and other overhead, which
    vLLM measures by profiling and this calculator cannot know. Floored to whole bytes.
    """
    _check_count("num_gpus", num_gpus)
    if not 0 < _check_positive("gpu_memory_utilization", gpu_memory_utilization) <= 1:
        raise ValueError(
            f"gpu_memory_utilization must be in (0, 1]; got {gpu_memory_utilization!r}")
    _check_positive("reserve_bytes", reserve_bytes, allow_zero=True)
    budget = _memory_bytes(gpu) * gpu_memory_utilization * num_gpus
    weights = weight_bytes(cfg, weight_dtype)
    free = budget - weights - reserve_bytes
    if free < 0:
        raise ValueError(
            f"the weights of {cfg.name} ({weights / GiB:,.2f} GiB) plus reserve_bytes "
            f"({reserve_bytes / GiB:,.2f} GiB) do not fit in {num_gpus} GPU(s) x "
            f"{_memory_bytes(gpu) / GiB:,.2f} GiB x gpu_memory_utilization "
            f"{gpu_memory_utilization} = {budget / GiB:,.2f} GiB; use more GPUs, a smaller "
            f"weight_dtype or a higher gpu_memory_utilization")
    return math.floor(free)


def max_sequences_naive(cfg: ModelConfig, gpu, num_tokens: int, *, kv_dtype: str | None = None,
                        **free_kwargs) -> int:
    """Whole sequences of num_tokens tokens that fit in the free KV memory (floor, no paging)."""
    _check_count("num_tokens", num_tokens)
    return int(free_kv_bytes(cfg, gpu, **free_kwargs) // kv_bytes_per_sequence(cfg, num_tokens,
                                                                                kv_dtype))


# ---- vLLM v1's block arithmetic -------------------------------------------------------------
@dataclass(frozen=True)
class VLLMKVCacheReport:
    """vLLM v1's KV-cache figures for one model, one GPU's available memory and max_model_len."""

    available_kv_bytes: int  # per GPU (per worker)
    page_size_bytes: int  # one block of block_size tokens in ONE layer on one GPU
    num_layers: int
    block_size: int
    num_gpu_blocks: int
    kv_cache_tokens: int
    max_model_len: int
    blocks_per_request: int
    max_concurrency: float  # NOT floored: a fraction of a request's worth of blocks counts
    # from_vllm_log only: the token counts consistent with the log's GiB rounded to 0.01
    kv_cache_tokens_range: tuple[int, int] | None = None
    # from_vllm_log only: N of the log's own 'GPU KV cache size: N tokens' line, if it has one
    logged_kv_cache_tokens: int | None = None

    @property
    def max_concurrency_token_ratio(self) -> float:
        """kv_cache_tokens / max_model_len: what early vLLM v1 releases logged instead."""
        return self.kv_cache_tokens / self.max_model_len

    @property
    def tokens_line(self) -> str:
        """The line vLLM logs as 'GPU KV cache size: N tokens'."""
        return f"GPU KV cache size: {self.kv_cache_tokens:,} tokens"

    @property
    def concurrency_line(self) -> str:
        """The line vLLM logs as 'Maximum concurrency for L tokens per request: X.XXx'."""
        return (f"Maximum concurrency for {self.max_model_len:,} tokens per request: "
                f"{self.max_concurrency:.2f}x")

    @property
    def lines(self) -> tuple[str, str]:
        """Both log lines."""
        return self.tokens_line, self.concurrency_line

    def __str__(self) -> str:
        return "\n".join(self.lines)

    @property
    def logged_tokens_consistent(self) -> bool | None:
        """Whether the log's own token count is one its GiB line allows (None: nothing to check).

        Consistent means inside kv_cache_tokens_range and a whole number of blocks.
        """
        if self.logged_kv_cache_tokens is None or self.kv_cache_tokens_range is None:
            return None
        low, high = self.kv_cache_tokens_range
        n = self.logged_kv_cache_tokens
        return low <= n <= high and n % self.block_size == 0

    def check_against_log(self) -> str:
        """A one-line verdict on the log's 'GPU KV cache size: N tokens' against this report."""
        if self.kv_cache_tokens_range is None:
            return "not built from a vLLM log (use from_vllm_log): nothing to check"
        low, high = self.kv_cache_tokens_range
        allowed = (f"the multiples of {self.block_size} from {low:,} to {high:,} tokens that "
                   f"{self.available_kv_bytes / GiB:.2f} GiB allows (blocks of {self.block_size} "
                   f"tokens, {self.page_size_bytes:,} B in each of {self.num_layers} layers)")
        n = self.logged_kv_cache_tokens
        if n is None:
            return (f"the log has no 'GPU KV cache size: N tokens' line: nothing to check "
                    f"(reconstructed: {self.kv_cache_tokens:,} tokens, one of {allowed})")
        if self.logged_tokens_consistent:
            return f"consistent: the log's {n:,} tokens are among {allowed}"
        return (f"inconsistent: the log's {n:,} tokens are not among {allowed}; check the "
                f"model, kv_dtype, block_size and tensor_parallel_size given here "
                f"(a sliding-window or hybrid model is counted as full attention)")


def vllm_page_size_bytes(cfg: ModelConfig, block_size: int = 16, kv_dtype: str | None = None,
                         tensor_parallel_size: int = 1) -> int:
    """Bytes of one block in one layer on one GPU (vLLM AttentionSpec.page_size_bytes).

    Full attention: block_size x 2 x kv_heads_per_gpu x head_dim x bytes, where tensor
    parallelism splits the KV heads (vLLM replicates them when tp > num_kv_heads).
    MLA: block_size x (kv_lora_rank + qk_rope_head_dim) x bytes on every GPU.
    """
    _check_count("block_size", block_size)
    _check_count("tensor_parallel_size", tensor_parallel_size)
    _check_config(cfg)
    bytes_per = _bytes_per(cfg, kv_dtype, "kv_dtype")
    if cfg.is_mla:
        return _exact(block_size * kv_values_per_token_per_layer(cfg) * bytes_per)
    kv_heads = max(1, cfg.num_kv_heads // tensor_parallel_size)
    return _exact(block_size * 2 * kv_heads * cfg.head_dim * bytes_per)


def vllm_kv_cache_report(cfg: ModelConfig, gpu=None, max_model_len: int | None = None,
                         block_size: int = 16, *, available_kv_bytes: int | None = None,
                         kv_dtype: str | None = None, tensor_parallel_size: int = 1,
                         gpu_memory_utilization: float = 0.9, weight_dtype: str | None = None,
                         reserve_bytes: float = 0, check_fits: bool = True,
                         allow_long_max_model_len: bool = False) -> VLLMKVCacheReport:
    """vLLM v1's 'GPU KV cache size' and 'Maximum concurrency' for a uniform full-attention model.

    Matches vllm-project/vllm @ 001cabc1 (kv_cache_utils.py), for one KV cache group:
      num_blocks  = int(available_bytes // page_size_bytes // num_layers)
      tokens      = num_blocks * block_size
      concurrency = num_blocks / cdiv(max_model_len, block_size)      (a float, not floored)
    Early vLLM v1 releases logged kv_cache_tokens / max_model_len instead (the same number
    when block_size divides max_model_len); see ``max_concurrency_token_ratio``.
    Give either ``available_kv_bytes`` (per GPU, e.g. from the log's 'Available KV cache memory')
    or a ``gpu`` (GPUSpec, name or bytes), from which the available bytes per GPU are
    memory x gpu_memory_utilization - weights / tensor_parallel_size - reserve_bytes (vLLM
    measures the activation peak instead; see free_kv_bytes). Sliding-window layers are counted
    as full attention (vLLM's hybrid allocator is not modelled). Like vLLM, it raises ValueError
    when one request of max_model_len tokens does not fit (unless check_fits=False), and when
    max_model_len is longer than the model's context window, max_position_embeddings (unless
    allow_long_max_model_len=True, vLLM's VLLM_ALLOW_LONG_MAX_MODEL_LEN=1).
    """
    _check_config(cfg)
    _check_count("max_model_len", max_model_len)
    _check_positive("reserve_bytes", reserve_bytes, allow_zero=True)
    _check_bool("check_fits", check_fits)
    _check_bool("allow_long_max_model_len", allow_long_max_model_len)
    if max_model_len > cfg.max_position_embeddings and not allow_long_max_model_len:
        raise ValueError(
            f"max_model_len={max_model_len:,} is longer than {cfg.name}'s context window "
            f"(max_position_embeddings={cfg.max_position_embeddings:,}); vLLM refuses it unless "
            f"VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 (here: allow_long_max_model_len=True)")
    page = vllm_page_size_bytes(cfg, block_size, kv_dtype, tensor_parallel_size)
    if available_kv_bytes is None:
        if gpu is None:
            raise ValueError("give a gpu or available_kv_bytes")
        available_kv_bytes = free_kv_bytes(
            cfg, gpu, gpu_memory_utilization=gpu_memory_utilization, weight_dtype=weight_dtype,
            reserve_bytes=reserve_bytes * tensor_parallel_size, num_gpus=tensor_parallel_size)
        available_kv_bytes //= tensor_parallel_size
    _check_positive("available_kv_bytes", available_kv_bytes)
    num_blocks = int(available_kv_bytes // page // cfg.num_layers)
    blocks_per_request = -(-max_model_len // block_size)
    if check_fits and blocks_per_request > num_blocks:
        raise ValueError(
            f"one request of max_model_len={max_model_len:,} tokens needs "
            f"{blocks_per_request * page * cfg.num_layers / GiB:.2f} GiB of KV cache, more than "
            f"the {available_kv_bytes / GiB:.2f} GiB available; lower max_model_len "
            f"(at most {num_blocks * block_size:,} tokens) or raise the memory")
    return VLLMKVCacheReport(
        available_kv_bytes=int(available_kv_bytes), page_size_bytes=page,
        num_layers=cfg.num_layers, block_size=block_size, num_gpu_blocks=num_blocks,
        kv_cache_tokens=num_blocks * block_size, max_model_len=max_model_len,
        blocks_per_request=blocks_per_request, max_concurrency=num_blocks / blocks_per_request)


_LOG_PATTERNS = {
    "available_kv_gib": (r"Available KV cache memory:\s*([\d.]+)\s*GiB", float),
    "kv_cache_tokens": (r"GPU KV cache size:\s*([\d,]+)\s*tokens", int),
    "max_model_len": (r"Maximum concurrency for\s*([\d,]+)\s*tokens", int),
    "max_concurrency": (r"tokens per request:\s*([\d.]+)x", float),
}


def parse_vllm_log(text: str) -> dict:
    """The KV-cache numbers found in a vLLM start-up log (keys of those present only)."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string; got {type(text).__name__}")
    found = {}
    for key, (pattern, kind) in _LOG_PATTERNS.items():
        match = re.search(pattern, text)
        if match:
            found[key] = kind(match.group(1).replace(",", ""))
    return found


def from_vllm_log(available_kv_gib: float | str, cfg: ModelConfig, max_model_len: int | None = None,
                  block_size: int = 16, kv_dtype: str | None = None,
                  tensor_parallel_size: int = 1) -> VLLMKVCacheReport:
    """Reproduce vLLM's two log lines from its 'Available KV cache memory: X GiB' line.

    ``available_kv_gib`` is X, or the log text itself (X and, if not given, max_model_len are
    then read from it). The log rounds X to 0.01 GiB (10.7 MB), so the token count can differ
    by the blocks that 0.005 GiB holds; the report uses X x 2**30 bytes. ``str(report)`` gives
    the two lines. When the text also has vLLM's 'GPU KV cache size: N tokens' line, N is kept
    as ``logged_kv_cache_tokens``, and ``check_against_log()`` says whether the range allows it.
    """
    logged_tokens = None
    if isinstance(available_kv_gib, str):
        found = parse_vllm_log(available_kv_gib)
        if "available_kv_gib" not in found:
            raise ValueError("the log has no 'Available KV cache memory: X GiB' line")
        available_kv_gib = found["available_kv_gib"]
        max_model_len = max_model_len or found.get("max_model_len")
        logged_tokens = found.get("kv_cache_tokens")
    _check_positive("available_kv_gib", available_kv_gib)
    # the log is the truth: vLLM ran with this max_model_len, whatever the model's window
    report = vllm_kv_cache_report(cfg, None, max_model_len, block_size,
                                  available_kv_bytes=int(round(available_kv_gib * GiB)),
                                  kv_dtype=kv_dtype, tensor_parallel_size=tensor_parallel_size,
                                  allow_long_max_model_len=True)
    block_bytes = report.page_size_bytes * report.num_layers
    low = math.ceil((available_kv_gib - 0.005) * GiB)  # the log printed X with %.2f
    high = math.ceil((available_kv_gib + 0.005) * GiB) - 1
    token_range = (low // block_bytes * block_size, high // block_bytes * block_size)
    return dataclasses.replace(report, kv_cache_tokens_range=token_range,
                               logged_kv_cache_tokens=logged_tokens)
