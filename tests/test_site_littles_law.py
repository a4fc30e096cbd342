"""The site's Little's-law explorer (book/_static/explorers/littles_law.js) against mini_vllm.

Over every catalog model and GPU, the extremes and middle of each slider, the page's numbers
equal the package's: vLLM's maximum concurrency and KV tokens (vllm_kv_cache_report), the
whole requests that fit, N = X x L and the best throughput, to 1e-9 relative; where Python
raises a ValueError (one request does not fit) the page shows a message instead of a figure.
"""

from __future__ import annotations


import pytest
from conftest import assert_site_agrees

from mini_vllm import memory, plots, roofline
from mini_vllm.catalog import get_model, list_models
from mini_vllm.hardware import get_gpu, list_gpus
from mini_vllm.widgets import explore_littles_law

RTOL = 1e-9
THROUGHPUTS = [0.5, 50.0, 100.0]  # the slider's ends and middle (req/s)
LATENCIES = [0.5, 30.0, 60.0]  # s
CONTEXTS = [256, 2048, 16384]  # tokens per request: the slider's ends and middle

COMPUTE = """([spec, grid]) => grid.map((v) => {
  try {
    const r = MV.explorers.littles_law.compute(spec, v);
    return {needed: r.needed, capacity: r.capacity, best: r.best_throughput,
            concurrency: r.report.max_concurrency, tokens: r.report.kv_cache_tokens,
            fits: r.fits};
  } catch (err) {
    return {error: err.message, userFacing: Boolean(err.userFacing)};
  }
})"""


@pytest.fixture(scope="module")
def spec():
    explorer = explore_littles_law(show=False)
    return explorer.site_spec()[1]


def python_row(v: dict) -> dict:
    cfg, gpu = get_model(v["model"]), get_gpu(v["gpu"])
    try:
        report = memory.vllm_kv_cache_report(cfg, gpu, v["context_len"],
                                             allow_long_max_model_len=True)
    except ValueError as exc:
        return {"error": str(exc)}
    needed = roofline.littles_law_concurrency(v["throughput_per_s"], v["latency_s"])
    capacity = plots.whole_sequences(report.max_concurrency)
    return {"needed": needed, "capacity": capacity, "concurrency": report.max_concurrency,
            "tokens": report.kv_cache_tokens, "fits": needed <= capacity,
            "best": roofline.littles_law_throughput(capacity, v["latency_s"])}


def test_site_littles_law_agrees_with_mini_vllm(site_js, spec):
    grid = [dict(model=m, gpu=g, context_len=c, throughput_per_s=x, latency_s=lat)
            for m in list_models() for g in list_gpus() for c in CONTEXTS
            for x in THROUGHPUTS for lat in LATENCIES]
    site = site_js(COMPUTE, [spec, grid])
    _, errors = assert_site_agrees(grid, site, python_row,
                                   ("needed", "capacity", "concurrency", "tokens", "best"),
                                   ("fits",), rel_tol=RTOL)
    assert len(grid) == 13 * 13 * 3 * 3 * 3 and 0 < errors < len(grid)  # both kinds are tested


def test_site_littles_law_offers_the_notebook_controls(spec):
    explorer = explore_littles_law(show=False)
    assert spec["values"] == explorer.values
    assert [name for name, _ in spec["options"]["model"]] == list_models()
    assert [name for name, _ in spec["options"]["gpu"]] == list_gpus()
    assert spec["options"]["latency_s"] == {"min": 0.5, "max": 60.0, "step": 0.5}


def test_site_littles_law_readout_is_the_widgets(site_js, spec):
    """The readout's lines, word for word (past the model's window too)."""
    from mini_vllm.widgets import _render_littles_law
    cells = [dict(model=m, gpu=g, context_len=c, throughput_per_s=x, latency_s=lat)
             for m in ("Llama-3-8B", "Mixtral-8x7B-v0.1", "GPT-2-small")
             for g in ("H100 SXM5 80GB", "H200 SXM 141GB") for c in (256, 16384)
             for x, lat in ((0.5, 0.5), (12.5, 7.5), (100.0, 60.0))]
    site = site_js("""([spec, grid]) => grid.map((v) => {
      const e = MV.explorers.littles_law;
      try { return e.readout(spec, v, e.compute(spec, v)).join("\\n"); }
      catch (err) { return null; }
    })""", [spec, cells])
    for v, js in zip(cells, site):
        try:
            fig, text = _render_littles_law(**v)
        except ValueError:
            assert js is None, v
            continue
        assert js == text, v
    assert sum(js is not None and js.startswith("Note:") for js in site) > 0
