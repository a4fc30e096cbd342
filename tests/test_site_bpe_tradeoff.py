"""The site's BPE explorer of section 0.3 (explorers/bpe_tradeoff.js) against mini_vllm.

A tokenizer learned as the notebook learns it: at every number of merges the page's tokens per
byte are the notebook's readout ({n / n0:.2f}), its dots sit on the lines, and its title counts
are the token counts mini_vllm.bpe gives.
"""

from __future__ import annotations

import pytest

from mini_vllm import widgets
from mini_vllm.bpe import SAMPLE_TEXT, learn_bpe, sequence_lengths

HELD_OUT = "The old ferry was late this morning, so the fishermen waited on the wall."


@pytest.fixture(scope="module")
def case():
    merges = learn_bpe(SAMPLE_TEXT, 1000)
    axis = list(range(len(merges) + 1))
    lengths = {"training text": sequence_lengths(SAMPLE_TEXT, merges, axis),
               "held-out sentence": sequence_lengths(HELD_OUT, merges, axis)}
    site = widgets.bpe_tradeoff_site(axis, [257 + n for n in axis], lengths)
    return axis, lengths, site({"num_merges": 40})[1]


def test_site_bpe_tradeoff_agrees_with_mini_vllm(site_js, case):
    axis, lengths, spec = case
    got = site_js("""(spec) => spec.vocab_sizes.map((_, at) => {
      const e = MV.explorers.bpe_tradeoff, v = {num_merges: at}, r = e.compute(spec, v);
      return {readout: e.readout(spec, v, r), counts: r.series.map((s) => s.count),
              dots: r.series.map((s) => s.relative[at]), vocab: r.vocab};
    })""", spec)
    assert len(got) == len(axis) > 40
    for at, js in enumerate(got):
        per_byte = [f"{label} {n[at] / n[0]:.2f}" for label, n in lengths.items()]
        assert js["readout"] == ["tokens per byte: " + ", ".join(per_byte)], at  # the notebook's
        assert js["counts"] == [n[at] for n in lengths.values()], at
        assert js["dots"] == [n[at] / n[0] for n in lengths.values()], at
        assert js["vocab"] == 257 + at


def test_site_bpe_tradeoff_refuses_a_bad_series():
    with pytest.raises(ValueError, match="0, 1, 2"):
        widgets.bpe_tradeoff_site([1, 2], [258, 259], {"t": [3, 2]})
    with pytest.raises(ValueError, match="one count per number"):
        widgets.bpe_tradeoff_site([0, 1], [257, 258], {"t": [3]})
