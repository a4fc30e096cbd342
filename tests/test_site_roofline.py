"""The site's roofline explorer (book/_static/explorers/roofline.js) against mini_vllm.

Over every catalog model, GPU and weight dtype, the ends and middle of the batch, context and
prompt sliders, the page's numbers equal the package's to 1e-9 relative: the math dtype the
widget picks, decode intensity, attainable FLOP/s, ridge, utilisation, the tokens/s bound, the
critical batch (math.inf where no batch reaches the ridge), the prefill intensity and every
point of the decode ladder on each roof. Where Python raises a ValueError (a GPU without a rate
in the math dtype) the page shows the same message instead of a figure; the readout's lines
are the widget's.
"""

from __future__ import annotations

import functools
import json
import math

import pytest
from conftest import assert_site_agrees

from mini_vllm import roofline, widgets
from mini_vllm.catalog import get_model, list_models
from mini_vllm.hardware import H100_CONTEXTS, get_gpu, list_gpus
from mini_vllm.widgets import explore_roofline

RTOL = 1e-9
BATCHES = [1, 32, 1024]  # the decode batch slider's ends and middle
CONTEXTS = [0, 2048, 16384]  # decode context (tokens)
PROMPTS = [1, 512, 16384]  # prefill tokens; the ladder is compared at 512
NOTEBOOK = dict(model="Llama-3-8B", gpu="A100 SXM4 80GB", compare_gpu="H100 SXM5 80GB",
                weight_dtype="bfloat16", batch_size=256, prompt_len=512)  # notebook 0.10's cell

# JSON strings both ways (Playwright's own serializer takes seconds on ~20,000 rows): numbers
# to 13 significant digits (5e-13 relative, far inside RTOL), Infinity as a string. The decode
# ladder does not depend on the prompt: sent for one prompt length; the readout when asked.
COMPUTE = """([spec, grid, withReadout]) => JSON.stringify(JSON.parse(grid).map((v) => {
  try {
    const r = MV.explorers.roofline.compute(spec, v);
    const ladder = v.prompt_len === %d;
    return {gpus: r.gpus.map((g) => ({name: g.name, dtype: g.dtype, ridge: g.ridge,
              decode: ladder ? g.decode.map((d) => [d.batch, d.intensity, d.attainable]) : null,
              prefill: g.prefill.attainable})),
            intensity: r.intensity, attainable: r.attainable, ridge: r.ridge,
            regime: r.regime, utilization: r.utilization, tokens_per_s: r.tokens_per_s,
            critical_batch: r.critical_batch, prefill_intensity: r.prefill_intensity,
            readout: withReadout ? MV.explorers.roofline.readout(spec, v, r) : null};
  } catch (err) {
    return {error: err.message, userFacing: Boolean(err.userFacing)};
  }
}), (key, value) => (value === Infinity ? "Infinity" :
  typeof value === "number" ? Number(value.toPrecision(13)) : value))""" % PROMPTS[1]


@pytest.fixture(scope="module")
def spec():
    return explore_roofline(show=False, **NOTEBOOK).site_spec()[1]


# ---- Python's numbers, cached: most cells share their decode ladder or critical batch -------
@functools.lru_cache(maxsize=None)
def _decode_intensity(model: str, batch: int, context_len: int, weight_dtype: str) -> float:
    return roofline.decode_intensity(get_model(model), batch, context_len=context_len,
                                     weight_dtype=weight_dtype)


@functools.lru_cache(maxsize=None)
def _prefill_intensity(model: str, prompt_len: int, weight_dtype: str) -> float:
    return roofline.prefill_intensity(get_model(model), prompt_len, weight_dtype=weight_dtype)


@functools.lru_cache(maxsize=None)
def _critical(model: str, gpu: str, dtype: str, context_len: int, weight_dtype: str) -> float:
    return roofline.critical_batch_size(get_model(model), get_gpu(gpu), dtype=dtype,
                                        context_len=context_len, weight_dtype=weight_dtype)


