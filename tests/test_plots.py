"""plots.py draws the calculators' numbers: check the data on the Axes, labels and titles (Agg)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mini_vllm import memory, plots, roofline  # noqa: E402
from mini_vllm.catalog import get_model  # noqa: E402
from mini_vllm.config import TOY  # noqa: E402
from mini_vllm.hardware import GPUSpec, get_gpu  # noqa: E402
from mini_vllm.sampler import SamplingParams, probabilities  # noqa: E402
from mini_vllm.style import CYCLE, OKABE_ITO, gpu_colour, use_projector_style  # noqa: E402
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
CPU = GPUSpec(name="this machine (CPU)", memory_bytes=16e9, bandwidth_bytes_per_s=18e9,
              dense_flops={"float32": 9e10})  # a measured host, fixed for the tests
PAIRS = [((A100, H100), "bfloat16"), ((CPU, A100), ["float32", "bfloat16"]),
         ((get_gpu("L4"), get_gpu("B200 (HGX, 1000 W)")), "bfloat16"),
         ((get_gpu("A100 SXM4 40GB"), A100), "bfloat16")]


def _gid(ax, gid):
    """The one artist (line or shaded region) with this gid."""
    (artist,) = [a for a in ax.get_lines() + ax.collections if a.get_gid() == gid]
    return artist


def _x_range(region):
    xs = np.concatenate([p.vertices[:, 0] for p in region.get_paths()])
    return xs.min(), xs.max()


def test_roofline_roof_ridge_and_points(ax):
    plots.plot_roofline(A100, LLAMA, batch_sizes=(1, 8, 64), prompt_len=512, ax=ax)
    roof = _line(ax, f"{A100.name} roof")
    x, y = roof.get_data()
    expected = [min(A100.peak_flops("bfloat16"), i * A100.bandwidth_bytes_per_s) for i in x]
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    ridge = roofline.ridge_point(A100)
    assert ridge in x  # the corner is drawn exactly, not between two grid points
    decode = _line(ax, "decode")
    intensities = [roofline.decode_intensity(LLAMA, b) for b in (1, 8, 64)]
    np.testing.assert_array_equal(decode.get_xdata(), intensities)
    np.testing.assert_allclose(decode.get_xdata(), [1.0, 8.0, 64.0], rtol=1e-4)  # bf16: ~B
    np.testing.assert_allclose(decode.get_ydata(),
                               [roofline.attainable_flops(A100, i) for i in intensities])
    prefill = _line(ax, "prefill 512 tok")
    assert prefill.get_xdata()[0] == pytest.approx(roofline.prefill_intensity(LLAMA, 512))
    assert [t.get_text() for t in ax.texts if t.get_gid() == "ridge-label"] == \
        [f"ridge {ridge:,.0f} FLOP/B"]
    np.testing.assert_array_equal(_gid(ax, f"ridge-line:{A100.name}").get_xdata(), [ridge] * 2)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "Llama-3-8B" in ax.get_title() and A100.name in ax.get_title()
    assert _has_units(ax.get_xlabel()) and _has_units(ax.get_ylabel())
    assert "FLOP/byte" in ax.get_xlabel() and "FLOP/s" in ax.get_ylabel()
    # one GPU: memory-bound shaded left of its ridge, compute-bound right of it, both under it
    assert len(ax.collections) == 2
    lo, hi = ax.get_xlim()
    assert _x_range(_gid(ax, f"memory-bound:{A100.name}")) == (lo, ridge)
    assert _x_range(_gid(ax, f"compute-bound:{A100.name}")) == (ridge, hi)


@pytest.mark.parametrize("gpus, dtype", PAIRS)
def test_roofline_each_gpu_is_shaded_by_its_own_ridge(gpus, dtype):
    """The issue's bug: the H100's memory-bound range (A100 ridge .. H100 ridge) was shaded
    compute-bound. Each GPU's band now switches at that GPU's ridge, and lies under its roof."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_roofline(list(gpus), LLAMA, batch_sizes=(1, 16, 256), dtype=dtype, ax=ax)
    dtypes = [dtype] * 2 if isinstance(dtype, str) else dtype
    lo, hi = ax.get_xlim()
    for gpu, d in zip(gpus, dtypes):
        ridge = roofline.ridge_point(gpu, d)
        memory = _gid(ax, f"memory-bound:{gpu.name}")
        compute = _gid(ax, f"compute-bound:{gpu.name}")
        if memory.get_paths():  # two equal roofs: the later GPU's band is empty there
            assert _x_range(memory)[1] == ridge, gpu.name
        assert _x_range(compute)[0] == ridge, gpu.name
        for region in (memory, compute):  # never above the GPU's own roof
            for path in region.get_paths():
                roof = [roofline.attainable_flops(gpu, x, d) for x in path.vertices[:, 0]]
                assert np.all(path.vertices[:, 1] <= np.array(roof) * (1 + 1e-12)), gpu.name
    a, b = (roofline.ridge_point(g, d) for g, d in zip(gpus, dtypes))
    if a < b:  # between the ridges: compute-bound on the first GPU, memory-bound on the second
        assert _x_range(_gid(ax, f"compute-bound:{gpus[0].name}"))[0] == a
        assert _x_range(_gid(ax, f"memory-bound:{gpus[1].name}"))[1] == b


