"""The site's attention explorer (book/_static/explorers/attention.js) against mini_vllm.

For every prompt the page offers (section 0.6), every layer and head, mask on and off, the
weights the page shows are the widget's (``widgets._toy_attention``, the trained model) to
1e-6, its readout is the widget's (``_attention_readout``: pairs the mask removes, the share of
attention on later tokens with the mask off), and the figure draws with no error, one cell per
query-key pair, crossed where the mask removes it.
"""

from __future__ import annotations

import numpy as np
import pytest

from mini_vllm import site_data, widgets
from mini_vllm.model import causal_mask
from mini_vllm.tokenizer import ByteTokenizer

NOTEBOOK_PROMPT = "To be, or not to be,"  # section 0.6: explore_attention(prompt=...)
MAX_PROMPT_BYTES = 24  # layers x heads x T^2 floats per prompt and mask: keep T small
MAX_SPEC_BYTES = 400_000

COMPUTE = """([spec, grid]) => grid.map((v) => {
  const e = MV.explorers.attention;
  const r = e.compute(spec, v);
  return {weights: Array.from(r.weights), masked: r.maskedPairs, future: r.futureMass,
          readout: e.readout(spec, v, r).join("\\n"), alt: e.alt(spec, v, r)};
})"""

DRAW = """([spec, grid]) => {
  const e = MV.explorers.attention, errors = [], drawn = [];
  for (const v of grid) {
    for (const width of [640, 340]) {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      try {
        const fig = new MV.Figure(svg, width, width < 480 ? 323 : 384);
        const r = e.compute(spec, v);
        e.draw(fig, spec, v, r);
        e.alt(spec, v, r);
        const crosses = [...svg.querySelectorAll("path")]
          .filter((p) => p.getAttribute("stroke") === spec.colours.cross);
        drawn.push({cells: svg.querySelectorAll("g[shape-rendering] rect").length,
                    crossed: crosses.length > 0,
                    tokens: svg.querySelectorAll("text").length});
      } catch (err) {
        errors.push(`${JSON.stringify(v)} at ${width} px: ${err.stack || err}`);
      }
    }
  }
  return {errors, drawn};
}"""


@pytest.fixture(scope="module")
def explorer():
    return widgets.explore_attention(prompt=NOTEBOOK_PROMPT, show=False)


@pytest.fixture(scope="module")
def spec(explorer):
    return explorer.site_spec()[1]


@pytest.fixture(scope="module")
def grid(spec):
    m = spec["model"]
    return [dict(prompt=row["prompt"], layer=layer, head=head, causal=causal,
                 config=widgets.TRAINED)
            for row in spec["prompts"] for layer in range(m["num_layers"])
            for head in range(m["num_heads"]) for causal in (True, False)]


def python_view(state: dict, v: dict) -> tuple[np.ndarray, str, int, float]:
    """What _render_attention shows at v: (weights (T, T), readout, masked pairs, future mass)."""
    cfg = widgets._model_config(widgets.TRAINED)
    unmasked = not v["causal"] and widgets._supports_unmasked(state)
    maps, ids = widgets._toy_attention(state, widgets.TRAINED, v["prompt"], causal=not unmasked)
    weights = maps[v["layer"], v["head"]]
    future = causal_mask(len(ids), len(ids))
    group = cfg.num_queries_per_kv
    kv_head = v["head"] // group
    sharing = list(range(kv_head * group, (kv_head + 1) * group))
    text = widgets._attention_readout(cfg, weights, future, ids, v["causal"], unmasked, sharing,
                                      kv_head)
    return weights, text, int(future.sum()), float(weights[future].sum() / len(ids))


def test_site_attention_agrees_with_mini_vllm(site_js, spec, grid):
    site = site_js(COMPUTE, [spec, grid])
    state: dict = {}
    for v, js in zip(grid, site):
        weights, text, masked, future = python_view(state, v)
        np.testing.assert_allclose(np.reshape(js["weights"], weights.shape), weights,
                                   rtol=0, atol=1e-6, err_msg=str(v))
        assert js["masked"] == masked, v
        if not v["causal"]:
            assert abs(js["future"] - future) < 1e-6, v
            assert future > 0.01, v  # the mask off really shows later tokens
        assert js["readout"] == text, v
        assert js["alt"] == widgets._attention_alt(**v), v
    assert len(site) == len(spec["prompts"]) * 4 * 4 * 2


def test_site_attention_draws_every_setting(site_js, spec, grid):
    out = site_js(DRAW, [spec, grid])
    assert out["errors"] == []
    sizes = {row["prompt"]: len(row["tokens"]) for row in spec["prompts"]}
    for v, drawn in zip([v for v in grid for _ in (640, 340)], out["drawn"]):
        assert drawn["cells"] == sizes[v["prompt"]] ** 2, v  # one rect per query-key pair
        assert drawn["crossed"] == v["causal"], v


def test_site_attention_exports_the_widgets_maps(explorer, spec):
    assert spec["values"] == explorer.values
    prompts = [row["prompt"] for row in spec["prompts"]]
    assert prompts[0] == NOTEBOOK_PROMPT and len(prompts) >= 5 == len(set(prompts))
    assert all(len(p.encode()) <= MAX_PROMPT_BYTES for p in prompts)
    tok = ByteTokenizer()
    for row in spec["prompts"]:
        assert row["tokens"] == [widgets.plots._token_label(tok.token_str(i))
                                 for i in tok.encode(row["prompt"])]
    cfg = widgets._model_config(widgets.TRAINED)
    assert spec["model"]["num_layers"] == cfg.num_layers
    assert spec["options"]["layer"] == {"min": 0, "max": cfg.num_layers - 1, "step": 1}
    assert spec["options"]["head"] == {"min": 0, "max": cfg.num_heads - 1, "step": 1}
    size = len(site_data.spec_json(spec).encode())
    assert size < MAX_SPEC_BYTES, size


def test_lower_triangle_keeps_a_causal_map_and_refuses_others():
    maps = np.tril(np.arange(1.0, 10.0).reshape(3, 3))
    assert site_data.lower_triangle(maps).tolist() == [1, 4, 5, 7, 8, 9]
    with pytest.raises(ValueError, match="causal"):
        site_data.lower_triangle(np.ones((3, 3)))


def test_site_attention_leaves_random_models_to_the_kernel():
    explorer = widgets.explore_attention(config=widgets.MODEL_CHOICES[1], show=False)
    with pytest.raises(ValueError, match="no site version"):
        explorer.site_spec()
