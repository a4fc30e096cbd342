"""The prefill-vs-decode bound explorer (widgets.explore_prefill_decode_bound) and its plot.

Its numbers are roofline.py's: the prefill bound itself, and the n decode steps' time equal to
the step-by-step sum of decode_step_time_bound over a cache growing from 0 to n - 1 tokens (the
closed form only adds them faster); a bad setting gives a readable readout, not a traceback.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest

from mini_vllm import plots, roofline
from mini_vllm.catalog import get_model
from mini_vllm.hardware import get_gpu
from mini_vllm.units import format_duration
from mini_vllm.widgets import (PROMPT_TOKENS, _math_dtype, _prefill_decode_bound,
                               explore_prefill_decode_bound)

CELLS = [  # model, GPU, weight dtype, batch, n: every regime of the decode steps
    ("Llama-3-8B", "H100 SXM5 80GB", "bfloat16", 1, 512),  # memory-bound at every step
    ("Llama-3-8B", "H100 SXM5 80GB", "bfloat16", 1024, 700),  # compute-bound, then memory
    ("Llama-3-8B", "H100 SXM5 80GB", "fp8", 1024, 3),  # compute-bound at every step
    ("Llama-3-8B", "A100 SXM4 80GB", "fp8", 32, 1),  # fp8 weights, bf16 math
    ("Mixtral-8x7B-v0.1", "A100 SXM4 80GB", "int4", 64, 300),  # MoE, half-byte weights
    ("DeepSeek-V3", "H200 SXM 141GB", "fp8", 256, 257),  # MLA latent cache, MoE
    ("GPT-2-small", "B200 (HGX, 1000 W)", "bfloat16", 1024, 2048),  # learned positions
    ("Gemma-2-9B", "T4", "float16", 2, 64),  # a GPU without bf16
]


def step_by_step(cfg, gpu, n: int, batch: int, weight_dtype: str) -> tuple[float, int]:
    """The definition: one decode_step_time_bound per step, step i reading i cached tokens."""
    kw = dict(weight_dtype=weight_dtype, dtype=_math_dtype(gpu, weight_dtype))
    steps = [roofline.decode_step_breakdown(cfg, gpu, batch, context_len=i, **kw)
             for i in range(n)]
    assert all(s["bound_s"] == roofline.decode_step_time_bound(
        cfg, gpu, batch, context_len=i, **kw) for i, s in enumerate(steps[:3]))
    return (math.fsum(s["bound_s"] for s in steps),
            sum(s["memory_s"] < s["compute_s"] for s in steps))


@pytest.mark.parametrize("model,gpu,weight_dtype,batch,n", CELLS)
def test_bounds_equal_roofline(model, gpu, weight_dtype, batch, n):
    cfg, spec = get_model(model), get_gpu(gpu)
    r = _prefill_decode_bound(cfg, spec, n, batch, weight_dtype)
    dtype = _math_dtype(spec, weight_dtype)
    assert r["dtype"] == dtype
    assert r["prefill_s"] == roofline.prefill_time_bound(cfg, spec, n, weight_dtype=weight_dtype,
                                                         dtype=dtype)
    decode_s, compute_steps = step_by_step(cfg, spec, n, batch, weight_dtype)
    assert math.isclose(r["decode_s"], decode_s, rel_tol=1e-12), (r["decode_s"], decode_s)
    assert r["compute_bound_steps"] == compute_steps
    assert math.isclose(r["prefill_tokens_per_s"], n / r["prefill_s"], rel_tol=1e-15)
    assert math.isclose(r["decode_tokens_per_s"], n * batch / decode_s, rel_tol=1e-12)


def test_cells_cover_every_decode_regime():
    regimes = set()
    for model, gpu, weight_dtype, batch, n in CELLS:
        steps = _prefill_decode_bound(get_model(model), get_gpu(gpu), n, batch,
                                      weight_dtype)["compute_bound_steps"]
        regimes.add("memory" if steps == 0 else "compute" if steps == n else "both")
    assert regimes == {"memory", "compute", "both"}


def test_math_dtype_follows_the_weights_where_the_gpu_has_the_rate():
    h100, a100 = get_gpu("H100 SXM5 80GB"), get_gpu("A100 SXM4 80GB")
    assert _math_dtype(h100, "fp8") == "fp8" and _math_dtype(a100, "fp8") == "bfloat16"
    assert _math_dtype(h100, "int4") == _math_dtype(h100, "int8") == "bfloat16"
    assert _math_dtype(get_gpu("T4"), "float16") == "float16"
    assert _math_dtype(get_gpu("T4"), "bfloat16") == _math_dtype(get_gpu("T4"), "int4") == \
        "float16"  # no bf16 rate on a T4: vLLM runs bf16 models there in fp16


def test_readout_says_the_numbers_at_the_defaults():
    explorer = explore_prefill_decode_bound(show=False)
    cfg, gpu = get_model("Llama-3-8B"), get_gpu("H100 SXM5 80GB")
    prefill = roofline.prefill_time_bound(cfg, gpu, 512)
    decode, _ = step_by_step(cfg, gpu, 512, 1, "bfloat16")
    lines = explorer.readout_text.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"Prefill of 512 tokens in one pass: {format_duration(prefill)} "
                               f"({512 / prefill:,.0f} tokens/s), compute-bound")
    assert lines[1].startswith("512 decode steps at batch 1 (512 tokens")
    assert f"{format_duration(decode)} ({512 / decode:,.0f} tokens/s)" in lines[1]
    assert lines[1].endswith("memory-bound at every step")
    assert lines[2].endswith(f"decode takes {decode / prefill:,.1f}x as long")


def test_notes_past_the_window_and_the_memory():
    explorer = explore_prefill_decode_bound(show=False)
    text = explorer.update(batch_size=1024, prompt_len=16384)
    assert "handles at most 8,192 tokens" in text and "exceed the H100 SXM5 80GB's" in text
    assert "compute-bound for the first" in text and "then memory-bound" in text


def test_a_bad_setting_gives_a_readable_readout():
    explorer = explore_prefill_decode_bound(show=False)
    text = explorer.update(gpu="T4")  # bf16 weights: the T4 has no bf16 rate, so fp16 math
    assert explorer.figure is not None and "(float16 math)" in text, text
    text = explorer.update(model="DeepSeek-V3")  # 1.3 TB of weights on a 16 GB card: said
    assert explorer.figure is not None and "exceed the T4's" in text, text
    text = explorer.update(prompt_len=300)  # between the slider's steps: snapped, and said
    assert explorer.values["prompt_len"] == 256 and "using 256" in text
    with pytest.raises(ValueError, match="unknown default"):
        explore_prefill_decode_bound(show=False, context_len=4)


def test_figure_is_drawn_with_the_chosen_n_marked():
    explorer = explore_prefill_decode_bound(show=False, batch_size=32, prompt_len=64)
    ax = explorer.figure.axes[0]
    prefill, decode = ax.lines[:2]
    assert list(prefill.get_xdata()) == PROMPT_TOKENS == list(decode.get_xdata())
    r = _prefill_decode_bound(get_model("Llama-3-8B"), get_gpu("H100 SXM5 80GB"), 64, 32,
                              "bfloat16")
    j = PROMPT_TOKENS.index(64)
    assert math.isclose(prefill.get_ydata()[j], r["prefill_s"] / 64 / 1e-3)  # ms
    assert math.isclose(decode.get_ydata()[j], r["decode_s"] / (64 * 32) / 1e-3)
    assert ax.get_xlabel() == "prompt tokens n" and ax.get_ylabel() == "time per token (ms)"
    assert "Llama-3-8B (bfloat16) on H100 SXM5 80GB" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "prefill: n tokens in one pass", "decode: n steps at batch 32", "n = 64"]
    assert format_duration(r["decode_s"] / (64 * 32)) in [t.get_text() for t in ax.texts]
    assert "n = 64" in explorer.alt_text() and "batch 32" in explorer.alt_text()
    html = explorer.static_html()
    assert "data-mv-kind='prefill_decode'" in html and "mv-fallback" in html


def test_plot_prefill_decode_bound_checks_its_input():
    ax = plots.plot_prefill_decode_bound([1, 2, 4], [1e-3, 1.5e-3, 2e-3], [1e-3, 2e-3, 4e-3],
                                         chosen=2)
    try:
        assert ax.get_ylabel() == "time per token (ms)" and len(ax.texts) == 2
        with pytest.raises(ValueError, match="chosen"):
            plots.plot_prefill_decode_bound([1, 2], [1e-3, 1e-3], [1e-3, 2e-3], chosen=3, ax=ax)
        with pytest.raises(ValueError, match="positive seconds"):
            plots.plot_prefill_decode_bound([1, 2], [1e-3, 0.0], [1e-3, 2e-3], ax=ax)
    finally:
        plt.close(ax.figure)
