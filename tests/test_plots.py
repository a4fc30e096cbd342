"""plots.py draws the calculators' numbers: check the data on the Axes, labels and titles (Agg)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mini_vllm import memory, plots, roofline  # noqa: E402
from mini_vllm.catalog import get_model  # noqa: E402
from mini_vllm.hardware import get_gpu  # noqa: E402
from mini_vllm.sampler import SamplingParams, probabilities  # noqa: E402
from mini_vllm.style import CYCLE, OKABE_ITO, use_projector_style  # noqa: E402
from mini_vllm.units import GiB  # noqa: E402

LLAMA = get_model("Llama-3-8B")
A100 = get_gpu("A100 SXM4 80GB")
H100 = get_gpu("H100 SXM5 80GB")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    return ax


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def _has_units(label: str) -> bool:
    return "(" in label and ")" in label


# ---- roofline -------------------------------------------------------------------------------
def test_roofline_roof_ridge_and_points(ax):
    plots.plot_roofline(A100, LLAMA, batch_sizes=(1, 8, 64), prompt_len=512, ax=ax)
    roof = _line(ax, f"{A100.name} roof")
    x, y = roof.get_data()
    expected = [min(A100.peak_flops("bfloat16"), i * A100.bandwidth_bytes_per_s) for i in x]
    np.testing.assert_allclose(y, expected)
    decode = _line(ax, "decode")
    intensities = [roofline.decode_intensity(LLAMA, b) for b in (1, 8, 64)]
    np.testing.assert_array_equal(decode.get_xdata(), intensities)
    np.testing.assert_allclose(decode.get_xdata(), [1.0, 8.0, 64.0], rtol=1e-4)  # bf16: ~B
    np.testing.assert_allclose(decode.get_ydata(),
                               [roofline.attainable_flops(A100, i) for i in intensities])
    prefill = _line(ax, "prefill 512 tok")
    assert prefill.get_xdata()[0] == pytest.approx(roofline.prefill_intensity(LLAMA, 512))
    ridge = roofline.ridge_point(A100)
    assert any(t.get_text() == f"ridge {ridge:,.0f} FLOP/B" for t in ax.texts)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "Llama-3-8B" in ax.get_title() and A100.name in ax.get_title()
    assert _has_units(ax.get_xlabel()) and _has_units(ax.get_ylabel())
    assert "FLOP/byte" in ax.get_xlabel() and "FLOP/s" in ax.get_ylabel()
    # memory-bound region shaded left of the ridge, compute-bound right of it
    spans = [p for p in ax.patches]
    assert len(spans) == 2
    assert spans[0].get_x() + spans[0].get_width() == pytest.approx(ridge)


def test_roofline_two_gpus_and_measured(ax):
    measured = [(1.0, 1e12), (10.0, 9e12)]
    plots.plot_roofline([A100, H100], LLAMA, measured=measured, measured_label="H100 measured",
                        ax=ax)
    labels = [line.get_label() for line in ax.get_lines()]
    assert f"{A100.name} roof" in labels and f"{H100.name} roof" in labels
    m = _line(ax, "H100 measured")
    np.testing.assert_allclose(m.get_xdata(), [1.0, 10.0])
    np.testing.assert_allclose(m.get_ydata(), [1e12, 9e12])
    assert H100.name in ax.get_title()


def test_roofline_without_model_only_draws_roofs(ax):
    plots.plot_roofline(A100, ax=ax)
    assert [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")] \
        == [f"{A100.name} roof"]


def _boxes(ax, artists):
    """Display-space bounding boxes of ``artists`` after a draw."""
    renderer = ax.figure.canvas.get_renderer()
    ax.figure.draw(renderer)
    return [a.get_window_extent(renderer) for a in artists]


def _decode_labels(ax):
    return [t for t in ax.texts if t.get_gid() == "decode-label"]


@pytest.mark.parametrize("batches", [(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
                                     (1, 2, 4, 8, 16, 32)])
def test_roofline_point_labels_do_not_overlap_and_stay_inside(batches):
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_roofline(A100, LLAMA, batch_sizes=batches, ax=ax)
    labels = _decode_labels(ax)
    texts = [t.get_text() for t in labels]
    assert texts[-1] == f"B={batches[-1]}" and "B=1" in texts  # the chosen batch and the smallest
    boxes = _boxes(ax, labels + [t for t in ax.texts if t.get_text().startswith("ridge")])
    inside = ax.get_window_extent()
    for k, a in enumerate(boxes):
        assert inside.x0 <= a.x0 and a.x1 <= inside.x1, texts
        assert not any(a.overlaps(b) for b in boxes[k + 1:]), texts


def test_roofline_ridge_label_stays_inside_near_the_right_edge():
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_roofline([A100, H100], LLAMA, batch_sizes=(1, 64),
                        measured=[(60.0, 4e14), (200.0, 6e14)], ax=ax)
    ridges = [t for t in ax.texts if t.get_text().startswith("ridge")]
    boxes = _boxes(ax, ridges)
    inside = ax.get_window_extent()
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 for b in boxes)
    assert not boxes[0].overlaps(boxes[1])


# ---- KV growth ------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 8, 64, 256])
def test_kv_growth_legend_never_covers_the_annotations(batch_size):
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_kv_growth(LLAMA, H100, context_len=8192, batch_size=batch_size, ax=ax)
    notes = [t for t in ax.texts] + [t for t in ax.texts if False]
    notes += [c for c in ax.get_children() if type(c).__name__ == "Annotation"]
    legend, *others = _boxes(ax, [ax.get_legend()] + list(dict.fromkeys(notes)))
    assert others and not any(legend.overlaps(b) for b in others)
def test_kv_growth_lines_and_fit_marker(ax):
    plots.plot_kv_growth(LLAMA, H100, context_len=8192, batch_size=8, ax=ax)
    per_token = memory.kv_bytes_per_token(LLAMA)
    batch = _line(ax, "KV of 8 sequences")
    x, y = batch.get_data()
    np.testing.assert_allclose(y, x * per_token * 8 / GiB)
    one = _line(ax, "KV of 1 sequence")
    np.testing.assert_allclose(one.get_ydata(), one.get_xdata() * per_token / GiB)
    free = memory.free_kv_bytes(LLAMA, H100)
    limit = next(line for line in ax.get_lines() if line.get_label().startswith("memory left"))
    assert limit.get_ydata()[0] == pytest.approx(free / GiB)
    fit_len = free / (per_token * 8)
    marker = next(line for line in ax.get_lines() if line.get_marker() == "X")
    assert marker.get_xdata()[0] == pytest.approx(fit_len)
    naive = memory.max_sequences_naive(LLAMA, H100, 8192)
    assert any(f"{naive:,} sequences fit" in t.get_text() and f"sequence {naive + 1:,} does not"
               in t.get_text() for t in ax.texts)
    assert "8 KV heads" in ax.get_title() and "batch 8" in ax.get_title()
    assert "(tokens)" in ax.get_xlabel() and "(GiB)" in ax.get_ylabel()


def test_kv_growth_fp8_halves_the_slope(ax):
    plots.plot_kv_growth(LLAMA, H100, context_len=4096, batch_size=1, kv_dtype="fp8", ax=ax)
    line = _line(ax, "KV of 1 sequence")
    x, y = line.get_data()
    np.testing.assert_allclose(y, x * memory.kv_bytes_per_token(LLAMA) / 2 / GiB)
    assert "fp8" in ax.get_title()


def test_kv_growth_weights_that_do_not_fit_raise_a_readable_error(ax):
    with pytest.raises(ValueError, match="do not fit"):
        plots.plot_kv_growth(get_model("Llama-3.1-405B"), H100, ax=ax)


# ---- attention ------------------------------------------------------------------------------
def test_attention_heatmap_ticks_and_mask(ax):
    w = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    masked = np.triu(np.ones((3, 3), bool), 1)
    plots.plot_attention(w, ["a", " ", "\n"], layer=1, head=2, kv_head=1, heads_sharing=[2, 3],
                         masked=masked, ax=ax)
    np.testing.assert_allclose(ax.images[0].get_array(), w)
    assert plots.token_tick_labels(ax, "x") == ["a", "␣", "\\n"]
    assert plots.token_tick_labels(ax, "y") == ["a", "␣", "\\n"]
    overlay = ax.images[1].get_array()  # grey, opaque exactly on the masked cells
    np.testing.assert_array_equal(overlay[..., 3] > 0, masked)
    assert ax.get_legend().get_texts()[0].get_text() == "removed by the causal mask"
    title = ax.get_title()
    assert "layer 1" in title and "head 2" in title and "KV head 1" in title and "2, 3" in title
    assert ax.get_xlabel() and ax.get_ylabel()


def test_attention_rejects_bad_shapes(ax):
    with pytest.raises(ValueError, match="num_keys"):
        plots.plot_attention(np.ones((2, 3)), ["a", "b"], ax=ax)


# ---- sampling -------------------------------------------------------------------------------
def test_sampling_bars_kept_tokens_and_boundary(ax):
    logits = np.array([3.0, 2.0, 1.0, 0.0, -1.0])
    params = SamplingParams(temperature=1.0, top_p=0.8)
    plots.plot_sampling(logits, params, token_labels=list("abcde"), sampled_token=1, ax=ax)
    tempered = np.exp(logits) / np.exp(logits).sum()
    final = probabilities(logits, params)
    bars = ax.containers
    np.testing.assert_allclose([b.get_height() for b in bars[0]], tempered)
    np.testing.assert_allclose(_line(ax, "final (renormalised)").get_ydata(),
                               np.where(final > 0, final, np.nan))  # removed tokens: no dash
    kept = int(np.count_nonzero(final))
    blue = matplotlib.colors.to_rgba(OKABE_ITO["blue"])
    assert sum(b.get_facecolor() == blue for b in bars[0]) == kept
    boundary = next(line for line in ax.get_lines() if line.get_label().startswith("boundary"))
    assert boundary.get_xdata()[0] == pytest.approx(kept - 0.5)
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")
    assert "top-p=0.8" in ax.get_title() and f"{kept:,} of 5 tokens kept" in ax.get_title()
    assert _line(ax, "drawn").get_xdata()[0] == 1


def test_sampling_greedy_keeps_one_token(ax):
    plots.plot_sampling(np.array([0.0, 5.0, 1.0]), SamplingParams(temperature=0.0), ax=ax)
    final = _line(ax, "final (renormalised)").get_ydata()
    assert final[0] == 1.0 and np.isnan(final[1:]).all()  # sorted: the argmax first
    assert "1 of 3 tokens kept" in ax.get_title()


# ---- KV-cache work, timing, Little's law ----------------------------------------------------
def test_kv_cache_work_lines(ax):
    n = np.arange(1, 5)
    plots.plot_kv_cache_work(n, [5, 6, 7, 8], [5, 11, 18, 26], prompt_len=5, ax=ax)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [5, 11, 18, 26])
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [5, 6, 7, 8])
    assert "prompt 5 tokens" in ax.get_title()
    assert "(count)" in ax.get_ylabel()


def test_kv_cache_work_two_tokens_has_integer_ticks(ax):
    plots.plot_kv_cache_work([1, 2], [8, 9], [8, 17], prompt_len=8, ax=ax)
    ax.figure.canvas.draw()
    for ticks in (ax.get_xticks(), ax.get_yticks()):
        assert np.all(ticks == np.round(ticks))
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) == len(set(labels))  # no "8, 8, 8"


def test_kv_cache_time_in_ms(ax):
    plots.plot_kv_cache_time([1, 2], [0.001, 0.002], [0.001, 0.004], ax=ax)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1.0, 4.0])
    assert "(ms)" in ax.get_ylabel()


def test_prefill_decode_timing_per_token(ax):
    plots.plot_prefill_decode_timing([1, 4], [1e-4, 2e-4], [1e-4, 4e-4], ax=ax)
    prefill, decode = ax.get_lines()
    np.testing.assert_allclose(prefill.get_ydata(), [100.0, 50.0])  # µs per token
    np.testing.assert_allclose(decode.get_ydata(), [100.0, 100.0])
    assert "(µs)" in ax.get_ylabel() and "this machine" in ax.get_title()


def test_prefill_decode_log_axis_labels_at_least_three_ticks(ax):
    n = [8, 16, 32, 64]
    plots.plot_prefill_decode_timing(n, [8e-4, 1.2e-3, 2e-3, 3.5e-3], [1.6e-2, 3e-2, 6e-2, 0.12],
                                     ax=ax)
    ax.figure.canvas.draw()
    lo, hi = ax.get_ylim()
    shown = [t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks())
             if lo <= v <= hi and t.get_text()]
    assert len(shown) >= 3, shown


def test_throughput_latency_points_in_ms_and_labelled(ax):
    plots.plot_throughput_latency([1, 8], [0.004, 0.010], [250.0, 800.0], title="T", ax=ax)
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [4.0, 10.0])  # seconds -> ms
    np.testing.assert_allclose(line.get_ydata(), [250.0, 800.0])
    assert [t.get_text() for t in ax.texts] == ["batch 1", "batch 8"]
    assert "(ms)" in ax.get_xlabel() and ax.get_title() == "T"


def test_littles_law_point_and_capacity(ax):
    plots.plot_littles_law(10.0, 5.0, max_concurrency=208.4, capacity_label="KV", ax=ax)
    point = next(line for line in ax.get_lines() if line.get_marker() == "o")
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (10.0, 50.0)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), line.get_xdata() * 5.0)
    cap = next(line for line in ax.get_lines() if line.get_label().startswith("memory holds"))
    assert cap.get_ydata()[0] == 208.4
    assert cap.get_label() == "memory holds 208.4 sequences"
    assert "L = 5 s" in ax.get_title() and "(requests/s)" in ax.get_xlabel()


# ---- BPE trade-off --------------------------------------------------------------------------
def test_bpe_tradeoff_relative_lengths_marker_and_title(ax):
    plots.plot_bpe_tradeoff([0, 1, 2], [257, 258, 259], {"train": [10, 8, 5], "held out": [4, 4, 3]},
                            num_merges=1, ax=ax)
    train, train_dot, held, held_dot = ax.get_lines()
    np.testing.assert_allclose(train.get_ydata(), [1.0, 0.8, 0.5])  # tokens per byte
    np.testing.assert_allclose(held.get_ydata(), [1.0, 1.0, 0.75])
    assert (train_dot.get_xdata()[0], train_dot.get_ydata()[0]) == (258, 0.8)
    assert train.get_color() == OKABE_ITO["blue"] and held.get_color() == OKABE_ITO["orange"]
    assert "1 merge," in ax.get_title() and "258" in ax.get_title() and "train 8" in ax.get_title()
    assert _has_units(ax.get_xlabel()) and _has_units(ax.get_ylabel())


def test_bpe_tradeoff_rejects_misaligned_input(ax):
    with pytest.raises(ValueError, match="start at 0"):
        plots.plot_bpe_tradeoff([1, 2], [258, 259], [5, 4], ax=ax)
    with pytest.raises(ValueError, match="one count per entry"):
        plots.plot_bpe_tradeoff([0, 1], [257, 258], [5], ax=ax)


# ---- house rules ----------------------------------------------------------------------------
def test_no_global_rcparams_change_and_no_show(monkeypatch):
    before = dict(matplotlib.rcParams)
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() called"))
    axes = [plots.plot_roofline(A100, LLAMA), plots.plot_kv_growth(LLAMA, H100),
            plots.plot_attention(np.eye(2), ["a", "b"]),
            plots.plot_sampling(np.zeros(4), SamplingParams()),
            plots.plot_kv_cache_work([1], [1], [1]),
            plots.plot_prefill_decode_timing([1], [1e-3], [1e-3]),
            plots.plot_littles_law(1.0, 1.0),
            plots.plot_bpe_tradeoff([0, 1], [257, 258], [3, 2], num_merges=1)]
    assert dict(matplotlib.rcParams) == before
    for a in axes:
        assert a.get_title() and a.get_xlabel() and a.get_ylabel()


def test_projector_style_is_a_context():
    before = matplotlib.rcParams["axes.titlesize"]
    with use_projector_style():
        assert matplotlib.rcParams["axes.titlesize"] == 13
    assert matplotlib.rcParams["axes.titlesize"] == before
    assert CYCLE[0] == OKABE_ITO["blue"]


# ---- a simulated serving run and one request's two counters -----------------------------------
@pytest.fixture(scope="module")
def sim():
    from mini_vllm.simulate import simulate_serving
    return simulate_serving(rate_per_step=0.5, num_arrival_steps=30, seed=3)


def test_in_flight_draws_the_simulation_and_its_time_average(sim, ax):
    plots.plot_in_flight(sim, ax=ax)
    steps = _line(ax, "in flight")
    np.testing.assert_array_equal(steps.get_ydata(), sim.in_flight)
    np.testing.assert_allclose(steps.get_xdata(), np.arange(sim.num_steps) * sim.step_time_s)
    average = _line(ax, f"time average N = {sim.mean_in_flight:.2f}")
    assert set(average.get_ydata()) == {sim.mean_in_flight}
    assert ax.get_xlabel() == "simulated time (s)" and ax.get_ylabel() == "requests"


def test_latency_histogram_counts_every_request_once(sim, ax):
    plots.plot_latency_histogram(sim, ax=ax)
    heights = [patch.get_height() for patch in ax.patches]
    assert sum(heights) == sim.num_requests
    assert set(_line(ax, f"mean L = {sim.mean_latency_s:.3f} s").get_xdata()) == {sim.mean_latency_s}
    with pytest.raises(ValueError, match="bin_s"):
        plots.plot_latency_histogram(sim, bin_s=0)


def test_request_counters_follow_the_engine(ax):
    from mini_vllm.engine import LLMEngine
    from mini_vllm.simulate import trace_counters
    engine = LLMEngine(seed=0, max_num_batched_tokens=4)
    req = engine.add_request(list(range(1, 11)), SamplingParams(temperature=0.0, max_tokens=3,
                                                                 ignore_eos=True))
    rows = trace_counters(engine)
    plots.plot_request_counters(rows, req.request_id, title="chunked", ax=ax)
    # 10 prompt tokens in chunks of 4, 4, 2 (the last one samples), then two decode steps
    assert list(_line(ax, "num_computed_tokens").get_ydata()) == [0, 4, 8, 10, 11, 12]
    assert list(_line(ax, "num_tokens").get_ydata()) == [10, 10, 10, 11, 12, 13]
    assert list(_line(ax, "num_tokens").get_xdata()) == [0, 1, 2, 3, 4, 5]
    assert ax.get_title() == "chunked"
    with pytest.raises(ValueError, match="request_id 'nope'"):
        plots.plot_request_counters(rows, "nope")


def test_plot_cosine_pairs_puts_each_table_in_its_triangle():
    from mini_vllm.plots import plot_cosine_pairs
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-0.5, 0.5, (2, 4, 4))
    a, b = (a + a.T) / 2, (b + b.T) / 2
    ax = plot_cosine_pairs(a, b, list("wxyz"), groups=(2,))
    shown = ax.images[0].get_array()
    iu, il = np.triu_indices(4, 1), np.tril_indices(4, -1)
    np.testing.assert_array_equal(shown[iu], a[iu])
    np.testing.assert_array_equal(shown[il], b[il])
    assert np.ma.getmaskarray(shown).diagonal().all() or np.isnan(shown.diagonal()).all()
    assert [t.get_text() for t in ax.get_xticklabels()] == list("wxyz")
    assert {t.get_text() for t in ax.texts} == {"trained", "untrained"}
    with pytest.raises(ValueError, match=r"must be \(4, 4\)"):
        plot_cosine_pairs(a[:3, :3], b, list("wxyz"))
    with pytest.raises(ValueError, match="split points in 1..3"):
        plot_cosine_pairs(a, b, list("wxyz"), groups=(4,))


def test_plot_bit_layouts_one_box_per_bit():
    from mini_vllm.numformats import format_info
    from mini_vllm.plots import BIT_FIELD_COLORS, plot_bit_layouts
    names = ["float32", "bfloat16", "float8_e4m3fn"]
    ax = plot_bit_layouts(names)
    boxes = [p for p in ax.patches if p.get_gid() in BIT_FIELD_COLORS]
    assert len(boxes) == sum(format_info(n).bits for n in names)
    top = [p for p in boxes if p.get_y() == len(names) - 1]  # float32's row
    counts = {f: sum(p.get_gid() == f for p in top) for f in BIT_FIELD_COLORS}
    assert counts == {"sign": 1, "exponent": 8, "mantissa": 23}
    assert ax.get_xlim() == (0, 32)
    labels = [t for t in ax.texts if t.get_gid() == "row_label"]
    assert [t.get_text() for t in labels] == [
        "float32 · 32 bits: 1 + 8 + 23", "bfloat16 · 16 bits: 1 + 8 + 7",
        "float8_e4m3fn · 8 bits: 1 + 4 + 3"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == set(BIT_FIELD_COLORS)
    with pytest.raises(ValueError, match="float formats"):
        plot_bit_layouts(["int8"])


def test_plot_bit_layouts_stays_legible_when_shrunk():
    """Phone-sized: big dark labels that no box touches, all inside the figure."""
    from matplotlib.colors import to_rgb

    from mini_vllm.plots import BIT_FIELD_COLORS, BIT_LAYOUT_TEXT_SIZE, plot_bit_layouts
    ax = plot_bit_layouts()
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [p.get_window_extent(renderer) for p in ax.patches
             if p.get_gid() in BIT_FIELD_COLORS]
    labels = [t for t in ax.texts if t.get_gid() == "row_label"]
    assert len(labels) == 5
    texts = labels + ax.get_legend().get_texts() + ax.get_xticklabels() + [
        ax.title, ax.xaxis.label]
    for t in texts:
        assert t.get_fontsize() >= BIT_LAYOUT_TEXT_SIZE >= 13, t.get_text()
    for t in labels:
        assert max(to_rgb(t.get_color())) < 0.3, "row labels are dark"
        extent = t.get_window_extent(renderer)
        assert not any(extent.overlaps(b) for b in boxes), t.get_text()
        assert fig.bbox.contains(extent.x1, extent.y1), t.get_text()
    legend = ax.get_legend().get_window_extent(renderer)
    assert not any(legend.overlaps(b) for b in boxes)
    assert not legend.overlaps(ax.title.get_window_extent(renderer))
