"""Fuzz every public callable with wrong types and out-of-range values, one argument at a time.

Each spec starts from valid arguments and replaces one at a time with None, a str, a float where
an int belongs, a list, a dict, object(), numpy arrays, NaN, +-inf, negative numbers, 0, a huge
int and a bool, plus out-of-range values of its own. The contract:
* the only exception is ValueError (TypeError only for a wrong number of arguments or an
  unexpected keyword);
* a value outside the argument's domain must raise, and the message names the argument;
* a value inside it may be refused by a range check, else the result holds no NaN, and no inf
  unless the spec says why inf is meaningful.
Every name in mini_vllm.__all__ and every public function of mini_vllm.roofline needs a spec or
an exemption with its reason, and every parameter of a spec'd callable needs a domain.

References:
    Python data model, "Special method names" (TypeError for bad calls):
        https://docs.python.org/3/reference/datamodel.html
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import mini_vllm
from mini_vllm import roofline
from mini_vllm.catalog import LLAMA_3_8B, get_model, list_models
from mini_vllm.config import (DTYPE_ALIASES, DTYPE_BYTES, MLP_TYPES, NORM_TYPES,
                              POSITION_EMBEDDINGS, TOY, ModelConfig)
from mini_vllm.engine import LLMEngine
from mini_vllm.hardware import GPUSpec, get_gpu, list_gpus
from mini_vllm.kv_cache import KVCache
from mini_vllm.model import ToyModel
from mini_vllm.pretrained import list_pretrained, pretrained_path
from mini_vllm.request import Request, RequestStatus
from mini_vllm.sampler import SamplingParams
from mini_vllm.units import BYTE_UNIT_CHOICES, GiB


# ---- the generic bad values -----------------------------------------------------------------
BAD_VALUES: dict[str, object] = {
    "None": None, "str": "x", "float": 2.5, "whole_float": 3.0, "list": [1],
    "dict": {"a": 1}, "object": object(), "array": np.array([1, 2]),
    "array_0d": np.array(3.0), "nan": math.nan, "inf": math.inf, "-inf": -math.inf,
    "negative": -1, "negative_float": -0.5, "zero": 0, "huge": 10**30, "bool": True,
}


# ---- domains: the values an argument must accept ----------------------------------------------
@dataclass(frozen=True)
class Dom:
    """An argument's domain: ``ok(value)`` is True for values it must take (or range-check)."""

    text: str
    ok: Callable[[object], bool]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def count(minimum: int = 1, maximum: int | None = None) -> Dom:
    """An int in minimum..maximum."""
    top = "" if maximum is None else f"..{maximum}"
    return Dom(f"an int >= {minimum}{top}", lambda v: _is_int(v) and v >= minimum and (
        maximum is None or v <= maximum))


def number(low: float = 0.0, *, allow_low: bool = True, high: float | None = None) -> Dom:
    """A finite real number above low (or equal, if allow_low), at most high."""
    return Dom(f"a finite number {'>=' if allow_low else '>'} {low}", lambda v: _is_real(v) and (
        v >= low if allow_low else v > low) and (high is None or v <= high))


def optional(dom: Dom) -> Dom:
    """None or dom."""
    return Dom(f"None or {dom.text}", lambda v: v is None or dom.ok(v))


def instance(*types: type) -> Dom:
    """An instance of one of types."""
    return Dom(" or ".join(t.__name__ for t in types), lambda v: isinstance(v, types))


def one_of(*allowed) -> Dom:
    """One of the given str values."""
    return Dom(f"one of {allowed}", lambda v: isinstance(v, str) and v in allowed)


def never(text: str) -> Dom:
    """A structured argument none of the generic bad values fits (extras are all bad too)."""
    return Dom(text, lambda v: False)


def _ids_ok(v, vocab: int = 257, minimum_len: int = 1) -> bool:
    if isinstance(v, np.ndarray):
        v = v.tolist() if v.ndim == 1 else None
    return isinstance(v, (list, tuple)) and len(v) >= minimum_len and all(
        _is_int(i) and 0 <= i < vocab for i in v)


def _logits_ok(v, ndim: int) -> bool:
    try:
        arr = np.asarray(v)
    except Exception:
        return False
    return (arr.ndim == ndim and arr.dtype.kind in "iuf" and arr.size > 0 and
            not np.isnan(arr).any() and not np.isposinf(arr).any() and
            bool(np.isfinite(arr).any(axis=-1).all()))


DTYPES = tuple(DTYPE_BYTES) + tuple(DTYPE_ALIASES)
BOOL = instance(bool)
STR = instance(str)
CONFIG = instance(ModelConfig)
DTYPE = one_of(*DTYPES)
GPU = Dom("a GPUSpec or a catalog GPU name", lambda v: isinstance(v, GPUSpec) or (
    isinstance(v, str) and v in list_gpus()))