@pytest.mark.parametrize("gpus, dtype", PAIRS)
def test_roofline_decode_and_prefill_points_sit_on_every_roof(gpus, dtype):
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    batches = (1, 16, 64, 256)
    plots.plot_roofline(list(gpus), LLAMA, batch_sizes=batches, prompt_len=512, dtype=dtype,
                        context_len=2048, ax=ax)
    dtypes = [dtype] * 2 if isinstance(dtype, str) else dtype
    intensities = [roofline.decode_intensity(LLAMA, b, context_len=2048) for b in batches]
    for gpu, d in zip(gpus, dtypes):
        peak, bandwidth = gpu.peak_flops(d), gpu.bandwidth_bytes_per_s
        decode = _gid(ax, f"decode:{gpu.name}")
        np.testing.assert_array_equal(decode.get_xdata(), intensities)
        np.testing.assert_allclose(decode.get_ydata(),
                                   [min(peak, bandwidth * i) for i in intensities], rtol=1e-9)
        prefill = _gid(ax, f"prefill:{gpu.name}")
        i = roofline.prefill_intensity(LLAMA, 512)
        np.testing.assert_allclose(prefill.get_ydata(), [min(peak, bandwidth * i)], rtol=1e-9)
        assert decode.get_markerfacecolor() == gpu_colour(gpu.name)


def test_each_gpu_has_one_colour_in_every_figure():
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    plots.plot_roofline([A100, H100], LLAMA, ax=left)
    plots.plot_roofline([H100, get_gpu("H200 SXM 141GB"), ], LLAMA, ax=right)
    one, other = (_gid(ax, f"roof:{H100.name}").get_color() for ax in (left, right))
    assert one == other == gpu_colour(H100.name) == OKABE_ITO["vermillion"]
    assert _gid(left, f"roof:{A100.name}").get_color() == OKABE_ITO["blue"]
    assert gpu_colour("H100 80GB HBM3 (measured)") == gpu_colour(H100.name)  # one family
    assert gpu_colour("A100 SXM4 40GB") == gpu_colour("A100 PCIe 80GB") == OKABE_ITO["blue"]
    assert gpu_colour("some new chip") == gpu_colour("some new chip") in OKABE_ITO.values()
    # two of one family on one plot: same colour, told apart by the line style
    ax = plots.plot_roofline([get_gpu("A100 SXM4 40GB"), A100])
    styles = [_gid(ax, f"roof:{g}").get_linestyle() for g in ("A100 SXM4 40GB", A100.name)]
    assert styles == ["-", "--"]


def _boxes(ax, artists):
    """Display-space bounding boxes of ``artists`` after a draw."""
    renderer = ax.figure.canvas.get_renderer()
    ax.figure.draw(renderer)
    return [a.get_window_extent(renderer) for a in artists]


def _decode_labels(ax):
    return [t for t in ax.texts if t.get_gid() == "decode-label"]


def _curve_points(ax, line, per_segment: int = 20) -> np.ndarray:
    """(k, 2) display points along ``line``, its segments sampled (straight on the screen)."""
    xy = ax.transData.transform(np.column_stack(line.get_data()))
    t = np.linspace(0, 1, per_segment)[:, None]
    return np.vstack([a + t * (b - a) for a, b in zip(xy[:-1], xy[1:])] + [xy])


