"""The site's prefill-vs-decode explorer (book/_static/explorers/prefill_decode.js) against
mini_vllm.

Over every catalog model, GPU and weight dtype, decode batches 1, 32 and 1,024 and prompts of 1,
512 and 16,384 tokens, the page's numbers equal the package's to 1e-9 relative: the prefill
bound, the n decode steps' bound (widgets._prefill_decode_bound, itself checked against
roofline.py step by step in test_prefill_decode_bound.py), both tokens/s and their ratio; where
Python raises a ValueError (a GPU without the math dtype's rate) the page shows the same message
instead of a figure. The readout's lines are the notebook's, character for character; the
chart's points and the alt text agree too.
"""

from __future__ import annotations

import math

import pytest
from conftest import assert_site_agrees

from mini_vllm.catalog import get_model, list_models
from mini_vllm.hardware import get_gpu, list_gpus
from mini_vllm.widgets import (PROMPT_TOKENS, _prefill_decode_bound,
                               _prefill_decode_bound_readout, explore_prefill_decode_bound)

RTOL = 1e-9
WEIGHT_DTYPES = ["bfloat16", "float16", "fp8", "int8", "int4"]
BATCHES = [1, 32, 1024]  # the slider's ends and middle
PROMPTS = [1, 512, 16384]  # tokens: the slider's ends and middle
KEYS = ("prefill_s", "decode_s", "prefill_tokens_per_s", "decode_tokens_per_s", "ratio")

COMPUTE = """([spec, grid]) => grid.map((v) => {
  try {
    const e = MV.explorers.prefill_decode, r = e.compute(spec, v);
    return {prefill_s: r.prefill_s, decode_s: r.decode_s, ratio: r.ratio,
            readout: e.readout(spec, v, r),
            prefill_tokens_per_s: r.prefill_tokens_per_s,
            decode_tokens_per_s: r.decode_tokens_per_s,
            compute_bound_steps: r.compute_bound_steps, dtype: r.dtype};
  } catch (err) {
    return {error: err.message, userFacing: Boolean(err.userFacing)};
  }
})"""

PAGE = """([spec, grid]) => grid.map((v) => {
  const e = MV.explorers.prefill_decode, r = e.compute(spec, v);
  return {points: r.points, readout: e.readout(spec, v, r), alt: e.alt(spec, v, r)};
})"""


@pytest.fixture(scope="module")
def spec():
    return explore_prefill_decode_bound(show=False).site_spec()[1]


def python_row(v: dict) -> dict:
    try:
        return _prefill_decode_bound(get_model(v["model"]), get_gpu(v["gpu"]), v["prompt_len"],
                                     v["batch_size"], v["weight_dtype"])
    except ValueError as exc:
        return {"error": str(exc)}


def test_site_prefill_decode_agrees_with_mini_vllm(site_js, spec):
    grid = [dict(model=m, gpu=g, weight_dtype=w, batch_size=b, prompt_len=n)
            for m in list_models() for g in list_gpus() for w in WEIGHT_DTYPES
            for b in BATCHES for n in PROMPTS]
    site = site_js(COMPUTE, [spec, grid])
    agreed, errors = assert_site_agrees(grid, site, python_row, KEYS,
                                        ("compute_bound_steps", "dtype"), same_message=True,
                                        rel_tol=RTOL)
    for v, js, py in agreed:
        cfg, gpu = get_model(v["model"]), get_gpu(v["gpu"])
        assert js["readout"] == _prefill_decode_bound_readout(
            cfg, gpu, v["weight_dtype"], v["batch_size"], v["prompt_len"], py).splitlines(), v
    # every setting draws: a GPU without the math dtype's rate (T4: no bf16) computes in fp16
    assert len(grid) == 13 * 13 * 5 * 3 * 3 and errors == 0


def test_site_prefill_decode_chart_and_readout(site_js, spec):
    """Every point of the chart, the readout's lines (notes included) and the alt text."""
    grid = [dict(spec["values"]),
            dict(model="Llama-3-8B", gpu="H100 SXM5 80GB", weight_dtype="fp8", batch_size=1024,
                 prompt_len=16384),
            dict(model="GPT-2-small", gpu="B200 (HGX, 1000 W)", weight_dtype="fp8",
                 batch_size=32, prompt_len=1),  # ridge 562.5 FLOP/byte: Python prints 562
            dict(model="Mixtral-8x7B-v0.1", gpu="A100 SXM4 80GB", weight_dtype="int4",
                 batch_size=64, prompt_len=2048),
            dict(model="DeepSeek-V3", gpu="T4", weight_dtype="float16", batch_size=8,
                 prompt_len=128)]
    explorer = explore_prefill_decode_bound(show=False)
    for v, page in zip(grid, site_js(PAGE, [spec, grid])):
        cfg, gpu = get_model(v["model"]), get_gpu(v["gpu"])
        assert [p["n"] for p in page["points"]] == PROMPT_TOKENS
        for p in page["points"]:
            py = _prefill_decode_bound(cfg, gpu, p["n"], v["batch_size"], v["weight_dtype"])
            for key in ("prefill_s", "decode_s"):
                assert math.isclose(p[key], py[key], rel_tol=RTOL), (v, p["n"], key)
        chosen = _prefill_decode_bound(cfg, gpu, v["prompt_len"], v["batch_size"],
                                       v["weight_dtype"])
        readout = _prefill_decode_bound_readout(cfg, gpu, v["weight_dtype"], v["batch_size"],
                                                v["prompt_len"], chosen)
        assert page["readout"] == readout.splitlines(), v
        assert explorer.alt_text().startswith("Line chart") and "n = " in page["alt"]
        assert page["alt"] == explorer._alt(**v), v


def test_site_prefill_decode_offers_the_notebook_controls(spec):
    explorer = explore_prefill_decode_bound(show=False)
    assert spec["values"] == explorer.values == {
        "model": "Llama-3-8B", "gpu": "H100 SXM5 80GB", "weight_dtype": "bfloat16",
        "batch_size": 1, "prompt_len": 512}
    assert [name for name, _ in spec["options"]["model"]] == list_models()
    assert [name for name, _ in spec["options"]["gpu"]] == list_gpus()
    assert [value for _, value in spec["options"]["weight_dtype"]] == WEIGHT_DTYPES
    assert [value for _, value in spec["options"]["batch_size"]] == [2 ** i for i in range(11)]
    assert [value for _, value in spec["options"]["prompt_len"]] == PROMPT_TOKENS