@functools.lru_cache(maxsize=None)
def _roof(name: str, model: str, wd: str, batch_size: int, context_len: int,
          prompt_len: int) -> dict:
    """One GPU's roof as the widget draws it: math dtype, ridge, ladder and prefill points."""
    gpu = get_gpu(name)
    dtype = widgets._math_dtype(gpu, wd)
    decode = [(b, i, roofline.attainable_flops(gpu, i, dtype)) for b in
              widgets._decode_ladder(batch_size)
              for i in [_decode_intensity(model, b, context_len, wd)]]
    prefill = _prefill_intensity(model, prompt_len, wd)
    return {"name": name, "dtype": dtype, "ridge": roofline.ridge_point(gpu, dtype),
            "decode": decode, "prefill": roofline.attainable_flops(gpu, prefill, dtype)}


@functools.lru_cache(maxsize=None)
def _decode(model: str, gpu_name: str, weight_dtype: str, b: int, context_len: int) -> dict:
    """The readout's decode numbers on the first GPU (the prompt does not change them)."""
    cfg, gpu = get_model(model), get_gpu(gpu_name)
    dtype = widgets._math_dtype(gpu, weight_dtype)
    kw = dict(context_len=context_len, weight_dtype=weight_dtype, dtype=dtype)
    intensity = _decode_intensity(model, b, context_len, weight_dtype)
    ridge = roofline.ridge_point(gpu, dtype)
    return {"intensity": intensity, "ridge": ridge,
            "attainable": roofline.attainable_flops(gpu, intensity, dtype),
            "regime": "memory-bound" if intensity < ridge else "compute-bound",
            "utilization": roofline.utilization(cfg, gpu, b, **kw),
            "tokens_per_s": roofline.decode_tokens_per_s_bound(cfg, gpu, b, **kw),
            "critical_batch": _critical(model, gpu_name, dtype, context_len, weight_dtype)}


def python_row(v: dict) -> dict:
    names = [v["gpu"]] + ([v["compare_gpu"]] if v["compare_gpu"] not in (widgets.NONE, v["gpu"])
                          else [])
    try:
        gpus = [_roof(name, v["model"], v["weight_dtype"], v["batch_size"], v["context_len"],
                      v["prompt_len"]) for name in names]
    except ValueError as exc:
        return {"error": str(exc)}
    return {"gpus": gpus, **_decode(v["model"], v["gpu"], v["weight_dtype"], v["batch_size"],
                                    v["context_len"]),
            "prefill_intensity": _prefill_intensity(v["model"], v["prompt_len"],
                                                    v["weight_dtype"])}


def run(site_js, spec: dict, grid: list[dict], readout: bool = False) -> list[dict]:
    """The page's compute() (and readout()) at every setting of ``grid``."""
    return json.loads(site_js(COMPUTE, [spec, json.dumps(grid), readout]),
                      object_hook=lambda row: {k: math.inf if v == "Infinity" else v
                                               for k, v in row.items()})


def close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=RTOL)  # inf == inf


def test_site_roofline_agrees_with_mini_vllm(site_js, spec):
    dtypes = [value for _, value in spec["options"]["weight_dtype"]]
    grid = [dict(NOTEBOOK, model=m, gpu=g, weight_dtype=wd, batch_size=b, context_len=c,
                 prompt_len=p, show_measured=False)
            for m in list_models() for g in list_gpus() for wd in dtypes for b in BATCHES
            for c in CONTEXTS for p in PROMPTS]
    site = run(site_js, spec, grid)
    agreed, errors = assert_site_agrees(
        grid, site, python_row, ("intensity", "attainable", "ridge", "utilization",
                                 "tokens_per_s", "critical_batch", "prefill_intensity"),
        ("regime",), same_message=True, rel_tol=RTOL)
    ladders = 0
    for v, js, py in agreed:
        for jg, pg in zip(js["gpus"], py["gpus"], strict=True):
            assert (jg["name"], jg["dtype"]) == (pg["name"], pg["dtype"]), v
            assert close(jg["ridge"], pg["ridge"]) and close(jg["prefill"], pg["prefill"]), v
            if jg["decode"] is None:  # sent for one prompt length only
                continue
            ladders += 1
            assert [d[0] for d in jg["decode"]] == [d[0] for d in pg["decode"]], v
            assert all(close(a, b) for jd, pd in zip(jg["decode"], pg["decode"])
                       for a, b in zip(jd[1:], pd[1:])), v
    # every setting draws: a GPU without the math dtype's rate (T4: no bf16) computes in fp16
    assert len(grid) == 13 * 13 * 5 * 3 * 3 * 3 and errors == 0
    assert ladders > len(grid) // 4
    assert any(math.isinf(js.get("critical_batch", 0)) for js in site)  # "never" is tested