def _inside(box, points) -> bool:
    x, y = points.T
    return bool(np.any((x > box.x0) & (x < box.x1) & (y > box.y0) & (y < box.y1)))


@pytest.mark.parametrize("batches", [(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
                                     (1, 2, 4, 8, 16, 32, 64, 128, 256), (1, 16, 64, 256),
                                     (1, 2, 4, 8, 16, 32)])
@pytest.mark.parametrize("gpus", [(A100,), (A100, H100), (H100, A100)])
def test_roofline_every_batch_is_labelled_and_labels_do_not_overlap(batches, gpus):
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_roofline(list(gpus), LLAMA, batch_sizes=batches, ax=ax)
    labels = _decode_labels(ax)
    assert [t.get_text() for t in labels] == [f"B={b}" for b in batches]  # B=16, B=64 too
    others = [t for t in ax.texts if t.get_gid() in ("ridge-label", "region-label")]
    boxes = _boxes(ax, labels + others + [ax.get_legend()])
    inside = ax.get_window_extent()
    texts = [t.get_text() for t in labels + others] + ["legend"]
    for k, a in enumerate(boxes):
        assert inside.x0 <= a.x0 and a.x1 <= inside.x1, texts[k]
        assert inside.y0 <= a.y0 and a.y1 <= inside.y1, texts[k]
        clash = [texts[j] for j, b in enumerate(boxes[k + 1:], k + 1) if a.overlaps(b)]
        assert not clash, (texts[k], clash)


@pytest.mark.parametrize("gpus, dtype", PAIRS)
def test_roofline_legend_hides_no_roof(gpus, dtype):
    """'This machine on a roofline': the legend used to sit on the CPU's roof."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_roofline(list(gpus), TOY, batch_sizes=(1, 16, 256), prompt_len=256,
                        dtype=dtype, ax=ax)
    (legend,) = _boxes(ax, [ax.get_legend()])
    for gpu in gpus:
        assert not _inside(legend, _curve_points(ax, _gid(ax, f"roof:{gpu.name}"))), gpu.name
    points = [a for a in ax.get_lines() if a.get_gid().startswith(("decode", "prefill"))]
    assert not any(_inside(legend, _curve_points(ax, p, 1)) for p in points)


@pytest.mark.parametrize("gpus, dtype", PAIRS + [((H100,), "bfloat16")])
def test_roofline_region_labels_stay_inside_their_regions(gpus, dtype):
    """'compute-bound' right of every ridge, 'memory-bound' left of every ridge, both under
    the lowest roof: inside the region they name for every GPU on the plot."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_roofline(list(gpus), LLAMA, batch_sizes=(1, 16, 128), context_len=2048,
                        prompt_len=None, dtype=dtype, ax=ax)
    memory, compute = sorted((t for t in ax.texts if t.get_gid() == "region-label"),
                             key=lambda t: t.get_text() != "memory-bound")
    assert (memory.get_text(), compute.get_text()) == ("memory-bound", "compute-bound")
    box_m, box_c = _boxes(ax, [memory, compute])
    dtypes = [dtype] * len(gpus) if isinstance(dtype, str) else dtype
    ridges = [roofline.ridge_point(g, d) for g, d in zip(gpus, dtypes)]
    to_px = ax.transData.transform
    assert box_m.x1 < min(to_px((r, 1.0))[0] for r in ridges)
    assert box_c.x0 > max(to_px((r, 1.0))[0] for r in ridges)
    for box in (box_m, box_c):
        x = ax.transData.inverted().transform((box.x0, box.y0))[0]
        lowest = min(roofline.attainable_flops(g, x, d) for g, d in zip(gpus, dtypes))
        assert box.y1 < to_px((x, lowest))[1]  # under every roof at the label's left edge
        assert ax.get_window_extent().contains(box.x0, box.y0)
        assert ax.get_window_extent().contains(box.x1, box.y1)


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
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"{A100.name} roof", f"{H100.name} roof", "decode (B = batch size)",
                      "prefill 512 tok", "H100 measured"]


