"""Real model architectures as ModelConfig presets, built from the fields of their HF config.json.

The 13 models of ``data/models.json`` (Llama-2/3/3.1, Mistral, Mixtral, Qwen2.5, Gemma-2, Phi-3,
DeepSeek-V3, GPT-2) carry their published and exact parameter counts and the sources each fact
was read from. ``from_hf_config`` turns any config.json dict into a ModelConfig.

References:
    HF transformers configs: LlamaConfig, MistralConfig, MixtralConfig, Qwen2Config, Gemma2Config,
        Phi3Config, DeepseekV3Config, GPT2Config (https://huggingface.co/docs/transformers)
    DeepSeek-V3 technical report (MLA, MoE): https://arxiv.org/abs/2412.19437
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import MappingProxyType

from .config import TOY, TOY_MHA, TOY_MQA, ModelConfig

DATA_DIR = Path(__file__).parent / "data"

# Lower-cased names that also find a model (besides its name and its hf_id).
MODEL_ALIASES: dict[str, str] = {
    "llama3-8b": "Llama-3-8B", "llama-3-8b": "Llama-3-8B", "meta-llama-3-8b": "Llama-3-8B",
    "llama3-70b": "Llama-3-70B", "llama-3.1-405b": "Llama-3.1-405B",
    "llama2-7b": "Llama-2-7B", "llama2-70b": "Llama-2-70B",
    "mistral-7b": "Mistral-7B-v0.1", "mixtral-8x7b": "Mixtral-8x7B-v0.1",
    "qwen2.5-7b": "Qwen2.5-7B", "qwen2.5-72b": "Qwen2.5-72B", "gemma-2-9b": "Gemma-2-9B",
    "phi-3-mini": "Phi-3-mini-4k", "deepseek-v3": "DeepSeek-V3",
    "gpt2": "GPT-2-small", "gpt-2": "GPT-2-small",
}
_TOYS = {c.name: c for c in (TOY, TOY_MHA, TOY_MQA)}

# Models whose config.json leaves tie_word_embeddings out and whose HF class defaults it to True.
_TIED_BY_DEFAULT = ("gemma", "gemma2", "gpt2")


def _first(d: dict, *keys, default=None):
    """The value of the first key present (and not None) in d."""
    for key in keys:
        if d.get(key) is not None:
            return d[key]
    return default


def _required(d: dict, *keys):
    value = _first(d, *keys)
    if value is None:
        raise ValueError(f"config needs one of {', '.join(keys)}")
    return value


def _gpt2_fields(d: dict) -> dict:
    """GPT-2: learned positions, LayerNorm, a GELU MLP and biases on every linear layer."""
    hidden = _required(d, "n_embd", "hidden_size")
    heads = _required(d, "n_head", "num_attention_heads")
    return dict(
        hidden_size=hidden, num_layers=_required(d, "n_layer", "num_hidden_layers"),
        num_heads=heads, num_kv_heads=heads,
        intermediate_size=_first(d, "n_inner", default=4 * hidden),  # n_inner None means 4*n_embd
        max_position_embeddings=_first(d, "n_positions", "max_position_embeddings", default=1024),
        rms_norm_eps=_first(d, "layer_norm_epsilon", default=1e-5),
        attention_bias=True, attention_out_bias=True, mlp_type="gelu", norm_type="layernorm",
        position_embedding="learned")


def _moe_fields(d: dict) -> dict:
    """Mixtral (num_local_experts) and DeepSeek (n_routed_experts, shared experts, dense first)."""
    num_experts = _first(d, "num_local_experts", "n_routed_experts", "num_experts", default=0)
    if not num_experts:
        return {}
    return dict(
        num_experts=num_experts, num_experts_per_tok=_required(d, "num_experts_per_tok"),
        moe_intermediate_size=_first(d, "moe_intermediate_size"),
        num_shared_experts=_first(d, "n_shared_experts", default=0),
        first_k_dense_replace=_first(d, "first_k_dense_replace", default=0))


def _mla_fields(d: dict) -> dict:
    """DeepSeek-V2/V3 multi-head latent attention; head_dim is the q/k width nope + rope."""
    if not d.get("kv_lora_rank"):
        return {}
    rope, nope = _required(d, "qk_rope_head_dim"), _first(d, "qk_nope_head_dim", default=0)
    return dict(kv_lora_rank=d["kv_lora_rank"], q_lora_rank=_first(d, "q_lora_rank", default=0),
                qk_rope_head_dim=rope, qk_nope_head_dim=nope,
                v_head_dim=_first(d, "v_head_dim", default=0), head_dim=nope + rope)


def _rope_theta(d: dict) -> float:
    theta = _first(d, "rope_theta", default=10000.0)
    if isinstance(theta, bool) or not isinstance(theta, (int, float)):
        raise ValueError(f"config field rope_theta must be a number; got {theta!r}")
    return float(theta)


def _llama_fields(d: dict, model_type: str) -> dict:
    """Llama and its relatives (Mistral, Mixtral, Qwen2, Gemma-2, Phi-3, DeepSeek)."""
    if d.get("mlp_bias"):
        raise ValueError("mlp_bias=True is not supported by the parameter counter")
    heads = _required(d, "num_attention_heads", "num_heads")
    llama_bias = bool(d.get("attention_bias"))  # HF Llama: bias on q, k, v AND o
    window = d.get("sliding_window") if d.get("use_sliding_window", True) else None
    return dict(
        hidden_size=_required(d, "hidden_size"),
        num_layers=_required(d, "num_hidden_layers", "num_layers"), num_heads=heads,
        num_kv_heads=_first(d, "num_key_value_heads", "num_kv_heads", default=heads),
        head_dim=_first(d, "head_dim"), intermediate_size=_required(d, "intermediate_size"),
        max_position_embeddings=_first(d, "max_position_embeddings", default=2048),
        rope_theta=_rope_theta(d),
        rms_norm_eps=_first(d, "rms_norm_eps", default=1e-6),
        attention_bias=llama_bias or model_type == "qwen2",  # Qwen2: q, k, v only
        attention_out_bias=llama_bias,
        num_norms_per_layer=4 if model_type == "gemma2" else 2,  # pre/post norm around both
        sliding_window=window or None)


def from_hf_config(d: dict, name: str | None = None, dtype: str | None = None) -> ModelConfig:
    """A ModelConfig from a HF config.json dict (Llama-family, MoE, MLA and GPT-2 field names)."""
    if not isinstance(d, dict):
        raise ValueError(f"d must be a dict of config.json fields; got {type(d).__name__}")
    for arg, value in (("name", name), ("dtype", dtype)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{arg} must be None or a str; got {value!r}")
    model_type = str(d.get("model_type", "")).lower()
    is_gpt2 = model_type == "gpt2" or "n_embd" in d
    fields = _gpt2_fields(d) if is_gpt2 else _llama_fields(d, model_type)
    if not is_gpt2:
        fields.update(_moe_fields(d))
        fields.update(_mla_fields(d))
    tied_default = is_gpt2 or model_type in _TIED_BY_DEFAULT
    return ModelConfig(
        name=name if name is not None else d.get("_name_or_path") or model_type or "custom",
        vocab_size=_required(d, "vocab_size"),
        tie_word_embeddings=bool(_first(d, "tie_word_embeddings", default=tied_default)),
        # Real checkpoints ship in bf16 unless the config says otherwise.
        dtype=dtype if dtype is not None else _first(d, "torch_dtype", "dtype",
                                                      default="bfloat16"),
        **fields)


@functools.lru_cache(maxsize=1)
def _entries() -> MappingProxyType:
    text = (DATA_DIR / "models.json").read_text(encoding="utf-8")
    return MappingProxyType({m["name"]: m for m in json.loads(text)["models"]})


def list_models() -> list[str]:
    """Names of the 13 real models in the catalog (toy presets not included)."""
    return list(_entries())


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def _resolve(name: str) -> str:
    """The catalog name for `name` (case-insensitive; hf_id and aliases accepted)."""
    if not isinstance(name, str):
        raise ValueError(f"model name must be a string; got {name!r}")
    key = _key(name)
    for real, entry in _entries().items():
        if key in (_key(real), _key(entry["hf_id"])):
            return real
    if key in MODEL_ALIASES:
        return MODEL_ALIASES[key]
    raise ValueError(f"unknown model {name!r}; name must be one of the known models: "
                     f"{', '.join(list_models())} (and the toy presets {', '.join(_TOYS)})")


@functools.lru_cache(maxsize=None)
def _build(real: str) -> ModelConfig:
    entry = _entries()[real]
    return from_hf_config({"model_type": entry["model_type"], **entry["config"]}, name=real)


def get_model(name: str) -> ModelConfig:
    """The ModelConfig of a catalog model (case-insensitive), or of a toy preset ('toy', ...)."""
    if isinstance(name, str) and name.strip().lower() in _TOYS:
        return _TOYS[name.strip().lower()]
    return _build(_resolve(name))


def model_info(name: str) -> dict:
    """Facts about a catalog model: hf_id, published and exact parameter counts, sources, notes."""
    entry = _entries()[_resolve(name)]
    return {
        "name": entry["name"], "hf_id": entry["hf_id"], "model_type": entry["model_type"],
        "attention": entry["attention"], "published_params": entry["published_params"],
        "params_meta_device": entry["params_meta_device"], "notes": entry.get("notes", ""),
        "sources": [dict(s) for s in entry["sources"]], "config": dict(entry["config"])}


LLAMA_3_8B = get_model("Llama-3-8B")
LLAMA_3_70B = get_model("Llama-3-70B")
DEEPSEEK_V3 = get_model("DeepSeek-V3")
GPT2_SMALL = get_model("GPT-2-small")