def test_site_roofline_readout_is_the_widgets(site_js, spec):
    """The readout's lines, word for word, on every GPU and dtype at a few settings."""
    grid = [dict(NOTEBOOK, model=m, gpu=g, weight_dtype=wd, batch_size=b, context_len=c,
                 show_measured=c > 0)
            for m in ("Llama-3-8B", "DeepSeek-V3")  # DeepSeek-V3 fits no GPU: the note
            for g in list_gpus() for wd in ("bfloat16", "fp8", "int4")
            for b, c in ((1, 0), (256, 0), (1024, 16384), (64, 512))]
    site = run(site_js, spec, grid, readout=True)
    notes = 0
    for v, js in zip(grid, site):
        gpu = get_gpu(v["gpu"])
        dtype = widgets._math_dtype(gpu, v["weight_dtype"])
        try:
            text = widgets._roofline_readout(get_model(v["model"]), gpu, dtype, v["weight_dtype"],
                                             v["batch_size"], v["context_len"],
                                             v["show_measured"])
        except ValueError as exc:
            assert js["error"] == str(exc), v
            continue
        assert "\n".join(js["readout"]) == text, v
        notes += text.startswith("Note: the weights")
    assert 0 < notes < len(grid)


def test_site_roofline_measured_points_follow_the_context(site_js, spec):
    """The crosses: Python's (intensity, achieved FLOP/s) at the measured context nearest."""
    grid = [dict(NOTEBOOK, context_len=c, show_measured=True)
            for _, c in spec["options"]["context_len"]]
    got = site_js("""([spec, grid]) => grid.map((v) =>
        MV.explorers.roofline.compute(spec, v).measured)""", [spec, grid])
    llama = get_model("Llama-3-8B")
    for v, measured in zip(grid, got):
        ctx = widgets._measured_context(v["context_len"])
        assert measured["context"] == ctx in H100_CONTEXTS
        want = widgets._measured_h100(llama, ctx)
        assert len(measured["points"]) == len(want) > 0
        assert all(close(a, b) for p, q in zip(measured["points"], want) for a, b in zip(p, q))


def test_site_roofline_offers_the_notebook_controls(spec):
    explorer = explore_roofline(show=False, **NOTEBOOK)
    assert spec["values"] == explorer.values == dict(NOTEBOOK, context_len=0, show_measured=False)
    assert [name for name, _ in spec["options"]["model"]] == list_models()
    # measuring the reader's CPU needs a kernel: the page offers the catalog GPUs only
    assert [name for name, _ in spec["options"]["gpu"]] == list_gpus()
    assert [name for name, _ in spec["options"]["compare_gpu"]] == [widgets.NONE] + list_gpus()
    assert [b for _, b in spec["options"]["batch_size"]] == widgets.POWERS_OF_TWO
    assert spec["ladder"] == widgets.POWERS_OF_TWO
    assert {"1,024": 1024}.items() <= dict(spec["options"]["batch_size"]).items()


def test_site_roofline_never_offers_this_machine():
    """A notebook that starts on this machine still gives the page a catalog GPU."""
    explorer = explore_roofline(show=False, gpu=widgets.THIS_MACHINE,
                                compare_gpu=widgets.THIS_MACHINE, host_seconds=0.05)
    spec = explorer.site_spec()[1]
    assert spec["values"]["gpu"] == list_gpus()[0] and spec["values"]["compare_gpu"] == \
        widgets.NONE
    assert widgets.THIS_MACHINE not in str(spec["options"])