GPU_OR_BYTES = Dom("a GPUSpec, a GPU name or bytes > 0",
                   lambda v: GPU.ok(v) or number(0, allow_low=False).ok(v))
TOKEN_IDS = Dom("a non-empty sequence of token ids in 0..256", _ids_ok)
PROMPT = Dom("a non-empty str or token ids in 0..256",
             lambda v: (isinstance(v, str) and 0 < len(v) < TOY.max_position_embeddings)
             or _ids_ok(v))


# ---- specs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fresh:
    """A valid argument that must be built anew for every call (engines, caches, requests)."""

    make: Callable[[], object]


@dataclass(frozen=True)
class Spec:
    """One public callable: how to get it, valid arguments, and every parameter's domain."""

    name: str  # the public name: 'func', 'Class' (constructor) or 'Class.method'
    target: Callable[[], Callable]  # returns the callable (a fresh bound method for methods)
    valid: dict[str, object]  # valid keyword arguments (Fresh values are rebuilt per call)
    doms: dict[str, Dom]  # every parameter, and any **kwargs it passes on
    extra: dict[str, tuple] = field(default_factory=dict)  # out-of-range values per argument
    skip: dict[str, str] = field(default_factory=dict)  # 'arg:label' -> why not tried
    aliases: dict[str, tuple] = field(default_factory=dict)  # other words naming an argument
    inf_ok: str = ""  # why an infinite float result is meaningful ('' means never)
    check: Callable[[object], list[str]] | None = None  # extra checks of a result
    signature: bool = True  # check that doms cover the signature (False: Enum's __call__)


def _engine_with_request() -> LLMEngine:
    engine = LLMEngine(TOY)
    engine.add_request([1, 2, 3], SamplingParams(max_tokens=2))
    return engine


def _kv_pair() -> np.ndarray:
    return np.zeros((TOY.num_kv_heads, 1, TOY.head_dim), np.float32)  # (kv_heads, 1, hd)


def _simulation_checks(result) -> list[str]:
    """SimulationResult's float properties: finite (mean latency is nan only with no requests)."""
    names = ("window_s", "mean_in_flight", "throughput_per_s", "tokens_per_s")
    bad = [n for n in names if not math.isfinite(getattr(result, n))]
    if result.num_requests and not math.isfinite(result.mean_latency_s):
        bad.append("mean_latency_s")
    return [f"SimulationResult.{n} is not finite" for n in bad]