def test_roofline_without_model_only_draws_roofs(ax):
    plots.plot_roofline(A100, ax=ax)
    assert [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")] \
        == [f"{A100.name} roof"]
    assert not _decode_labels(ax)


def test_roofline_ridge_labels_stay_inside_near_the_right_edge():
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_roofline([A100, H100], LLAMA, batch_sizes=(1, 64),
                        measured=[(60.0, 4e14), (200.0, 6e14)], ax=ax)
    ridges = [t for t in ax.texts if t.get_gid() == "ridge-label"]
    assert [t.get_text() for t in ridges] == ["ridge 153 FLOP/B", "ridge 295 FLOP/B"]
    boxes = _boxes(ax, ridges)
    inside = ax.get_window_extent()
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 for b in boxes)
    assert not boxes[0].overlaps(boxes[1])
    lines = [_gid(ax, f"ridge-line:{g.name}") for g in (A100, H100)]
    for box, line in zip(boxes, lines):  # each label beside its own dotted line, not across
        x = ax.transData.transform((line.get_xdata()[0], 1.0))[0]
        assert box.x1 <= x or box.x0 >= x


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
    (image,) = ax.images  # one image: the weights, grey exactly on the masked cells
    np.testing.assert_allclose(image.get_array().data, w)
    np.testing.assert_array_equal(image.get_array().mask, masked)
    assert image.get_cmap().get_bad().tolist() == list(plots.MASKED_RGBA)
    assert plots.token_tick_labels(ax, "x") == ["a", "␣", "\\n"]
    assert plots.token_tick_labels(ax, "y") == ["a", "␣", "\\n"]
    crosses = next(line for line in ax.get_lines() if line.get_gid() == "masked-cross")
    assert crosses.get_marker() == "x"  # the text says crosses: one in every masked cell
    assert sorted(zip(crosses.get_ydata(), crosses.get_xdata())) == [(0, 1), (0, 2), (1, 2)]
    assert ax.get_legend().get_texts()[0].get_text() == "removed by the causal mask"
    title = ax.get_title()
    assert "layer 1" in title and "head 2" in title and "KV head 1" in title and "2, 3" in title
    assert ax.get_xlabel() and ax.get_ylabel()


def test_attention_without_mask_draws_no_crosses(ax):
    plots.plot_attention(np.full((2, 2), 0.5), ["a", "b"], ax=ax)
    assert not [line for line in ax.get_lines() if line.get_gid() == "masked-cross"]
    assert ax.get_legend() is None


NOTEBOOK_MARGINS = dict(left=0.17, right=0.92, bottom=0.16, top=0.86)  # 0.6's 8 x 8 figure


@pytest.mark.parametrize("num_tokens, figsize", [(42, plots.ATTENTION_FIGSIZE), (48, (8, 8)),
                                                 (23, (8, 5.8)), (12, (7.0, 4.2))])
def test_attention_token_labels_never_collide(num_tokens, figsize):
    """Labels on both axes in one legible font, every k-th token where cells are small."""
    fig, ax = plt.subplots(figsize=figsize)
    fig.subplots_adjust(**(NOTEBOOK_MARGINS if figsize == (8, 8) else
                           {**plots.ATTENTION_MARGINS, "top": 0.85}))
    tokens = [chr(ord("a") + k % 26) for k in range(num_tokens)]
    tokens[3] = "<0xE2>"  # a long byte token
    w = np.tril(np.ones((num_tokens, num_tokens)))
    plots.plot_attention(w / w.sum(1, keepdims=True), tokens,
                         masked=np.triu(np.ones_like(w, bool), 1), ax=ax)
    for axis in ("x", "y"):
        labels = [t for t in ax.texts if t.get_gid() == f"{axis}-token"]
        assert labels and {t.get_fontsize() for t in labels} == {labels[0].get_fontsize()}
        assert labels[0].get_fontsize() >= plots.MIN_TOKEN_FONT
        boxes = _boxes(ax, labels)
        assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:])), (axis, num_tokens)
    sizes = {t.get_fontsize() for t in ax.texts if t.get_gid() in ("x-token", "y-token")}
    assert len(sizes) == 1  # the same font on both axes
    if figsize == (8, 8):  # 0.6's large figure labels every token, as its notebook asserts
        assert len(plots.token_tick_labels(ax, "y")) == num_tokens


def test_attention_rejects_bad_shapes(ax):
    with pytest.raises(ValueError, match="num_keys"):
        plots.plot_attention(np.ones((2, 3)), ["a", "b"], ax=ax)


