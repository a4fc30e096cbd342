"""The site's sampling explorer (book/_static/explorers/sampling.js) against mini_vllm.

For every prompt the page offers (section 0.8) and for the notebook's own logits (section 0.1),
at temperatures 0 .. 2, top-k off .. 50, top-p 0.05 .. 1 and four seeds, the page keeps the
tokens ``sampler.probabilities`` keeps, with the same probabilities (1e-6), draws the token
``Sampler.sample`` draws with ``np.random.default_rng(seed)`` (the spec holds that generator's
one uniform number per seed) and prints the same readout. Knife-edge cells, where p equals a
partial sum of the sorted probabilities to within 1e-6 (float rounding may go either way), or
u x total equals a cumulative sum, are skipped and counted: there must be few.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from mini_vllm import site_data, widgets
from mini_vllm.sampler import Sampler, SamplingParams, probabilities
from mini_vllm.tokenizer import ByteTokenizer

TEMPERATURES = [0.0, 0.05, 0.7, 1.0, 2.0]
TOP_KS = [0, 1, 5, 50]  # 0 = off: the slider's end, middle values and other end
TOP_PS = [0.05, 0.5, 0.9, 1.0]
SEEDS = [0, 1, 42, 99]
CELLS_PER_PROMPT = len(TEMPERATURES) * len(TOP_KS) * len(TOP_PS) * len(SEEDS)  # 320
EDGE = 1e-6
MAX_SPEC_BYTES = 400_000

COMPUTE = """([spec, grid]) => grid.map((v) => {
  const e = MV.explorers.sampling;
  const r = e.compute(spec, v);
  return {kept: r.kept, probs: r.kept.map((i) => r.final[i]), drawn: r.drawn,
          readout: e.readout(spec, v, r).join("\\n"), alt: e.alt(spec, v, r)};
})"""

DRAW = """([spec, grid]) => {
  const e = MV.explorers.sampling, errors = [], bars = [];
  for (const v of grid) {
    for (const width of [640, 340]) {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      try {
        const fig = new MV.Figure(svg, width, width < 480 ? 323 : 384);
        const r = e.compute(spec, v);
        e.draw(fig, spec, v, r);
        e.alt(spec, v, r);
        bars.push(svg.querySelectorAll("path[fill]:not([fill='none'])").length);
      } catch (err) {
        errors.push(`${JSON.stringify(v)} at ${width} px: ${err.stack || err}`);
      }
    }
  }
  return {errors, bars};
}"""


def notebook_01_explorer():
    """explore_sampling as section 0.1 calls it: the trained model's logits after 'ROMEO:\\n'."""
    tok, model = ByteTokenizer(), widgets._trained_model()
    ids = tok.encode("ROMEO:\n")
    last = model.forward([(ids, model.new_cache())])[0][-1]
    labels = [tok.token_str(i) for i in range(tok.vocab_size)]
    explorer = widgets.explore_sampling(logits=last, token_labels=labels,
                                        prompt=repr("ROMEO:\n"), temperature=1.0, top_k=10,
                                        show=False)
    return explorer, np.asarray(last, dtype=float), labels  # float: as the widget holds them


@pytest.fixture(scope="module")
def default_case():
    """Section 0.8's explorer, and the trained model's logits for each prompt it offers."""
    explorer = widgets.explore_sampling(prompt=widgets.SAMPLING_PROMPT, temperature=0.7,
                                        top_k=50, top_p=0.9, show=False)
    spec = explorer.site_spec()[1]
    state: dict = {}
    logits = {row["prompt"]: widgets._toy_logits(state, row["prompt"]) for row in spec["prompts"]}
    tok = ByteTokenizer()
    return explorer, spec, logits, [tok.token_str(i) for i in range(tok.vocab_size)]


@pytest.fixture(scope="module")
def explicit_case():
    explorer, last, labels = notebook_01_explorer()
    spec = explorer.site_spec()[1]
    return explorer, spec, {spec["values"]["prompt"]: last}, labels


def grid(prompts) -> list[dict]:
    return [dict(prompt=p, temperature=t, top_k=k, top_p=tp, seed=s) for p in prompts
            for t in TEMPERATURES for k in TOP_KS for tp in TOP_PS for s in SEEDS]


def knife_edge(logits: np.ndarray, params: SamplingParams, u: float) -> bool:
    """p within EDGE of the mass before some token (ranked by logit), or u x total within
    EDGE of a cumulative probability: float rounding may decide either way there."""
    if params.is_greedy:
        return False
    scaled = np.asarray(logits, dtype=float) / params.temperature
    if params.top_k is not None and params.top_k < len(scaled):
        scaled = np.where(scaled >= np.sort(scaled)[-params.top_k], scaled, -np.inf)
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    ranked = probs[np.argsort(-scaled, kind="stable")]
    before = np.cumsum(ranked) - ranked
    if params.top_p < 1 and np.min(np.abs(before - params.top_p)) < EDGE:
        return True
    cdf = np.cumsum(probabilities(np.asarray(logits, dtype=float), params))
    return bool(np.min(np.abs(cdf - u * cdf[-1])) < EDGE)


