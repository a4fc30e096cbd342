"""Benchmark of the numpy engine: decode speed, the bandwidth bound, and what the KV cache saves.

Run ``python -m mini_vllm.bench`` (``--help`` for options). It prints one progress line per case:
decode tokens/s at several batch sizes for the toy preset and for BENCH_LLAMA_200M (Llama-shaped,
~246M parameters in float32, memory-bound at batch 1); this host's matrix-vector bandwidth and the
resulting bound (bandwidth / weight bytes read per step, in tokens/s); the wall-time ratio of
generating without and with the KV cache; and, only when torch and transformers happen to be
importable, the same config and weights run by HF transformers' LlamaForCausalLM. Timings are wall-clock and noisy on
a shared machine: each figure is the best of 8 rounds (2 with --quick), and every round times
mini_vllm, HF and (at batch 1 of the memory-bound preset) the bandwidth one after the other, in
an order that alternates, so all see the same conditions.

References:
    Roofline model (Williams, Waterman, Patterson, 2009): https://doi.org/10.1145/1498765.1498785
    HF transformers LlamaForCausalLM: https://huggingface.co/docs/transformers/model_doc/llama
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from .config import BENCH_LLAMA_200M, TOY, ModelConfig
from .engine import LLMEngine, count_work
from .model import ToyModel, ModelWeights
from .sampler import SamplingParams

BATCH_SIZES = (1, 4, 16, 64)
PROMPT_LEN = 16
# Below this many weight bytes the model stays in the CPU caches and the DRAM bound says nothing.
CACHE_RESIDENT_BYTES = 64e6


def blas_threads() -> int:
    """Threads numpy's OpenBLAS uses: OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS), else all cores."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return max(1, int(os.environ[name]))
    return os.cpu_count() or 1


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def matvec_run(nbytes: float = 256e6, rng: np.random.Generator | None = None, calls: int = 4
               ) -> tuple[Callable[[], float], int]:
    """(a callable timing ``calls`` float32 products ``W @ x`` in seconds, bytes they stream).

    W is stored (out, in), as the model stores its weights, and is far larger than the CPU
    caches. A shared host's bandwidth comes in bursts, so a bound meant for a timed run should
    stream for as long as that run does (see bench_preset), not pick one lucky burst.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    cols = 4096
    w = rng.standard_normal((int(nbytes) // (4 * cols), cols), dtype=np.float32)
    x = rng.standard_normal(cols, dtype=np.float32)
    w @ x  # warm up (page faults, thread pool)

    def run() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            w @ x
        return time.perf_counter() - start
    return run, calls * w.nbytes


def measure_matvec_bandwidth(nbytes: float = 256e6, repeats: int = 10,
                             rng: np.random.Generator | None = None) -> float:
    """Bytes/s streamed by a float32 matrix-vector product over ``nbytes``, best of ``repeats``."""
    run, size = matvec_run(nbytes, rng)
    return size / min(run() for _ in range(repeats))


def decode_bytes_per_step(weights: ModelWeights) -> int:
    """Weight bytes a decode step must read: everything but the embedding table (one row is read)."""
    tied = np.shares_memory(weights.lm_head, weights.embed)
    table = 0 if tied else weights.embed.nbytes  # a tied table is read in full as the head
    return weights.nbytes - table + weights.embed[0].nbytes


def decode_run(model: ToyModel, batch_size: int, steps: int, rng: np.random.Generator
               ) -> Callable[[], float]:
    """A callable that times ``steps`` decode steps of LLMEngine at ``batch_size``, in seconds.

    Each call starts fresh requests with random 16-token prompts; the prefill step and the first
    decode step (which pays first-touch page faults) are not timed.
    """
    def run() -> float:
        engine = LLMEngine(model=model)
        params = SamplingParams(temperature=0.0, max_tokens=steps + 2, ignore_eos=True)
        for _ in range(batch_size):
            engine.add_request(rng.integers(0, model.config.vocab_size, PROMPT_LEN).tolist(), params)
        engine.step()  # prefill, and the first token
        engine.step()  # the first decode step: untimed
        start = time.perf_counter()
        for _ in range(steps):
            engine.step()
        return time.perf_counter() - start
    return run


def best_interleaved(runs: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Fastest time of each run over ``repeats`` rounds that take every run in turn.

    Alternating keeps a burst of load from another process from landing on one contender only,
    so the ratio of two best times is fairer than timing one after the other; the order within a
    round reverses every round.
    """
    best = {name: float("inf") for name in runs}
    order = list(runs)
    for _ in range(repeats):
        for name in order:
            best[name] = min(best[name], runs[name]())
        order.reverse()  # nobody always runs right after another's threads were busy
    return best