def _pixels(fig) -> np.ndarray:
    """(height, width, 4) uint8: ``fig`` drawn by plain Agg."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("shape, figsize, dpi", [((42, 42), plots.ATTENTION_FIGSIZE, 160),
                                                 ((48, 48), (7.0, 5.4), 200),
                                                 ((7, 13), (8.0, 8.0), 100),
                                                 ((24, 48), (7.13, 4.37), 80)])
def test_cells_image_draws_the_pixels_imshow_draws(shape, figsize, dpi):
    """The heatmap repeats each cell's colour instead of resampling the screen area: the same
    pixels as imshow(interpolation="nearest"), pixel centres on cell edges included (these
    sizes put some there)."""
    from matplotlib.colors import Normalize
    data = np.random.default_rng(0).random(shape)
    data = np.ma.masked_array(data, np.triu(np.ones(shape, bool), 1))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=plots.MASKED_RGBA)
    drawn = []
    for draw in (lambda ax: ax.imshow(data, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto",
                                      interpolation="nearest"),
                 lambda ax: plots._cells_image(ax, data, cmap, Normalize(0.0, 1.0))):
        fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
        fig.subplots_adjust(**plots.ATTENTION_MARGINS)
        image = draw(ax)
        drawn.append(_pixels(fig))
    assert isinstance(image, plots.CellsImage) and ax.get_ylim() == (shape[0] - 0.5, -0.5)
    np.testing.assert_array_equal(drawn[0], drawn[1])
    image.set_alpha(0.5)  # not a case it draws itself: matplotlib's resampling draws it
    assert _pixels(fig).shape == drawn[1].shape


@pytest.mark.parametrize("draw", [
    lambda ax: plots.plot_kv_growth(LLAMA, H100, context_len=4096, batch_size=8, ax=ax),
    lambda ax: plots.plot_kv_cache_work(np.arange(1, 49), 8 + np.arange(1, 49),
                                        np.cumsum(8 + np.arange(1, 49)), prompt_len=8, ax=ax),
    lambda ax: plots.plot_littles_law(10.0, 5.0, max_concurrency=57, ax=ax)])
def test_only_ticks_inside_the_view_are_built_and_the_figure_is_unchanged(ax, draw):
    """Locators return a tick beyond each end, which matplotlib builds (five artists) and hides:
    _finish drops them, and the drawn figure stays pixel for pixel the same."""
    draw(ax)
    wrapped = _pixels(ax.figure)
    fewer = False
    for axis in (ax.xaxis, ax.yaxis):
        shown = axis.get_major_locator()
        assert isinstance(shown, plots.InView)
        every = np.asarray(shown.locator())
        lo, hi = sorted(axis.get_view_interval())
        assert set(shown()) == {v for v in every if lo <= v <= hi}
        fewer |= len(shown()) < len(every)
        axis.set_major_locator(shown.locator)  # every tick, as matplotlib builds them
    assert fewer
    np.testing.assert_array_equal(_pixels(ax.figure), wrapped)


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


@pytest.mark.parametrize("labels", [list("abcdefghijklmnop"),
                                    ["<0xB6>", "5", "<0xE2>", "\n", " ", "<0x9B>", "th", "e"]
                                    + [f"<0x{k:02X}>" for k in range(0xC0, 0xC8)]])
def test_sampling_tick_labels_do_not_run_together(labels):
    """'<0xB6>5': byte tokens next to short ones ran into each other at 60 degrees."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    fig.subplots_adjust(bottom=0.27)
    logits = np.linspace(3.0, -3.0, len(labels))
    plots.plot_sampling(logits, SamplingParams(temperature=1.0), token_labels=labels, ax=ax)
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]
    assert len(ticks) == len(labels)
    boxes = _boxes(ax, ticks)
    assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
    long = max(map(len, labels)) > 1
    assert {t.get_rotation() for t in ticks} == ({90.0} if long else {0.0})


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
    assert "(count, log scale)" in ax.get_ylabel()
    assert ax.get_yscale() == "log"  # the with-cache line is not flat along zero


def test_kv_cache_titles_say_1_token_not_1_tokens(ax):
    plots.plot_kv_cache_work([1, 2], [1, 2], [1, 3], prompt_len=1, ax=ax)
    assert ax.get_title() == "Work to generate n tokens\n(toy model, prompt 1 token)"
    fig, other = plt.subplots()
    plots.plot_kv_cache_time([1, 2], [1e-3, 2e-3], [1e-3, 3e-3], prompt_len=1, ax=other)
    assert other.get_title().endswith("(toy model, prompt 1 token)")
    plots.plot_kv_cache_time([1, 2], [1e-3, 2e-3], [1e-3, 3e-3], prompt_len=1024, ax=other)
    assert other.get_title().endswith("(toy model, prompt 1,024 tokens)")


