"""mini_vllm: a small, real, tested LLM inference engine in numpy, and the calculators of the book.

Engine: ByteTokenizer -> ToyModel (Llama-style decoder) -> Sampler, driven by LLMEngine's
``num_tokens - num_computed_tokens`` rule. ``load_pretrained()`` gives the byte-level Llama the
project trained on Shakespeare's plays (shipped in Hugging Face's format); ``ToyModel(config)``
gives seeded random weights. Calculators: the same ModelConfig drives KV memory,
vLLM's concurrency figures and the roofline. Plots and widgets live in ``mini_vllm.plots`` and
``mini_vllm.widgets`` (imported on demand, since they pull in matplotlib and ipywidgets).
"""

from .catalog import from_hf_config, get_model, list_models, model_info
from .checks import check_close, check_equal
from .config import BENCH_LLAMA_200M, TOY, TOY_MHA, TOY_MQA, ModelConfig
from .engine import LLMEngine, count_work
from .hardware import GPUSpec, get_gpu, list_gpus, measure_host
from .kv_cache import KVCache
from .memory import (free_kv_bytes, kv_bytes_per_sequence, kv_bytes_per_token, kv_bytes_total,
                     max_sequences_naive, num_params, vllm_kv_cache_report, weight_bytes)
from .model import ToyModel
from .pretrained import list_pretrained, load_pretrained
from .request import Request, RequestStatus
from .roofline import (critical_batch_size, decode_intensity, decode_tokens_per_s_bound,
                       littles_law_concurrency, prefill_intensity, ridge_point, utilization)
from .sampler import Sampler, SamplingParams, probabilities
from .simulate import SimulationResult, simulate_serving, trace_counters
from .tokenizer import ByteTokenizer
from .units import GB, GiB, format_bytes

__version__ = "0.1.0"

__all__ = [
    "BENCH_LLAMA_200M", "ByteTokenizer", "GB", "GPUSpec", "GiB", "KVCache", "LLMEngine", "ModelConfig", "Request",
    "RequestStatus", "Sampler", "SamplingParams", "SimulationResult", "TOY", "TOY_MHA", "TOY_MQA", "ToyModel",
    "check_close", "check_equal", "count_work", "critical_batch_size", "decode_intensity",
    "decode_tokens_per_s_bound", "format_bytes", "free_kv_bytes", "from_hf_config", "get_gpu",
    "get_model", "kv_bytes_per_sequence", "kv_bytes_per_token", "kv_bytes_total", "list_gpus",
    "list_models", "list_pretrained", "littles_law_concurrency", "load_pretrained", "max_sequences_naive", "measure_host",
    "model_info", "num_params", "prefill_intensity", "probabilities", "ridge_point", "simulate_serving", "trace_counters", "utilization",
    "vllm_kv_cache_report", "weight_bytes",
]