HF_LLAMA = {"model_type": "llama", "vocab_size": 257, "hidden_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 176}
H100 = "H100 SXM5 80GB"
GPU_KW = dict(weight_dtype=optional(DTYPE), kv_dtype=optional(DTYPE), dtype=optional(DTYPE))
CBS_INF = ("critical_batch_size is math.inf by design when the KV reads keep decode below the "
           "ridge at any batch (huge context_len)")
OUT_OF_RANGE_FRACTION = (1.5, 1.0000001)
RUNNABLE = "a ModelConfig the numpy engine runs (float32/float64 plain Llama)"
RUNNABLE_CONFIG = Dom(RUNNABLE, lambda v: isinstance(v, ModelConfig) and v.dtype in (
    "float32", "float64") and not v.is_moe and not v.is_mla)
MODEL_NAMES = Dom("a catalog model name", lambda v: isinstance(v, str) and v in list_models())


def _fn(f: Callable) -> Callable[[], Callable]:
    return lambda: f


def _calculator_specs() -> list[Spec]:
    """memory.py and the roofline: cfg, gpu, counts and dtypes."""
    c, g = CONFIG, GPU
    cfg = {"cfg": LLAMA_3_8B}
    cg = {"cfg": LLAMA_3_8B, "gpu": H100}
    decode_kw = dict(context_len=count(0), **GPU_KW)
    specs = [
        Spec("num_params", _fn(mini_vllm.num_params), cfg, {"cfg": c}),
        Spec("weight_bytes", _fn(mini_vllm.weight_bytes), cfg,
             {"cfg": c, "weight_dtype": optional(DTYPE)}),
        Spec("kv_bytes_per_token", _fn(mini_vllm.kv_bytes_per_token), cfg,
             {"cfg": c, "kv_dtype": optional(DTYPE)}),
        Spec("kv_bytes_per_sequence", _fn(mini_vllm.kv_bytes_per_sequence),
             {**cfg, "num_tokens": 100}, {"cfg": c, "num_tokens": count(0),
                                          "kv_dtype": optional(DTYPE)}),
        Spec("kv_bytes_total", _fn(mini_vllm.kv_bytes_total),
             {**cfg, "num_tokens": 100, "batch_size": 2},
             {"cfg": c, "num_tokens": count(0), "batch_size": count(1),
              "kv_dtype": optional(DTYPE)}),
        Spec("free_kv_bytes", _fn(mini_vllm.free_kv_bytes), cg,
             {"cfg": c, "gpu": GPU_OR_BYTES, "num_gpus": count(1),
              "gpu_memory_utilization": number(0, allow_low=False, high=1),
              "weight_dtype": optional(DTYPE), "reserve_bytes": number(0)},
             extra={"gpu_memory_utilization": OUT_OF_RANGE_FRACTION, "gpu": (""," ")}),
        Spec("max_sequences_naive", _fn(mini_vllm.max_sequences_naive),
             {**cg, "num_tokens": 8192},
             {"cfg": c, "gpu": GPU_OR_BYTES, "num_tokens": count(1),
              "kv_dtype": optional(DTYPE), "num_gpus": count(1),
              "gpu_memory_utilization": number(0, allow_low=False, high=1)}),
        Spec("vllm_kv_cache_report", _fn(mini_vllm.vllm_kv_cache_report),
             {**cg, "max_model_len": 8192},
             {"cfg": c, "gpu": optional(GPU_OR_BYTES), "max_model_len": count(1),
              "block_size": count(1), "available_kv_bytes": optional(number(0, allow_low=False)),
              "kv_dtype": optional(DTYPE), "tensor_parallel_size": count(1),
              "gpu_memory_utilization": number(0, allow_low=False, high=1),
              "weight_dtype": optional(DTYPE), "reserve_bytes": number(0),
              "check_fits": BOOL, "allow_long_max_model_len": BOOL},
             extra={"max_model_len": (LLAMA_3_8B.max_position_embeddings + 1,)}),
        Spec("ridge_point", _fn(mini_vllm.ridge_point), {"gpu": H100},
             {"gpu": g, "dtype": DTYPE, "sparse": BOOL}, extra={"gpu": ("H100 SXM5",)}),
        Spec("peak_and_bandwidth", _fn(roofline.peak_and_bandwidth), {"gpu": H100},
             {"gpu": g, "dtype": DTYPE, "sparse": BOOL}),
        Spec("attainable_flops", _fn(roofline.attainable_flops), {"gpu": H100, "intensity": 10},
             {"gpu": g, "intensity": number(0), "dtype": DTYPE}),
        Spec("flops_per_token", _fn(roofline.flops_per_token), cfg, {"cfg": c}),
        Spec("expected_experts_read", _fn(roofline.expected_experts_read),
             {"cfg": get_model("Mixtral-8x7B-v0.1")}, {"cfg": c, "num_tokens": count(1)}),
        Spec("flops_per_token_breakdown", _fn(roofline.flops_per_token_breakdown), cfg,
             {"cfg": c, "context_len": count(0)}),
        Spec("decode_flops", _fn(roofline.decode_flops), cfg, {"cfg": c, "batch_size": count(1)}),
        Spec("decode_bytes", _fn(roofline.decode_bytes), cfg,
             {"cfg": c, "batch_size": count(1), "context_len": count(0),
              "weight_dtype": optional(DTYPE), "kv_dtype": optional(DTYPE)}),
        Spec("decode_intensity", _fn(mini_vllm.decode_intensity), cfg,
             {"cfg": c, "batch_size": count(1), "context_len": count(0),
              "weight_dtype": optional(DTYPE), "kv_dtype": optional(DTYPE)}),
        Spec("decode_step_breakdown", _fn(roofline.decode_step_breakdown), cg,
             {"cfg": c, "gpu": g, "batch_size": count(1), **decode_kw}),
        Spec("decode_step_time_bound", _fn(roofline.decode_step_time_bound), cg,
             {"cfg": c, "gpu": g, "batch_size": count(1), **decode_kw}),
        Spec("decode_tokens_per_s_bound", _fn(mini_vllm.decode_tokens_per_s_bound), cg,
             {"cfg": c, "gpu": g, "batch_size": count(1), **decode_kw}),
        Spec("utilization", _fn(mini_vllm.utilization), cg,
             {"cfg": c, "gpu": g, "batch_size": count(1), **decode_kw}),
        Spec("critical_batch_size", _fn(mini_vllm.critical_batch_size), cg,
             {"cfg": c, "gpu": g, **decode_kw}, inf_ok=CBS_INF),
        Spec("itl_estimate", _fn(roofline.itl_estimate), cg,
             {"cfg": c, "gpu": g, "batch_size": count(1), **decode_kw}),
        Spec("prefill_flops", _fn(roofline.prefill_flops), {**cfg, "prompt_len": 512},
             {"cfg": c, "prompt_len": count(1)}),
        Spec("prefill_bytes", _fn(roofline.prefill_bytes), {**cfg, "prompt_len": 512},
             {"cfg": c, "prompt_len": count(1), "weight_dtype": optional(DTYPE),
              "kv_dtype": optional(DTYPE)}),
        Spec("prefill_intensity", _fn(mini_vllm.prefill_intensity), {**cfg, "prompt_len": 512},
             {"cfg": c, "prompt_len": count(1), "weight_dtype": optional(DTYPE),
              "kv_dtype": optional(DTYPE)}),
        Spec("prefill_time_bound", _fn(roofline.prefill_time_bound), {**cg, "prompt_len": 512},
             {"cfg": c, "gpu": g, "prompt_len": count(1), **GPU_KW}),
        Spec("ttft_estimate", _fn(roofline.ttft_estimate), {**cg, "prompt_len": 512},
             {"cfg": c, "gpu": g, "prompt_len": count(1), "queue_s": number(0), **GPU_KW}),
        Spec("littles_law_concurrency", _fn(mini_vllm.littles_law_concurrency),
             {"throughput": 10.0, "latency_s": 0.5},
             {"throughput": number(0), "latency_s": number(0)}),
        Spec("littles_law_throughput", _fn(roofline.littles_law_throughput),
             {"concurrency": 5.0, "latency_s": 0.5},
             {"concurrency": number(0), "latency_s": number(0, allow_low=False)}),
        Spec("littles_law_latency", _fn(roofline.littles_law_latency),
             {"concurrency": 5.0, "throughput": 10.0},
             {"concurrency": number(0), "throughput": number(0, allow_low=False)}),
    ]
    return specs


def _catalog_specs() -> list[Spec]:
    """Catalogs, units, GPUs and the host measurement."""
    gpu_fields = {"name": "g", "memory_bytes": 80 * GiB, "bandwidth_bytes_per_s": 2e12,
                  "dense_flops": {"bfloat16": 1e15}}
    rates = Dom("a mapping of dtype names to FLOP/s > 0", lambda v: isinstance(v, dict) and all(
        DTYPE.ok(k) and number(0, allow_low=False).ok(r) for k, r in v.items()))
    return [
        Spec("get_model", _fn(mini_vllm.get_model), {"name": "Llama-3-8B"},
             {"name": Dom("a catalog or toy model name", lambda v: MODEL_NAMES.ok(v) or (
                 one_of("toy", "toy-mha", "toy-mqa").ok(v)))},
             extra={"name": ("", "llama-9")}),
        Spec("model_info", _fn(mini_vllm.model_info), {"name": "Llama-3-8B"},
             {"name": MODEL_NAMES}, extra={"name": ("",)}),
        Spec("list_models", _fn(mini_vllm.list_models), {}, {}),
        Spec("list_gpus", _fn(mini_vllm.list_gpus), {}, {}),
        Spec("list_pretrained", _fn(mini_vllm.list_pretrained), {}, {}),
        Spec("get_gpu", _fn(mini_vllm.get_gpu), {"name": "H100"},
             {"name": Dom("a catalog GPU name", lambda v: isinstance(v, str) and (
                 v in list_gpus()))}, extra={"name": ("",)},
             aliases={"name": ("GPU",)}),  # hardware.py: "unknown GPU 'x'; known: ..."
        Spec("from_hf_config", _fn(mini_vllm.from_hf_config), {"d": HF_LLAMA},
             {"d": Dom("a dict of config.json fields", lambda v: False),
              "name": optional(STR), "dtype": optional(DTYPE)},
             extra={"d": ({**HF_LLAMA, "rope_theta": [1]}, {**HF_LLAMA, "rope_theta": "x"},
                         {**HF_LLAMA, "hidden_size": None}, {**HF_LLAMA, "hidden_size": "64"},
                         {**HF_LLAMA, "num_key_value_heads": 3}, {"model_type": "llama"})},
             aliases={"d": ("config",)}),
        Spec("format_bytes", _fn(mini_vllm.format_bytes), {"n": 131072},
             {"n": Dom("a finite number", _is_real), "unit": one_of(*BYTE_UNIT_CHOICES),
              "digits": count(0, 20)}, extra={"unit": ("gb", "")}),
        Spec("GPUSpec", _fn(GPUSpec), gpu_fields,
             {"name": STR, "memory_bytes": number(0, allow_low=False),
              "bandwidth_bytes_per_s": number(0, allow_low=False), "dense_flops": rates,
              "sparse_flops": rates, "estimated": BOOL, "vendor": STR, "arch": STR,
              "memory_type": STR, "tdp_w": optional(number(0, allow_low=False)),
              "confidence": STR,
              "sources": Dom("a tuple of str", lambda v: isinstance(v, tuple) and all(
                  isinstance(s, str) for s in v)), "notes": STR, "memory_kind": STR,
              "memory_source": STR, "nominal_memory_gb": optional(number(0, allow_low=False)),
              "nvidia_smi_mib": optional(count(1))},
             extra={"dense_flops": ({"bfloat16": math.nan}, {"bfloat16": -1.0},
                                    {"nonsense": 1e12})}),
        Spec("GPUSpec.peak_flops", lambda: get_gpu("H100").peak_flops, {},
             {"dtype": DTYPE, "sparse": BOOL}),
        Spec("measure_host", _fn(mini_vllm.measure_host),
             {"seconds": 0.01, "progress": False},
             {"seconds": number(0, allow_low=False), "progress": BOOL,
              "rng": optional(instance(np.random.Generator)), "threads": optional(count(1))}),
    ]


def _engine_specs() -> list[Spec]:
    """Tokenizer, sampler, cache, model, requests and the engine."""
    ids = never("a non-empty list of token ids in 0..256")
    params = instance(SamplingParams)
    one_row = {"logits": np.zeros((1, 4)), "params_list": [SamplingParams()],
               "generators": Fresh(lambda: [np.random.default_rng(0)])}
    k_dom = never("an array (num_kv_heads, T_new, head_dim)")
    return [
        Spec("ByteTokenizer", _fn(mini_vllm.ByteTokenizer), {}, {}),
        Spec("ByteTokenizer.encode", lambda: mini_vllm.ByteTokenizer().encode, {"text": "hi"},
             {"text": STR}),
        Spec("ByteTokenizer.decode", lambda: mini_vllm.ByteTokenizer().decode, {"ids": [104]},
             {"ids": Dom("a sequence of token ids in 0..256",
                         lambda v: _ids_ok(v, minimum_len=0))},
             extra={"ids": ([257], [-1], [1.5], "ab", b"ab", [True])},
             aliases={"ids": ("token id",)}),
        Spec("ByteTokenizer.token_str", lambda: mini_vllm.ByteTokenizer().token_str,
             {"token_id": 97}, {"token_id": count(0, 256)}),
        Spec("SamplingParams", _fn(SamplingParams), {},
             {"temperature": number(0), "top_k": optional(count(1)),
              "top_p": number(0, allow_low=False, high=1), "max_tokens": count(1),
              "seed": optional(count(0)), "ignore_eos": BOOL},
             extra={"top_p": OUT_OF_RANGE_FRACTION}),
        Spec("probabilities", _fn(mini_vllm.probabilities),
             {"logits": np.array([1.0, 2.0, 0.5]), "params": SamplingParams()},
             {"logits": Dom("a 1-d real array with a finite entry, no NaN or +inf",
                            lambda v: _logits_ok(v, 1)), "params": params},
             extra={"logits": (np.full(4, -np.inf), np.array([1.0, np.nan]),
                               np.array([1.0, np.inf]), np.zeros((2, 2)), np.array([]),
                               np.array(["a", "b"]), np.array([True, False]))}),
        Spec("Sampler", _fn(mini_vllm.Sampler), {}, {}),
        Spec("Sampler.sample", lambda: mini_vllm.Sampler().sample, one_row,
             {"logits": never("a (1, vocab) real array with a finite entry per row"),
              "params_list": never("a list of 1 SamplingParams"),
              "generators": never("a list of 1 numpy Generator")},
             extra={"logits": (np.full((1, 4), -np.inf), np.full((1, 4), np.nan),
                               np.zeros((2, 4)), np.zeros(4), np.zeros((1, 0))),
                    "params_list": ([], [SamplingParams()] * 2, ["x"]),
                    "generators": ([], ["x"], [np.random.default_rng(0)] * 2)}),
        Spec("KVCache", _fn(KVCache), {"config": TOY},
             {"config": RUNNABLE_CONFIG, "capacity": count(1)},
             extra={"config": (LLAMA_3_8B,)}),
        Spec("KVCache.append", lambda: KVCache(TOY).append,
             {"layer": 0, "k": Fresh(_kv_pair), "v": Fresh(_kv_pair)},
             {"layer": count(0, TOY.num_layers - 1), "k": k_dom, "v": k_dom},
             extra={"layer": (TOY.num_layers,),
                    "k": (np.zeros((TOY.num_kv_heads, 1, 3)), np.zeros((1, TOY.head_dim)),
                          np.zeros((TOY.num_kv_heads, 2, TOY.head_dim))),
                    "v": (np.zeros((TOY.num_kv_heads, 2, TOY.head_dim)),)}),
        Spec("KVCache.keys", lambda: KVCache(TOY).keys, {"layer": 1},
             {"layer": count(0, TOY.num_layers - 1)}),
        Spec("KVCache.values", lambda: KVCache(TOY).values, {"layer": 1},
             {"layer": count(0, TOY.num_layers - 1)}),
        Spec("ToyModel", _fn(ToyModel), {"config": TOY},
             {"config": RUNNABLE_CONFIG, "rng": optional(instance(np.random.Generator)),
              "seed": count(0)}, extra={"config": (LLAMA_3_8B,)}),
        Spec("ToyModel.embed", lambda: ToyModel(TOY).embed, {"ids": [1, 2]}, {"ids": TOKEN_IDS},
             extra={"ids": ([257], [-1], [1.5], [], [[1, 2]], [True])},
             aliases={"ids": ("token id",)}),
        Spec("ToyModel.forward", lambda: ToyModel(TOY).forward,
             {"batch": Fresh(lambda: [([1, 2], KVCache(TOY))])},
             {"batch": never("a non-empty list of (token ids, KVCache) pairs"),
              "return_attention": BOOL, "last_token_only": BOOL, "causal": BOOL},
             extra={"batch": ([([], KVCache(TOY))], [([1], "x")], [([300], KVCache(TOY))],
                              [([1], KVCache(TOY.replace(num_kv_heads=4)))],
                              [[1], KVCache(TOY)], [([1], KVCache(TOY), 0)])},
             aliases={"batch": ("token id", "KVCache")}),
        Spec("ToyModel.from_weights", _fn(ToyModel.from_weights),
             {"config": TOY, "weights": ToyModel(TOY).weights},
             {"config": never(RUNNABLE + " matching the weights"),
              "weights": instance(mini_vllm.model.ModelWeights)},
             extra={"config": (TOY.replace(vocab_size=300),)}),
        Spec("ToyModel.from_pretrained", _fn(ToyModel.from_pretrained),
             {"path": pretrained_path()},
             {"path": Dom("a checkpoint directory", lambda v: False)},
             extra={"path": (Path("/nonexistent"), str(Path(__file__).parent))}),
        Spec("load_pretrained", _fn(mini_vllm.load_pretrained), {},
             {"name": optional(one_of(*list_pretrained()))}, extra={"name": ("",)}),
        Spec("Request", _fn(Request),
             {"request_id": "r", "prompt_token_ids": [1, 2], "sampling_params": SamplingParams()},
             {"request_id": Dom("a non-empty str", lambda v: isinstance(v, str) and v != ""),
              "prompt_token_ids": Dom("a non-empty sequence of ints >= 0",
                                      lambda v: _ids_ok(v, vocab=math.inf)),
              "sampling_params": params, "eos_token_id": optional(count(0)),
              "prompt": optional(STR)},
             extra={"request_id": ("",), "prompt_token_ids": ([], [-1], "ab", [1.5])}),
        Spec("Request.token_ids",
             lambda: Request("r", [1, 2, 3], SamplingParams()).token_ids,
             {"start": 0, "stop": 2}, {"start": count(0), "stop": count(0)}),
        Spec("Request.append_output_token",
             lambda: Request("r", [1, 2, 3], SamplingParams()).append_output_token,
             {"token_id": 5}, {"token_id": count(0), "max_model_len": optional(count(1))}),
        Spec("RequestStatus", _fn(RequestStatus), {"value": "waiting"},
             {"value": one_of(*(s.value for s in RequestStatus))}, signature=False,
             aliases={"value": ("RequestStatus",)},
             skip={"value:array": "Python's Enum lookup compares the array with each value, "
                                  "and numpy refuses to turn that into one bool"}),
        Spec("LLMEngine", _fn(LLMEngine), {},
             {"config": optional(RUNNABLE_CONFIG), "seed": count(0), "use_kv_cache": BOOL,
              "max_num_batched_tokens": optional(count(1)),
              "model": optional(instance(ToyModel))},
             extra={"config": (LLAMA_3_8B,)}),
        Spec("LLMEngine.add_request", lambda: LLMEngine(TOY).add_request, {"prompt": "hi"},
             {"prompt": PROMPT, "params": optional(params),
              "request_id": optional(Dom("a non-empty str", lambda v: isinstance(v, str) and v))},
             extra={"prompt": ("", [], [257], "x" * TOY.max_position_embeddings),
                    "request_id": ("",)},
             aliases={"prompt": ("token id",)}),
        Spec("LLMEngine.generate", lambda: LLMEngine(TOY).generate,
             {"prompts": "hi", "params": SamplingParams(max_tokens=2)},
             {"prompts": Dom("a str, token ids or a list of those",
                             lambda v: isinstance(v, str) or (isinstance(v, list) and
                                                              _ids_ok(v))),
              "params": Dom("None, SamplingParams or a list of one per prompt",
                            lambda v: v is None or isinstance(v, SamplingParams))},
             extra={"prompts": ([], ""), "params": ([SamplingParams()] * 2, ["x"])}),
        Spec("LLMEngine.output", lambda: LLMEngine(TOY).output,
             {"request": Fresh(lambda: Request("r", [1], SamplingParams()))},
             {"request": instance(Request)}),
        Spec("count_work", _fn(mini_vllm.count_work), {"prompt_len": 5, "num_generated": 10},
             {"prompt_len": count(1), "num_generated": count(1)}),
        Spec("simulate_serving", _fn(mini_vllm.simulate_serving),
             {"num_arrival_steps": 3, "max_tokens": (2, 3)},
             {"rate_per_step": number(0), "num_arrival_steps": count(1),
              "step_time_s": number(0, allow_low=False),
              "prompt_len": never("a pair (low, high) of ints, 1 <= low <= high"),
              "max_tokens": never("a pair (low, high) of ints, 1 <= low <= high"),
              "seed": count(0), "config": RUNNABLE_CONFIG,
              "max_num_batched_tokens": optional(count(1)), "max_steps": count(1)},
             extra={"prompt_len": ((5, 2), (0, 3), (1.5, 2), (1,), (1, 2, 3),
                                   (1, TOY.max_position_embeddings)),
                    "max_tokens": ((5, 2), (0, 3), (2, 2.5)),
                    "num_arrival_steps": (20_000,), "config": (LLAMA_3_8B,)},
             check=_simulation_checks),
        Spec("trace_counters", _fn(mini_vllm.trace_counters),
             {"engine": Fresh(_engine_with_request)},
             {"engine": instance(LLMEngine), "max_steps": count(1)}),
    ]


def _config_specs() -> list[Spec]:
    """ModelConfig, every field, and ModelConfig.replace."""
    fields = {f.name: getattr(TOY, f.name) for f in dataclasses.fields(ModelConfig)}
    counts1 = ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads",
               "intermediate_size", "max_position_embeddings", "num_norms_per_layer")
    counts0 = ("num_experts", "num_experts_per_tok", "num_shared_experts",
               "first_k_dense_replace", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim",
               "qk_nope_head_dim", "v_head_dim")
    doms = {"name": STR, "head_dim": optional(count(1)), "rope_theta": number(0, allow_low=False),
            "rms_norm_eps": number(0, allow_low=False), "tie_word_embeddings": BOOL,
            "dtype": DTYPE, "attention_bias": BOOL, "attention_out_bias": BOOL,
            "mlp_type": one_of(*MLP_TYPES), "norm_type": one_of(*NORM_TYPES),
            "position_embedding": one_of(*POSITION_EMBEDDINGS),
            "sliding_window": optional(count(1)), "moe_intermediate_size": optional(count(1)),
            **{f: count(1) for f in counts1}, **{f: count(0) for f in counts0}}
    return [
        Spec("ModelConfig", _fn(ModelConfig), fields, doms,
             extra={"num_kv_heads": (3,), "head_dim": (15,)}),
        Spec("ModelConfig.replace", lambda: TOY.replace, {"name": "toy-2"},
             {"name": STR, "hidden_size": count(1), "num_heads": count(1)},
             extra={"num_heads": (3,)}),
    ]


