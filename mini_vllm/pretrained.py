"""Checkpoints in Hugging Face's own format: ``config.json`` (LlamaConfig) + ``model.safetensors``.

``save_pretrained`` splits the engine's fused ``qkv_proj`` and ``gate_up_proj`` into HF's
``q_proj``/``k_proj``/``v_proj`` and ``gate_proj``/``up_proj`` (vLLM fuses them again on load, as
``load_weights`` does here); the file is float16 or float32, and always loads into the float32
compute dtype. ``load_pretrained()`` opens the model that ships with the package, offline.

References:
    HF LlamaConfig: https://huggingface.co/docs/transformers/model_doc/llama
    safetensors format: https://huggingface.co/docs/safetensors
    vLLM's stacked_params_mapping (qkv_proj, gate_up_proj): vllm/model_executor/models/llama.py
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from .config import ModelConfig
from .model import LayerWeights, ModelWeights, ToyModel

_MODELS_DIR = "models"
DEFAULT_PRETRAINED = "shakespeare-byte-llama"
SAVE_DTYPES = ("float16", "float32")
# LlamaConfig keys this engine cannot honour; a checkpoint that sets them is refused.
_UNSUPPORTED = {"attention_bias": False, "mlp_bias": False, "hidden_act": "silu",
                "rope_scaling": None, "pretraining_tp": 1}


def hf_config(config: ModelConfig, torch_dtype: str) -> dict:
    """The LlamaConfig fields of ``config`` as config.json holds them."""
    c = config
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": c.vocab_size, "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size, "num_hidden_layers": c.num_layers,
        "num_attention_heads": c.num_heads, "num_key_value_heads": c.num_kv_heads,
        "head_dim": c.head_dim, "max_position_embeddings": c.max_position_embeddings,
        "rope_theta": c.rope_theta, "rms_norm_eps": c.rms_norm_eps,
        "tie_word_embeddings": c.tie_word_embeddings, "hidden_act": "silu",
        "attention_bias": False, "mlp_bias": False, "rope_scaling": None, "pretraining_tp": 1,
        "bos_token_id": None, "eos_token_id": 256, "torch_dtype": torch_dtype,
        "initializer_range": 0.02, "use_cache": True, "name_or_path": c.name,
    }


def hf_tensors(weights: ModelWeights, config: ModelConfig) -> dict[str, np.ndarray]:
    """HF LlamaForCausalLM's state dict names for the engine's arrays (fused ones split)."""
    q, kv, inter = config.q_size, config.kv_size, config.intermediate_size
    out = {"model.embed_tokens.weight": weights.embed, "model.norm.weight": weights.final_norm}
    for i, layer in enumerate(weights.layers):
        p = f"model.layers.{i}."
        out.update({
            p + "input_layernorm.weight": layer.attn_norm,
            p + "self_attn.q_proj.weight": layer.qkv_proj[:q],
            p + "self_attn.k_proj.weight": layer.qkv_proj[q:q + kv],
            p + "self_attn.v_proj.weight": layer.qkv_proj[q + kv:],
            p + "self_attn.o_proj.weight": layer.o_proj,
            p + "post_attention_layernorm.weight": layer.mlp_norm,
            p + "mlp.gate_proj.weight": layer.gate_up_proj[:inter],
            p + "mlp.up_proj.weight": layer.gate_up_proj[inter:],
            p + "mlp.down_proj.weight": layer.down_proj,
        })
    if not config.tie_word_embeddings:
        out["lm_head.weight"] = weights.lm_head_proj
    return out


def save_pretrained(weights: ModelWeights, config: ModelConfig, path, *,
                    dtype: str = "float16") -> Path:
    """Write ``config.json`` and ``model.safetensors`` (in ``dtype``) to the directory ``path``."""
    from safetensors.numpy import save_file

    if not isinstance(weights, ModelWeights) or not isinstance(config, ModelConfig):
        raise ValueError("save_pretrained needs a ModelWeights and its ModelConfig")
    if dtype not in SAVE_DTYPES:
        raise ValueError(f"dtype must be one of {SAVE_DTYPES}; got {dtype!r}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in hf_tensors(weights, config).items()}
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(hf_config(config, dtype), indent=2) + "\n")
    return path


def config_from_hf(hf: dict, name: str = "pretrained") -> ModelConfig:
    """A float32 ModelConfig from LlamaConfig fields; ValueError for what ToyModel cannot run."""
    if not isinstance(hf, dict):
        raise ValueError("config.json must hold a JSON object")
    if hf.get("model_type") != "llama":
        raise ValueError(f"model_type={hf.get('model_type')!r} is not supported; ToyModel runs "
                         f"'llama' checkpoints")
    for key, allowed in _UNSUPPORTED.items():
        if hf.get(key, allowed) != allowed:
            raise ValueError(f"config.json sets {key}={hf[key]!r}; ToyModel supports only "
                             f"{key}={allowed!r}")
    required = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                "num_attention_heads")
    missing = [k for k in required if k not in hf]
    if missing:
        raise ValueError(f"config.json lacks {', '.join(missing)}")
    try:
        return ModelConfig(
            name=name, vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"],
            intermediate_size=hf["intermediate_size"], num_layers=hf["num_hidden_layers"],
            num_heads=hf["num_attention_heads"],
            num_kv_heads=hf.get("num_key_value_heads") or hf["num_attention_heads"],
            head_dim=hf.get("head_dim"), max_position_embeddings=hf.get("max_position_embeddings", 2048),
            rope_theta=hf.get("rope_theta", 10000.0), rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
            tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)), dtype="float32")
    except (TypeError, ValueError) as e:
        raise ValueError(f"config.json is not a valid Llama config: {e}") from None


def _read_config(path: Path) -> dict:
    file = path / "config.json"
    if not file.is_file():
        raise ValueError(f"path {path} has no config.json")
    try:
        return json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{file} is not valid JSON: {e}") from None


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    file = path / "model.safetensors"
    if not file.is_file():
        if (path / "model.safetensors.index.json").is_file():
            raise ValueError(f"{path} holds a sharded checkpoint (model.safetensors.index.json); "
                             f"only a single model.safetensors file is supported")
        raise ValueError(f"{path} has no model.safetensors")
    _check_dtypes(file)
    try:
        return load_file(str(file))
    except Exception as e:  # safetensors raises its own SafetensorError on a damaged file
        raise ValueError(f"{file} is damaged or truncated: {type(e).__name__}: {e}") from None


def _check_dtypes(file: Path) -> None:
    """Refuse what numpy cannot hold before loading: bfloat16 and fp8 tensors."""
    with open(file, "rb") as f:
        head = f.read(8)
        size = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < size <= min(file.stat().st_size - 8, 100 * 2**20):
            return  # a damaged header: load_file says so
        try:
            header = json.loads(f.read(size))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return
    if not isinstance(header, dict):
        return
    dtypes = {v.get("dtype") for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    unsupported = sorted(d for d in dtypes if d in ("BF16", "F8_E4M3", "F8_E5M2"))
    if unsupported:
        raise ValueError(f"{file} stores {', '.join(unsupported)} tensors, which numpy cannot "
                         f"hold; convert the checkpoint to float16 or float32 first")


def _take(tensors: dict, name: str, shape: tuple) -> np.ndarray:
    if name not in tensors:
        raise ValueError(f"model.safetensors lacks the tensor {name!r}")
    a = tensors.pop(name)
    if a.shape != shape:
        raise ValueError(f"tensor {name!r} has shape {a.shape}; the config needs {shape}")
    if a.dtype.kind != "f":
        raise ValueError(f"tensor {name!r} has dtype {a.dtype}; a float dtype is needed")
    a = np.ascontiguousarray(a, dtype=np.float32)  # float16 files compute in float32
    if not np.isfinite(a).all():
        raise ValueError(f"tensor {name!r} holds NaN or infinite values")
    return a


def load_weights(path) -> tuple[ModelConfig, ModelWeights]:
    """(config, float32 weights) from an HF Llama directory; fused as the engine stores them."""
    if not isinstance(path, (str, Path)):
        raise ValueError(f"path must be a directory path; got {type(path).__name__}")
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"path {path} is not a directory")
    c = config_from_hf(_read_config(path), name=path.name)
    t = _read_tensors(path)
    h, q, kv, inter = c.hidden_size, c.q_size, c.kv_size, c.intermediate_size
    layers = []
    for i in range(c.num_layers):
        p = f"model.layers.{i}."
        qkv = [_take(t, p + f"self_attn.{n}_proj.weight", (s, h)) for n, s in (("q", q), ("k", kv), ("v", kv))]
        gate_up = [_take(t, p + f"mlp.{n}_proj.weight", (inter, h)) for n in ("gate", "up")]
        layers.append(LayerWeights(
            attn_norm=_take(t, p + "input_layernorm.weight", (h,)),
            qkv_proj=np.concatenate(qkv), o_proj=_take(t, p + "self_attn.o_proj.weight", (h, q)),
            mlp_norm=_take(t, p + "post_attention_layernorm.weight", (h,)),
            gate_up_proj=np.concatenate(gate_up),
            down_proj=_take(t, p + "mlp.down_proj.weight", (h, inter))))
    embed = _take(t, "model.embed_tokens.weight", (c.vocab_size, h))
    final_norm = _take(t, "model.norm.weight", (h,))
    if c.tie_word_embeddings:
        t.pop("lm_head.weight", None)
        head = embed
    else:
        head = _take(t, "lm_head.weight", (c.vocab_size, h))
    extra = [k for k in t if not k.endswith("rotary_emb.inv_freq")]
    if extra:
        raise ValueError(f"model.safetensors holds tensors a Llama of this config does not have: "
                         f"{', '.join(sorted(extra)[:5])}")
    return c, ModelWeights(embed=embed, layers=layers, final_norm=final_norm, lm_head_proj=head)


def list_pretrained() -> list[str]:
    """Names of the checkpoints that ship with the package."""
    root = resources.files(__package__).joinpath(_MODELS_DIR)
    return sorted(d.name for d in root.iterdir() if d.joinpath("config.json").is_file())


def pretrained_path(name: str | None = None) -> Path:
    """The directory of a shipped checkpoint (the default one if ``name`` is None)."""
    name = DEFAULT_PRETRAINED if name is None else name
    names = list_pretrained()
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"name={name!r} is not a shipped model; allowed: {', '.join(names)}")
    return Path(str(resources.files(__package__).joinpath(_MODELS_DIR, name)))


def load_pretrained(name: str | None = None) -> ToyModel:
    """A shipped trained model as a ToyModel (float32 compute), offline."""
    return ToyModel.from_pretrained(pretrained_path(name))
