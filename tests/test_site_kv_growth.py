"""The site's KV-growth explorer (book/_static/explorers/kv_growth.js) against mini_vllm.

Over every catalog model with each of its legal num_kv_heads, every GPU, every KV dtype, the
ends and middle of the context slider, the smallest and largest batch and 1 or 8 GPUs, the
page's bytes (per token, per sequence, the batch, free after the weights), its naive
concurrency and vLLM's KV tokens and maximum concurrency equal the package's to 1e-9
relative; where Python raises a ValueError the page shows a message, on the same cells.
"""

from __future__ import annotations

import math

import pytest
from conftest import assert_site_agrees

from mini_vllm import memory
from mini_vllm.catalog import get_model, list_models
from mini_vllm.hardware import get_gpu, list_gpus
from mini_vllm.site_data import kv_head_choices, kv_head_options
from mini_vllm.widgets import explore_kv_growth

RTOL = 1e-9
KV_DTYPES = ["bfloat16", "float16", "fp8"]
CONTEXTS = [256, 8192, 131072]  # the slider's ends and middle (tokens)
BATCHES = [1, 256]
NUM_GPUS = [1, 8]

COMPUTE = """([spec, grid]) => grid.map((v) => {
  try {
    const r = MV.explorers.kv_growth.compute(spec, v);
    return {per_token: r.per_token, per_sequence: r.per_sequence, total: r.total, free: r.free,
            naive: r.naive, fits: r.fits, tokens: r.report ? r.report.kv_cache_tokens : null,
            concurrency: r.report ? r.report.max_concurrency : null,
            report_error: r.report_error || null};
  } catch (err) {
    return {error: err.message, userFacing: Boolean(err.userFacing)};
  }
})"""


@pytest.fixture(scope="module")
def spec():
    return explore_kv_growth(show=False).site_spec()[1]


def python_row(v: dict) -> dict:
    base, gpu = get_model(v["model"]), get_gpu(v["gpu"])
    cfg = base if base.is_mla or v["num_kv_heads"] == base.num_kv_heads else \
        base.replace(num_kv_heads=v["num_kv_heads"])  # as widgets._render_kv_growth
    kv, ctx, n = v["kv_dtype"], v["context_len"], v["num_gpus"]
    try:
        free = memory.free_kv_bytes(cfg, gpu, num_gpus=n)
    except ValueError as exc:
        return {"error": str(exc)}
    row = {"per_token": memory.kv_bytes_per_token(cfg, kv),
           "per_sequence": memory.kv_bytes_per_sequence(cfg, ctx, kv),
           "total": memory.kv_bytes_total(cfg, ctx, v["batch_size"], kv), "free": free,
           "naive": memory.max_sequences_naive(cfg, gpu, ctx, kv_dtype=kv, num_gpus=n)}
    row["fits"] = row["total"] <= free
    try:
        report = memory.vllm_kv_cache_report(cfg, gpu, ctx, kv_dtype=kv, tensor_parallel_size=n)
        row.update(tokens=report.kv_cache_tokens, concurrency=report.max_concurrency)
    except ValueError:
        row.update(tokens=None, concurrency=None)
    return row


def grid() -> list[dict]:
    return [dict(model=m, num_kv_heads=h, kv_dtype=kv, context_len=c, batch_size=b, gpu=g,
                 num_gpus=n)
            for m in list_models() for _, h in kv_head_options(get_model(m).num_heads)
            for g in list_gpus() for kv in KV_DTYPES for c in CONTEXTS for b in BATCHES
            for n in NUM_GPUS]


def test_site_kv_growth_agrees_with_mini_vllm(site_js, spec):
    cells = grid()
    site = site_js(COMPUTE, [spec, cells])
    agreed, errors = assert_site_agrees(
        cells, site, python_row, ("per_token", "per_sequence", "total", "free", "naive"),
        ("fits",), rel_tol=RTOL)
    reports_refused = 0
    for v, js, py in agreed:
        if py["tokens"] is None:  # vLLM refuses: the readout says why, on the same cells
            reports_refused += 1
            assert js["tokens"] is None and js["report_error"], (v, js)
        else:
            assert js["tokens"] == py["tokens"], (v, js, py)
            assert math.isclose(js["concurrency"], py["concurrency"], rel_tol=RTOL), v
    # each path is exercised: weights too big, vLLM refusing a request, and everything fitting
    assert 0 < errors and 0 < reports_refused and errors + reports_refused < len(cells) - 5000


def test_site_kv_growth_model_change_offers_its_kv_heads(site_js, spec):
    """Choosing a model offers the divisors of its num_heads, preset to its num_kv_heads."""
    update = """([spec, model]) => MV.explorers.kv_growth.update('model', {model}, spec)"""
    for name in list_models():
        cfg = get_model(name)
        change = site_js(update, [spec, name])["num_kv_heads"]
        assert change["value"] == cfg.num_kv_heads
        assert [tuple(o) for o in change["options"]] == kv_head_choices(cfg)
        assert len(change["options"]) == (1 if cfg.is_mla else len(kv_head_options(cfg.num_heads)))


def test_site_kv_growth_starts_at_the_notebook_defaults(spec):
    explorer = explore_kv_growth(show=False)
    assert spec["values"] == explorer.values
    assert spec["options"]["batch_size"] == {"min": 1, "max": 256, "step": 1}
    assert [v for _, v in spec["options"]["context_len"]] == [2 ** i for i in range(8, 18)]


def test_site_kv_growth_readout_is_the_widgets(site_js, spec):
    """The readout's lines, word for word, including the notes (past the model's window; the
    KV copied on every GPU when it cannot be split) and vLLM refusing a request."""
    from mini_vllm.widgets import _kv_readout
    cells = [dict(model=m, num_kv_heads=h, kv_dtype=kv, context_len=c, batch_size=b, gpu=g,
                  num_gpus=n)
             for m, h in (("Llama-3-8B", 8), ("Llama-3-8B", 1), ("DeepSeek-V3", 128),
                          ("GPT-2-small", 12))
             for g in ("H100 SXM5 80GB", "B200 (HGX, 1000 W)", "T4") for kv in ("bfloat16", "fp8")
             for c in (256, 131072) for b in (1, 256) for n in (1, 8)]
    site = site_js("""([spec, grid]) => grid.map((v) => {
      const e = MV.explorers.kv_growth;
      try { return e.readout(spec, v, e.compute(spec, v)).join("\\n"); }
      catch (err) { return null; }
    })""", [spec, cells])
    notes = 0
    for v, js in zip(cells, site):
        base = get_model(v["model"])
        cfg = base if base.is_mla or v["num_kv_heads"] == base.num_kv_heads else \
            base.replace(num_kv_heads=v["num_kv_heads"])
        try:
            text = _kv_readout(cfg, get_gpu(v["gpu"]), v["kv_dtype"], v["context_len"],
                               v["batch_size"], v["num_gpus"])
        except ValueError:
            assert js is None, v
            continue
        assert js == text, v
        notes += "copies it on every GPU" in text
    assert notes > 0