def test_kv_cache_work_two_tokens_has_integer_ticks(ax):
    plots.plot_kv_cache_work([1, 2], [8, 9], [8, 17], prompt_len=8, ax=ax)
    ax.figure.canvas.draw()
    lo, hi = ax.get_ylim()
    for ticks in (ax.get_xticks(), [v for v in ax.get_yticks() if lo <= v <= hi]):
        assert np.all(np.asarray(ticks) == np.round(ticks)), ticks
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


def test_prefill_decode_timing_takes_the_median_of_repeats(ax):
    """One noisy run (a 142 us spike in the issue) moves a median of three not at all."""
    # (repeats, sizes), one spike; the median differs from the best and from the mean
    runs = np.array([[1e-4, 2e-4], [1.2e-4, 9e-3], [1.1e-4, 2.2e-4]])
    plots.plot_prefill_decode_timing([1, 4], runs, runs * 4, ax=ax)
    prefill, decode = ax.get_lines()
    np.testing.assert_allclose(prefill.get_ydata(), [110.0, 55.0], rtol=1e-12)  # µs per token
    np.testing.assert_allclose(decode.get_ydata(), [440.0, 220.0], rtol=1e-12)
    np.testing.assert_array_equal(plots.median_timing(runs, 2), [1.1e-4, 2.2e-4])
    with pytest.raises(ValueError, match="prefill_s must be positive seconds"):
        plots.plot_prefill_decode_timing([1, 4], [1e-4], [1e-4, 2e-4])


@pytest.mark.parametrize("decode", [[1.6e-2, 3e-2, 6e-2, 0.12], [2e-4, 3e-4, 6e-4, 1e-3]])
def test_prefill_decode_legend_touches_no_data(decode):
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_prefill_decode_timing([8, 16, 32, 64], [8e-4, 1.2e-3, 2e-3, 3.5e-3], decode,
                                     ax=ax)
    (legend,) = _boxes(ax, [ax.get_legend()])
    for line in ax.get_lines():
        assert not _inside(legend.padded(4), _curve_points(ax, line)), line.get_label()


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
    plots.plot_throughput_latency([1, 8], [0.004, 0.010], [250.0, 800.0], max_num_seqs=8,
                                  title="T", ax=ax)
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [4.0, 10.0])  # seconds -> ms
    np.testing.assert_allclose(line.get_ydata(), [250.0, 800.0])
    assert [t.get_text() for t in ax.texts] == ["batch 1", "batch 8 (memory full)"]
    assert "(ms, log scale)" in ax.get_xlabel() and ax.get_title() == "T"
    assert ax.get_xscale() == ax.get_yscale() == "log"  # the corner near batch 1 is not squeezed
    assert ax.get_xlim()[0] > 3.0  # the axis does not start at 0


def _h100_rows(batches):
    gpu = get_gpu("H100")
    itl = [roofline.itl_estimate(LLAMA, gpu, b, context_len=2048) for b in batches]
    tok = [roofline.decode_tokens_per_s_bound(LLAMA, gpu, b, context_len=2048) for b in batches]
    return itl, tok, memory.max_sequences_naive(LLAMA, gpu, 2048)


def test_throughput_latency_never_draws_a_batch_that_does_not_fit(ax):
    """0.12 drew batch 256 although only 225 sequences of 2,048 tokens fit on the H100."""
    itl, tok, fits = _h100_rows([1, 4, 16, 64, 128, 256])
    assert fits == 225 < 256
    with pytest.raises(ValueError, match="max_num_seqs=225"):
        plots.plot_throughput_latency([1, 4, 16, 64, 128, 256], itl, tok, max_num_seqs=fits)
    with pytest.raises(ValueError, match="one entry per batch"):
        plots.plot_throughput_latency([1, 4], itl, tok, max_num_seqs=fits)
    assert not ax.get_lines()