def cache_speedup(config: ModelConfig, new_tokens: int = 256) -> dict:
    """Wall time of generating ``new_tokens`` from a 16-token prompt, without and with the cache."""
    model = ToyModel(config)
    params = SamplingParams(temperature=0.0, max_tokens=new_tokens, ignore_eos=True)
    prompt = list(range(1, PROMPT_LEN + 1))
    result = {}
    for use_kv_cache in (False, True):
        engine = LLMEngine(model=model, use_kv_cache=use_kv_cache)
        start = time.perf_counter()
        out = engine.generate(prompt, params)[0]
        result[use_kv_cache] = (time.perf_counter() - start, out.num_processed_tokens, out.token_ids)
    (t_plain, work_plain, ids_plain), (t_cache, work_cache, ids_cache) = result[False], result[True]
    assert ids_plain == ids_cache, "cached and uncached generations differ"
    assert (work_plain, work_cache) == count_work(PROMPT_LEN, new_tokens)
    return {"no_cache_s": t_plain, "cache_s": t_cache, "ratio": t_plain / t_cache,
            "no_cache_tokens": work_plain, "cache_tokens": work_cache}


def trained_generation(new_tokens: int = 200, repeats: int = 5, prompt: str = "ROMEO:\n") -> dict:
    """The shipped trained model: seconds to load it, and to generate ``new_tokens`` at batch 1
    (prefill included, best of ``repeats``)."""
    from .pretrained import load_pretrained

    start = time.perf_counter()
    model = load_pretrained()
    load_s = time.perf_counter() - start
    params = SamplingParams(temperature=0.8, max_tokens=new_tokens, seed=0, ignore_eos=True)
    best, text = float("inf"), ""
    for _ in range(repeats):
        engine = LLMEngine(model=model)
        start = time.perf_counter()
        out = engine.generate(prompt, params)[0]
        best = min(best, time.perf_counter() - start)
        text = out.text
    assert len(out.token_ids) == new_tokens
    return {"load_s": load_s, "generate_s": best, "tokens_per_s": new_tokens / best, "text": text}


# ---- optional: HF transformers on the same weights ---------------------------------------------
def _hf_model(model: ToyModel):
    """LlamaForCausalLM with ``model``'s config and weights, or None without torch/transformers."""
    try:
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError:
        return None
    c, w = model.config, model.weights
    hf_config = LlamaConfig(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_layers, num_attention_heads=c.num_heads,
        num_key_value_heads=c.num_kv_heads, head_dim=c.head_dim,
        max_position_embeddings=c.max_position_embeddings, rms_norm_eps=c.rms_norm_eps,
        rope_theta=c.rope_theta, rope_parameters={"rope_type": "default", "rope_theta": c.rope_theta},
        tie_word_embeddings=c.tie_word_embeddings, attention_bias=False)
    hf_config._attn_implementation = "sdpa"
    torch.set_num_threads(blas_threads())  # same number of threads as numpy's BLAS
    hf = LlamaForCausalLM(hf_config).to(getattr(torch, c.dtype)).eval()

    def put(param, array):  # both store projections (out, in): same layout, a plain copy
        param.data.copy_(torch.from_numpy(np.ascontiguousarray(array)))

    put(hf.model.embed_tokens.weight, w.embed)
    put(hf.model.norm.weight, w.final_norm)
    if not c.tie_word_embeddings:
        put(hf.lm_head.weight, w.lm_head_proj)
    for ours, theirs in zip(w.layers, hf.model.layers):
        a, m = theirs.self_attn, theirs.mlp
        q, k, v = np.split(ours.qkv_proj, [c.q_size, c.q_size + c.kv_size])  # rows: q, k, v
        gate, up = np.split(ours.gate_up_proj, 2)
        for param, array in ((a.q_proj.weight, q), (a.k_proj.weight, k), (a.v_proj.weight, v),
                             (a.o_proj.weight, ours.o_proj), (m.gate_proj.weight, gate),
                             (m.up_proj.weight, up), (m.down_proj.weight, ours.down_proj),
                             (theirs.input_layernorm.weight, ours.attn_norm),
                             (theirs.post_attention_layernorm.weight, ours.mlp_norm)):
            put(param, array)
    return hf