def check_agreement(site_js, spec, logits_by_prompt, labels) -> tuple[int, int]:
    """(cells compared, knife edges skipped) over the grid; asserts each compared cell."""
    cells = grid(list(logits_by_prompt))
    site = site_js(COMPUTE, [spec, cells])
    compared = edges = 0
    for v, js in zip(cells, site):
        logits = logits_by_prompt[v["prompt"]]
        params = SamplingParams(temperature=v["temperature"], top_k=v["top_k"] or None,
                                top_p=v["top_p"], seed=v["seed"])
        rng = np.random.default_rng(v["seed"])
        if knife_edge(logits, params, np.random.default_rng(v["seed"]).random()):
            edges += 1
            continue
        final = probabilities(logits, params)
        kept = np.flatnonzero(final > 0)
        assert js["kept"] == kept.tolist(), v
        np.testing.assert_allclose(js["probs"], final[kept], rtol=0, atol=1e-6, err_msg=str(v))
        drawn = int(Sampler().sample(logits[None, :], [params], [rng])[0])
        assert js["drawn"] == drawn, v
        assert js["readout"] == widgets._sampling_readout(logits, params, drawn, labels), v
        assert js["alt"] == widgets._sampling_alt(**v), v
        compared += 1
    return compared, edges


def test_site_sampling_agrees_with_mini_vllm(site_js, default_case):
    _, spec, logits, labels = default_case
    compared, edges = check_agreement(site_js, spec, logits, labels)
    assert compared + edges == len(spec["prompts"]) * CELLS_PER_PROMPT
    assert edges <= 0.01 * compared, edges


def test_site_sampling_agrees_on_the_notebooks_own_logits(site_js, explicit_case):
    _, spec, logits, labels = explicit_case
    compared, edges = check_agreement(site_js, spec, logits, labels)
    assert compared + edges == CELLS_PER_PROMPT and edges <= 0.01 * compared, edges


def test_site_sampling_exports_what_the_widget_samples(default_case, explicit_case):
    explorer, spec, logits, _ = default_case
    assert spec["values"] == explorer.values and not spec["explicit"]
    assert spec["prompts"][0]["prompt"] == widgets.SAMPLING_PROMPT  # the notebook's first
    assert len(spec["prompts"]) >= 5
    for row in spec["prompts"]:  # exactly the model's float32 logits
        assert row["dtype"] == "float32"
        assert row["logits"] == site_data.float_array(logits[row["prompt"]], "float32")
    assert spec["options"] == {"temperature": {"min": 0.0, "max": 2.0, "step": 0.05},
                               "top_k": {"min": 0, "max": 50, "step": 1},
                               "top_p": {"min": 0.05, "max": 1.0, "step": 0.05},
                               "seed": {"min": 0, "max": 99, "step": 1}}
    uniforms = np.frombuffer(base64.b64decode(spec["uniforms"]), "<f8")
    assert uniforms.tolist() == [np.random.default_rng(s).random() for s in range(100)]
    explorer, spec, logits, _ = explicit_case
    (row,) = spec["prompts"]
    assert spec["explicit"] and row["dtype"] == "float64"
    assert row["logits"] == site_data.float_array(logits[row["prompt"]], "float64")
    assert spec["values"]["top_k"] == 10 and "model" not in spec["values"]


def test_site_sampling_draws_every_setting(site_js, default_case, explicit_case):
    for _, spec, logits, _ in (default_case, explicit_case):
        cells = [v for v in grid(list(logits)) if v["seed"] == 0]
        out = site_js(DRAW, [spec, cells])
        assert out["errors"] == []
        assert min(out["bars"]) >= spec["top_n"]  # 16 bars, whatever else is drawn


def test_site_sampling_specs_are_small(default_case, explicit_case):
    for explorer, spec, _, _ in (default_case, explicit_case):
        size = len(site_data.spec_json(spec).encode())
        assert size < MAX_SPEC_BYTES, size
        assert "data-mv-kind='sampling'" in explorer.static_html()


def test_site_sampling_leaves_random_models_to_the_kernel():
    explorer = widgets.explore_sampling(model=widgets.MODEL_CHOICES[1], show=False)
    with pytest.raises(ValueError, match="no site version"):
        explorer.site_spec()


def test_site_sampling_bars_in_the_figures_order(site_js, default_case):
    """The page's bars are plots.plot_sampling's: most likely first after temperature, and at
    temperature 0 (greedy) the argmax then its runners-up by raw logit."""
    from mini_vllm.sampler import _softmax, apply_temperature
    _, spec, logits_by_prompt, _ = default_case
    cells = [dict(prompt=p, temperature=t, top_k=0, top_p=1.0, seed=0)
             for p in logits_by_prompt for t in (0.0, 0.7)]
    orders = site_js("""([spec, grid]) => grid.map((v) =>
        MV.explorers.sampling.compute(spec, v).order)""", [spec, cells])
    for v, order in zip(cells, orders):
        logits = np.asarray(logits_by_prompt[v["prompt"]], dtype=float)
        rank = logits if v["temperature"] == 0 else _softmax(apply_temperature(logits, 0.7))
        assert order == list(np.argsort(-rank, kind="stable")[:16]), v