SPECS = _calculator_specs() + _catalog_specs() + _engine_specs() + _config_specs()
BY_NAME = {spec.name: spec for spec in SPECS}

# Public names not fuzzed, each with its reason.
EXEMPT = {
    "TOY": "a ModelConfig constant (its fields are fuzzed through ModelConfig)",
    "TOY_MHA": "a ModelConfig constant (fuzzed through ModelConfig)",
    "TOY_MQA": "a ModelConfig constant (fuzzed through ModelConfig)",
    "BENCH_LLAMA_200M": "a ModelConfig constant (fuzzed through ModelConfig)",
    "GB": "an int constant, 10**9",
    "GiB": "an int constant, 2**30",
    "check_close": "a notebook check: it reports a mismatch by AssertionError, by design",
    "check_equal": "a notebook check: it reports a mismatch by AssertionError, by design",
    "SimulationResult": "a record simulate_serving fills (fuzzed there); no method takes "
                        "arguments",
}

# Known gaps, each marked xfail(strict=True) with its reason, so the test says when one is
# fixed: none at present.
HARDWARE_GAPS: dict[str, str] = {}


# ---- running one call ---------------------------------------------------------------------------
class _Measured(Exception):
    """Raised instead of measuring: measure_host got past its input checks."""


def _build(value):
    return value.make() if isinstance(value, Fresh) else value