def test_throughput_latency_labels_do_not_overlap():
    """'batch 1' and 'batch 4' sat on top of each other (4.5 ms and 4.9 ms apart by 0.4)."""
    batches = [1, 4, 16, 64, 128]
    itl, tok, fits = _h100_rows(batches)
    batches.append(fits)
    itl2, tok2, _ = _h100_rows([fits])
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    plots.plot_throughput_latency(batches, itl + itl2, tok + tok2, max_num_seqs=fits, ax=ax)
    labels = [t for t in ax.texts if t.get_gid() == "batch-label"]
    assert [t.get_text() for t in labels] == [f"batch {b}" for b in batches[:-1]] + \
        ["batch 225 (memory full)"]
    boxes = _boxes(ax, labels)
    inside = ax.get_window_extent()
    for k, a in enumerate(boxes):
        assert inside.contains(a.x0, a.y0) and inside.contains(a.x1, a.y1)
        assert not any(a.overlaps(b) for b in boxes[k + 1:]), labels[k].get_text()


def test_littles_law_point_and_capacity(ax):
    plots.plot_littles_law(10.0, 5.0, max_concurrency=208.4, capacity_label="KV", ax=ax)
    point = next(line for line in ax.get_lines() if line.get_marker() == "o")
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (10.0, 50.0)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), line.get_xdata() * 5.0)
    cap = next(line for line in ax.get_lines() if line.get_label().startswith("memory holds"))
    assert cap.get_ydata()[0] == 208  # whole sequences: 208.4 of them is 208 that run
    assert cap.get_label() == "memory holds 208 sequences"
    assert point.get_label() == "X = 10/s needs N = 50"  # a count, not 50.0
    assert "L = 5 s" in ax.get_title() and "(requests/s)" in ax.get_xlabel()


def test_counts_are_formatted_as_integers():
    assert plots.count_text(50.0) == "50" and plots.count_text(57.0) == "57"
    assert plots.count_text(12.5) == "12.5" and plots.count_text(1234.0) == "1,234"
    assert plots.whole_sequences(225.3) == 225 and plots.whole_sequences(57.0) == 57
    assert plots.whole_sequences(56.99999999999) == 57  # float noise is not a lost sequence
    fig, ax = plt.subplots()
    plots.plot_littles_law(2.5, 5.0, max_concurrency=57.0, ax=ax)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "X = 2.5/s needs N = 12.5" in labels and "memory holds 57 sequences" in labels
    fig, ax = plt.subplots()
    plots.plot_littles_law(1.0, 1.0, max_concurrency=1.0, ax=ax)
    assert "memory holds 1 sequence" in [line.get_label() for line in ax.get_lines()]


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


@pytest.mark.parametrize("seed", [0, 3])
def test_latency_histogram_legend_covers_no_bar(seed):
    from mini_vllm.simulate import simulate_serving
    sim = simulate_serving(rate_per_step=0.4, num_arrival_steps=60, step_time_s=0.05, seed=seed)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    plots.plot_latency_histogram(sim, ax=ax)
    legend, *bars = _boxes(ax, [ax.get_legend()] + [p for p in ax.patches if p.get_height()])
    assert bars and not any(legend.overlaps(b) for b in bars)


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
    # x is the table's step column (format_counter_table), with "start" one step before it
    assert [r.step for r in rows] == [0, 1, 2, 3, 4]
    assert list(_line(ax, "num_tokens").get_xdata()) == [-1, 0, 1, 2, 3, 4]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["start", "0", "1", "2", "3", "4"]
    for row in rows:  # each point: the counters the table prints on that step's row
        k = list(_line(ax, "num_tokens").get_xdata()).index(row.step)
        assert _line(ax, "num_tokens").get_ydata()[k] == row.num_tokens
        assert _line(ax, "num_computed_tokens").get_ydata()[k] == row.num_computed_tokens
    assert ax.get_title() == "chunked" and "as in the table" in ax.get_xlabel()
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


def test_greedy_sampling_bars_follow_the_logits():
    """At temperature 0 the one-hot bars are ordered by the raw logits: the argmax, then its
    runners-up (not token ids 0, 1, 2, ... which a sort by the one-hot vector would give)."""
    from mini_vllm.sampler import SamplingParams
    logits = np.array([0.1, 3.0, -1.0, 2.0, 2.5])
    ax = plots.plot_sampling(logits, SamplingParams(temperature=0.0), top_n=4,
                             token_labels=list("abcde"))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "e", "d", "a"]
    plt.close(ax.figure)
