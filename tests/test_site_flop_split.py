"""The site's FLOP-split explorer of section 0.7 (explorers/flop_split.js) against mini_vllm.

For every catalog model at the ends and middle of the context slider (and one step in), the
page's FLOP per part equal roofline.flops_per_token_breakdown exactly (integers), and its
readout lines are the notebook's: format_flops of the total and of each part with its share.
"""

from __future__ import annotations

import ipywidgets
import pytest

from mini_vllm import roofline, widgets
from mini_vllm.catalog import get_model, list_models
from mini_vllm.units import format_flops

CONTEXTS = [0, 1024, 65536, 131072]  # the slider: 0 to 131,072 in steps of 1,024


@pytest.fixture(scope="module")
def spec():
    controls = {  # as notebooks/00_07_mlp.ipynb builds them
        "model": ipywidgets.Dropdown(description="model", value="Llama-3-8B",
                                     options=list_models()),
        "context_len": ipywidgets.IntSlider(description="context (tokens)", value=4096, min=0,
                                            max=131072, step=1024)}
    explorer = widgets.Explorer("FLOP of one token, by part", controls,
                                lambda **v: (None, ""), site=widgets.flop_split_site(controls))
    return explorer.site_spec()[1]


def notebook_readout(model: str, context_len: int) -> list[str]:
    """The readout lines of the notebook's flop_split."""
    parts = roofline.flops_per_token_breakdown(get_model(model), context_len=context_len)
    total = sum(parts.values())
    return ([f"{model}, {context_len:,} tokens of context: {format_flops(total)} per token"]
            + [f"{name}: {format_flops(f)} ({f / total:.1%})" for name, f in parts.items()])


def test_site_flop_split_agrees_with_mini_vllm(site_js, spec):
    grid = [dict(model=m, context_len=c) for m in list_models() for c in CONTEXTS]
    site = site_js("""([spec, grid]) => grid.map((v) => {
      const e = MV.explorers.flop_split, r = e.compute(spec, v);
      return {parts: r.parts, readout: e.readout(spec, v, r)};
    })""", [spec, grid])
    for v, js in zip(grid, site, strict=True):
        parts = roofline.flops_per_token_breakdown(get_model(v["model"]), v["context_len"])
        assert js["parts"] == parts, v  # exact: integers, in the same order
        assert js["readout"] == notebook_readout(v["model"], v["context_len"]), v


def test_site_flop_split_controls_are_the_notebooks(spec):
    assert spec["values"] == {"model": "Llama-3-8B", "context_len": 4096}
    assert [c["name"] for c in spec["controls"]] == ["model", "context_len"]
    assert spec["controls"][1] | {} == {"name": "context_len", "label": "context (tokens)",
                                        "type": "range", "min": 0, "max": 131072, "step": 1024}