def hf_max_logit_diff(model: ToyModel, hf) -> float:
    """Largest |logit difference| between mini_vllm and HF on one 16-token prompt."""
    import torch
    ids = list(range(1, PROMPT_LEN + 1))
    ours = model.forward([(ids, model.new_cache())])[0]
    with torch.inference_mode():
        theirs = hf(input_ids=torch.tensor([ids])).logits[0].float().numpy()
    return float(np.max(np.abs(ours - theirs)))


def hf_decode_run(hf, vocab_size: int, batch_size: int, steps: int, rng: np.random.Generator
                  ) -> Callable[[], float]:
    """Like decode_run, for HF greedy decoding with its KV cache (prefill and first step untimed)."""
    import inspect

    import torch
    # transformers 5 renamed past_key_values to cache; accept either version.
    cache_kw = "cache" if "cache" in inspect.signature(hf.forward).parameters else "past_key_values"

    def forward(ids, cache=None):
        out = hf(input_ids=ids, use_cache=True, logits_to_keep=1, **{cache_kw: cache})
        new_cache = getattr(out, "cache", None) or out.past_key_values
        return new_cache, out.logits[:, -1].argmax(-1, keepdim=True)

    def run() -> float:
        with torch.inference_mode():
            prompts = rng.integers(0, vocab_size, (batch_size, PROMPT_LEN))
            cache, token = forward(torch.from_numpy(prompts))
            cache, token = forward(token, cache)  # the first decode step: untimed
            start = time.perf_counter()
            for _ in range(steps):
                cache, token = forward(token, cache)
            return time.perf_counter() - start
    return run