def _call(spec: Spec, arg: str | None = None, value=None):
    kwargs = {name: _build(v) for name, v in spec.valid.items()}
    if arg is not None:
        kwargs[arg] = copy.deepcopy(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's overflow and invalid value
        return spec.target()(**kwargs)


def _bad_floats(result, inf_ok: str, where: str = "result") -> list[str]:
    """NaN anywhere in the result, or inf unless the spec says why it is meaningful."""
    if isinstance(result, (float, np.floating)):
        if math.isnan(result) or (math.isinf(result) and not inf_ok):
            return [f"{where} is {result!r}"]
    elif isinstance(result, np.ndarray) and result.dtype.kind in "fc":
        if np.isnan(result).any() or (np.isinf(result).any() and not inf_ok):
            return [f"{where} holds NaN or inf"]
    elif isinstance(result, dict):
        return [p for k, v in result.items() for p in _bad_floats(v, inf_ok, f"{where}[{k!r}]")]
    elif isinstance(result, (list, tuple)):
        return [p for i, v in enumerate(result) for p in _bad_floats(v, inf_ok, f"{where}[{i}]")]
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        return [p for f in dataclasses.fields(result)
                for p in _bad_floats(getattr(result, f.name), inf_ok, f"{where}.{f.name}")]
    return []


def _names_argument(exc: ValueError, arg: str, spec: Spec) -> bool:
    words = (arg, arg.replace("_", " ")) + spec.aliases.get(arg, ())
    return any(w.lower() in str(exc).lower() for w in words)


def _values(spec: Spec, arg: str):
    yield from BAD_VALUES.items()
    for i, value in enumerate(spec.extra.get(arg, ())):
        yield f"extra[{i}]={value!r:.40}", value


def _problems(spec: Spec, arg: str) -> list[str]:
    dom, problems = spec.doms[arg], []
    for label, value in _values(spec, arg):
        if f"{arg}:{label}" in spec.skip:
            continue
        try:
            result = _call(spec, arg, value)
        except ValueError as exc:
            if not dom.ok(value) and not _names_argument(exc, arg, spec):
                problems.append(f"{label}: the ValueError does not name {arg!r}: {exc}")
            continue
        except _Measured:
            result = None
        except Exception as exc:  # noqa: BLE001 - any other exception is the finding
            problems.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        if not dom.ok(value):
            problems.append(f"{label}: accepted {value!r:.60}, but {arg} must be {dom.text}")
            continue
        problems += [f"{label}: {p}" for p in _bad_floats(result, spec.inf_ok)]
        problems += [f"{label}: {p}" for p in (spec.check(result) if spec.check else [])]
    return problems


def _cases():
    for spec in SPECS:
        for arg in spec.doms:
            marks = ()
            gap = HARDWARE_GAPS.get(f"{spec.name}::{arg}")
            if gap:
                marks = (pytest.mark.xfail(strict=True, reason=gap),)
            yield pytest.param(spec, arg, id=f"{spec.name}::{arg}", marks=marks)


@pytest.fixture(autouse=True)
def _no_measuring(monkeypatch):
    """measure_host stops where it would start timing: its checks run, the measuring does not."""
    def refuse(*args, **kwargs):
        raise _Measured
    monkeypatch.setattr("mini_vllm.hardware._best_rate", refuse)


# ---- the tests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("arg_spec", [pytest.param(s, id=s.name) for s in SPECS])
def test_valid_arguments_work(arg_spec):
    try:
        result = _call(arg_spec)
    except _Measured:
        return
    assert _bad_floats(result, arg_spec.inf_ok) == []
    assert arg_spec.check is None or arg_spec.check(result) == []


@pytest.mark.parametrize(("spec", "arg"), list(_cases()))
def test_bad_argument_raises_value_error(spec, arg):
    problems = _problems(spec, arg)
    assert not problems, f"{spec.name}({arg}=...):\n" + "\n".join(problems)


@pytest.mark.parametrize("arg_spec", [pytest.param(s, id=s.name) for s in SPECS])
def test_a_wrong_call_is_a_type_error(arg_spec):
    with pytest.raises(TypeError):
        _call(arg_spec, "no_such_argument", 1)
    with pytest.raises(TypeError):
        arg_spec.target()(*range(30))  # more positional arguments than any signature takes


def _parameters(spec: Spec) -> set[str]:
    target = spec.target()
    params = inspect.signature(target).parameters.values()
    return {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


@pytest.mark.parametrize("arg_spec", [pytest.param(s, id=s.name) for s in SPECS
                                      if s.signature])
def test_every_parameter_has_a_domain(arg_spec):
    missing = _parameters(arg_spec) - set(arg_spec.doms)
    assert not missing, f"{arg_spec.name}: no domain for {sorted(missing)}; add it to its Spec"


def _public_methods(cls: type) -> list[str]:
    if issubclass(cls, enum.Enum):
        return []
    names = []
    for name, member in vars(cls).items():
        func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if name.startswith("_") or not inspect.isfunction(func):
            continue
        params = list(inspect.signature(func).parameters)
        if params[1:] if not isinstance(member, staticmethod) else params:
            names.append(f"{cls.__name__}.{name}")  # takes an argument: needs a spec
    return names


def _public_roofline() -> list[str]:
    return [name for name, f in vars(roofline).items() if not name.startswith("_") and
            inspect.isfunction(f) and f.__module__ == roofline.__name__]


def test_every_public_name_is_fuzzed_or_exempt():
    needed = set(mini_vllm.__all__) | set(_public_roofline())
    for name in mini_vllm.__all__:
        obj = getattr(mini_vllm, name)
        if isinstance(obj, type) and name not in EXEMPT:
            needed |= set(_public_methods(obj))
    missing = needed - set(BY_NAME) - set(EXEMPT)
    assert not missing, f"add a Spec or an EXEMPT reason for: {sorted(missing)}"
    assert not set(EXEMPT) - set(mini_vllm.__all__), "EXEMPT names a name not in __all__"
    assert all(reason.strip() for reason in EXEMPT.values())
    assert not set(HARDWARE_GAPS) - {f"{s.name}::{a}" for s in SPECS for a in s.doms}
