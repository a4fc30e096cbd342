"""Readout-only explorers on the site by lookup (widgets.lookup_site, explorers/lookup.js).

The page must find, for every setting a reader can reach, the readout the widget's own render
gives: a dropdown's options and every step of a number slider, including float steps as a
browser's range input reports them (0.25 + 0.05 x 1 is "0.3" there, 0.30000000000000004 in
Python), and the page must show that readout line for line.
"""

from __future__ import annotations

import ipywidgets
import pytest

from mini_vllm import site_data, widgets


def make_explorer():
    controls = {"model": ipywidgets.Dropdown(options=["a", "b b", "ç"], value="a",
                                             description="model"),
                "scale": ipywidgets.FloatSlider(value=1.0, min=0.25, max=2.0, step=0.05,
                                                description="scale"),
                "n": ipywidgets.IntSlider(value=3, min=0, max=8, step=2, description="n")}

    def render(*, model, scale, n):
        if n == 8 and model == "a":
            raise ValueError("n = 8 is refused for a")  # a readout, not a traceback
        return None, f"{model}: {scale * 3:.3f}\nn = {n}"

    return widgets.Explorer("test", controls, render, site=widgets.lookup_site(controls, render))


def test_lookup_rows_cover_every_setting_and_equal_the_render():
    explorer = make_explorer()
    kind, spec = explorer.site_spec()
    assert kind == "lookup" and len(spec["readouts"]) == 3 * 36 * 5
    assert spec["readouts"][site_data.lookup_key(["b b", 0.3, 4])] == ["b b: 0.900", "n = 4"]
    assert spec["readouts"][site_data.lookup_key(["a", 1.0, 8])][0].startswith("⚠")


def test_the_page_reads_the_row_of_what_its_controls_report(site_js):
    """In Chromium: step each range input through its values, read input.value as the page
    does, and look the readout up; every one is found and equals the render's."""
    explorer = make_explorer()
    spec = explorer.site_spec()[1]
    got = site_js("""(spec) => {
      const out = [];
      const range = (c) => { const i = document.createElement('input'); i.type = 'range';
        i.min = c.min; i.max = c.max; i.step = c.step; return i; };
      const [model, scale, n] = spec.controls;
      const si = range(scale), ni = range(n);
      for (const [, m] of model.options) {
        for (si.value = si.min; ; si.stepUp()) {
          for (ni.value = ni.min; ; ni.stepUp()) {
            const v = {model: m, scale: Number(si.value), n: Number(ni.value)};
            const e = MV.explorers.lookup;
            out.push([v, e.readout(spec, v, e.compute(spec, v))]);
            if (ni.value === ni.max) break;
          }
          if (si.value === si.max) break;
        }
      }
      return out;
    }""", spec)
    assert len(got) == len(spec["readouts"])
    for v, lines in got:
        fig, text = widgets.safe_render(explorer._render, v)  # errors as the widget shows them
        assert lines == text.splitlines(), v


def test_lookup_refuses_a_figure_or_too_many_settings():
    controls = {"n": ipywidgets.IntSlider(value=1, min=0, max=10_000, description="n")}
    with pytest.raises(ValueError, match="at most 5,000 settings"):
        widgets.lookup_site(controls, lambda n: (None, ""))({"n": 1})
    small = {"n": ipywidgets.IntSlider(value=1, min=0, max=2, description="n")}
    with pytest.raises(ValueError, match="without a figure"):
        widgets.lookup_site(small, lambda n: (object(), ""))({"n": 1})