# ---- the report ---------------------------------------------------------------------------------
def _steps_for(config: ModelConfig, batch_size: int, quick: bool) -> int:
    if config.hidden_size <= 256:
        return 20 if quick else 50
    return max(2, (8 if quick else 16) // max(1, batch_size // 4))


def bench_preset(config: ModelConfig, batch_sizes, *, repeats: int, quick: bool, hf: bool,
                 bandwidth: float, rng: np.random.Generator) -> dict:
    """Decode tokens/s per batch size (and HF's, if available) for one preset; prints as it goes."""
    start = time.perf_counter()
    model = ToyModel(config, rng=np.random.default_rng(0))
    step_bytes = decode_bytes_per_step(model.weights)
    bound = bandwidth / step_bytes
    _say(f"{config.name}: {model.weights.num_params / 1e6:.1f}M params, {config.dtype}, "
         f"{step_bytes / 1e6:.1f} MB read per decode step, built in {time.perf_counter() - start:.1f} s; "
         f"bandwidth bound at batch 1 from the first reading: {bound:.1f} tokens/s")
    hf_model = _hf_model(model) if hf else None
    if hf_model is not None:
        _say(f"{config.name}: HF transformers loaded; max |logit diff| vs mini_vllm = "
             f"{hf_max_logit_diff(model, hf_model):.2e}")
    rows = {}
    for b in batch_sizes:
        steps = _steps_for(config, b, quick)
        runs = {"ours": decode_run(model, b, steps, rng)}
        if hf_model is not None:
            runs["hf"] = hf_decode_run(hf_model, config.vocab_size, b, steps, rng)
        measure_bound = b == 1 and step_bytes >= CACHE_RESIDENT_BYTES
        if measure_bound:  # the bandwidth too, in the same rounds and streaming as many bytes as
            # the timed decode steps read: on a shared host it drifts and comes in bursts
            calls = max(1, round(steps * step_bytes / 256e6))
            matvec, matvec_bytes = matvec_run(rng=rng, calls=calls)
            runs["matvec"] = matvec
        best = best_interleaved(runs, repeats)
        if measure_bound:
            bandwidth = matvec_bytes / best["matvec"]
            bound = bandwidth / step_bytes
        ours = b * steps / best["ours"]
        line = f"{config.name} batch {b:>3}: {ours:10.1f} tokens/s decode"
        if measure_bound:
            line += (f" ({100 * ours / bound:.0f}% of the bandwidth bound {bound:.1f} tokens/s: "
                     f"{bandwidth / 1e9:.1f} GB/s streamed by {calls} matvecs over 256 MB in the "
                     f"same rounds)")
        elif 1 in rows:
            line += f" ({ours / rows[1]['tokens_per_s']:.1f}x batch 1)"
        row = {"tokens_per_s": ours}
        if hf_model is not None:
            theirs = b * steps / best["hf"]
            row["hf_tokens_per_s"] = theirs
            line += f"; HF transformers {theirs:.1f} tokens/s, mini_vllm/HF = {ours / theirs:.2f}x"
        rows[b] = row
        _say(line)
    return {"bound_tokens_per_s": bound, "bandwidth_bytes_per_s": bandwidth,
            "decode_bytes": step_bytes, "batches": rows}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print its figures; returns them as a dict."""
    parser = argparse.ArgumentParser(prog="python -m mini_vllm.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions")
    parser.add_argument("--toy-only", action="store_true", help="skip the 246M-parameter preset")
    parser.add_argument("--no-hf", action="store_true", help="skip HF transformers even if installed")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--trained-only", action="store_true",
                        help="only the shipped trained model: load time and 200 tokens at batch 1")
    args = parser.parse_args(argv)
    if args.trained_only:
        return {"trained": _bench_trained(repeats=2 if args.quick else 5)}
    if any(b < 1 for b in args.batch_sizes):
        parser.error("batch sizes must be >= 1")
    repeats = 2 if args.quick else 8
    rng = np.random.default_rng(0)
    _say(f"{os.cpu_count()} CPU cores, {blas_threads()} BLAS threads (set OPENBLAS_NUM_THREADS to change); "
         f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "")
    _say("measuring host matrix-vector bandwidth (float32 W @ x, 4 calls over a 256 MB matrix, "
         "a first reading) ...")
    bandwidth = measure_matvec_bandwidth(repeats=3 if args.quick else 5)
    _say(f"host matvec bandwidth: {bandwidth / 1e9:.2f} GB/s")
    report = {"bandwidth_bytes_per_s": bandwidth}
    presets = [TOY] if args.toy_only else [TOY, BENCH_LLAMA_200M]
    for config in presets:
        report[config.name] = bench_preset(config, args.batch_sizes, repeats=repeats, quick=args.quick,
                                           hf=not args.no_hf, bandwidth=bandwidth, rng=rng)
    _say(f"KV cache: generating 256 tokens from a {PROMPT_LEN}-token prompt ({TOY.name}) ...")
    speed = cache_speedup(TOY, 256)
    _say(f"KV cache: no cache {speed['no_cache_s']:.2f} s ({speed['no_cache_tokens']} tokens "
         f"processed) vs cache {speed['cache_s']:.2f} s ({speed['cache_tokens']} tokens): "
         f"{speed['ratio']:.1f}x wall time")
    report["cache_speedup"] = speed
    report["trained"] = _bench_trained(repeats=2 if args.quick else 5)
    return report


def _bench_trained(repeats: int) -> dict:
    _say("trained model: load, then generate 200 tokens at batch 1 (best of "
         f"{repeats}) ...")
    result = trained_generation(200, repeats)
    _say(f"trained model: loaded in {result['load_s'] * 1e3:.0f} ms; 200 tokens in "
         f"{result['generate_s']:.3f} s ({result['tokens_per_s']:.0f} tokens/s)")
    return result


if __name__ == "__main__":
    main()
