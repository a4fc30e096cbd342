"""widgets.py: every explorer builds, reads out the calculators' numbers, and survives a sweep
over every control (all dropdown values, slider extremes and midpoints) without an exception,
a warning or a traceback. Agg backend; what is checked is data and text, not pixels, except
that the explorers' text cache draws text where Agg draws it, and the same bytes every time."""

import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pathlib import Path  # noqa: E402

from mini_vllm import memory, plots, roofline, site_data, widgets  # noqa: E402
from mini_vllm.catalog import get_model  # noqa: E402
from mini_vllm.engine import count_work  # noqa: E402
from mini_vllm.hardware import get_gpu  # noqa: E402

LLAMA = get_model("Llama-3-8B")

# Small settings for the measuring widgets keep the sweep fast.
FACTORIES = {
    "roofline": lambda: widgets.explore_roofline(host_seconds=0.1, show=False),
    "kv_growth": lambda: widgets.explore_kv_growth(show=False),
    "attention": lambda: widgets.explore_attention(show=False),
    "sampling": lambda: widgets.explore_sampling(show=False),
    "kv_cache_work": lambda: widgets.explore_kv_cache_work(max_new_tokens=16, show=False),
    "prefill_decode": lambda: widgets.explore_prefill_decode(max_tokens=16, show=False),
    "littles_law": lambda: widgets.explore_littles_law(show=False),
}
TEXTS = ["", "a", "héllo wörld ✓ 🙂", "\n\t tabs and newlines", "x" * 200]


@pytest.fixture(scope="module")
def explorers():
    return {name: make() for name, make in FACTORIES.items()}


def _is_clean(text: str) -> bool:
    return "Traceback" not in text and "internal error" not in text and "warning:" not in text


# ---- structure ------------------------------------------------------------------------------
def test_every_explorer_is_a_vbox_with_output_and_readout(explorers):
    for name, w in explorers.items():
        assert isinstance(w, ipywidgets.VBox), name
        assert w.output in w.children and w.readout in w.children, name
        assert w.figure is not None, f"{name}: no default figure"
        assert w.readout_text and not w.readout_text.startswith("⚠"), (name, w.readout_text)
        assert w.readout.value.startswith("<div"), name


def test_explore_displays_itself_unless_show_false(monkeypatch):
    shown = []
    monkeypatch.setattr(widgets, "display", lambda obj: shown.append(obj))
    w = widgets.explore_littles_law()  # a notebook cell writes `_ = explore_littles_law()`
    assert w in shown
    shown.clear()
    widgets.explore_littles_law(show=False)
    assert not any(isinstance(obj, widgets.Explorer) for obj in shown)


def test_defaults_preset_the_controls():
    w = widgets.explore_kv_growth(model="Llama-2-7B", context_len=2048, batch_size=3,
                                  kv_dtype="fp8", show=False)
    assert w.values["num_kv_heads"] == 32
    assert (w.values["context_len"], w.values["batch_size"], w.values["kv_dtype"]) == \
        (2048, 3, "fp8")
    w = widgets.explore_roofline(batch_size=3, show=False)  # between the slider's steps
    assert w.values["batch_size"] == 3 and "batch 3" in w.readout_text
    with pytest.raises(ValueError, match="unknown default"):
        widgets.explore_sampling(temprature=0.5, show=False)
    with pytest.raises(ValueError, match="unknown control"):
        w.update(batchsize=2)


# ---- readouts carry the calculators' numbers ---------------------------------------------------
def test_roofline_readout(explorers):
    w = explorers["roofline"]
    text = w.update(batch_size=1, model="Llama-3-8B", gpu="A100 SXM4 80GB", context_len=0,
                    weight_dtype="bfloat16")
    a100 = get_gpu("A100 SXM4 80GB")
    assert "memory-bound" in text
    assert f"{roofline.decode_tokens_per_s_bound(LLAMA, a100, 1, dtype='bfloat16'):,.0f} tokens/s" \
        in text
    assert f"{roofline.critical_batch_size(LLAMA, a100, dtype='bfloat16'):,.0f}" in text
    assert f"{roofline.utilization(LLAMA, a100, 1):.1%}" in text
    assert "compute-bound" in w.update(batch_size=1024)
    w.update(show_measured=True, batch_size=1)
    labels = [line.get_label() for line in w.figure.axes[0].get_lines()]
    assert any("H100 measured" in label for label in labels)


def test_roofline_this_machine_is_measured_once(explorers, monkeypatch):
    w = explorers["roofline"]
    w.update(gpu=widgets.THIS_MACHINE)
    calls = []
    monkeypatch.setattr(widgets, "measure_host", lambda **k: calls.append(k))
    w.update(batch_size=8)
    w.update(compare_gpu=widgets.THIS_MACHINE, gpu="H100 SXM5 80GB")
    assert calls == []  # cached for the life of the widget
    assert "this machine (CPU)" in w.figure.axes[0].get_title()
    w.update(gpu="A100 SXM4 80GB", compare_gpu=widgets.NONE)


def test_kv_growth_readout_and_kv_head_options(explorers):
    w = explorers["kv_growth"]
    text = w.update(model="Llama-3-8B", context_len=8192, batch_size=8, kv_dtype="bfloat16",
                    gpu="H100 SXM5 80GB", num_gpus=1)
    h100 = get_gpu("H100 SXM5 80GB")
    assert "131.07 KB = 128 KiB" in text
    assert f"Naive concurrency (whole sequences): {memory.max_sequences_naive(LLAMA, h100, 8192)}" \
        in text
    report = memory.vllm_kv_cache_report(LLAMA, h100, 8192)
    assert report.concurrency_line in text and report.tokens_line in text
    assert [v for _, v in w.controls["num_kv_heads"].options] == [32, 16, 8, 4, 2, 1]
    w.update(num_kv_heads=1)
    assert "MQA" in w.figure.axes[0].get_title()
    w.update(model="Qwen2.5-7B")  # 28 query heads: only its divisors are offered
    assert [v for _, v in w.controls["num_kv_heads"].options] == [28, 14, 7, 4, 2, 1]
    assert w.values["num_kv_heads"] == 4
    # MLA: one latent for every head, nothing to choose; on 8 GPUs it is copied on each
    text = w.update(model="DeepSeek-V3", gpu="B200 (HGX, 1000 W)", num_gpus=8)
    assert [v for _, v in w.controls["num_kv_heads"].options] == [128]
    assert "one latent per token" in w.figure.axes[0].get_title()
    assert "cannot split MLA's latent 8 ways" in text
    w.update(model="Llama-3-8B", gpu="H100 SXM5 80GB", num_gpus=1)


def test_kv_growth_beyond_the_context_window_says_so(explorers):
    """GPT-2 reads at most 1,024 tokens: at 131,072 the readout says the bytes are arithmetic
    only, and the vLLM line carries vLLM's refusal instead of a concurrency."""
    w = explorers["kv_growth"]
    text = w.update(model="GPT-2-small", context_len=131072)
    assert "GPT-2-small handles at most 1,024 tokens" in text
    assert "vLLM-style: max_model_len=131,072 is longer than GPT-2-small's context window" in text
    assert "Maximum concurrency" not in text
    assert "handles at most" not in w.update(context_len=1024)
    w.update(model="Llama-3-8B", context_len=8192)


def test_littles_law_past_the_context_window_still_draws_and_says_so(explorers):
    """GPT-2 at the default 2,048 tokens: the capacity is drawn (arithmetic) with a note."""
    w = explorers["littles_law"]
    text = w.update(model="GPT-2-small", context_len=2048)
    assert text.startswith("Note: GPT-2-small handles at most 1,024 tokens")
    assert "KV memory holds" in text and w.figure.axes
    assert "Note:" not in w.update(model="Llama-3-8B")


def test_kv_growth_impossible_combination_is_a_message(explorers, capsys):
    w = explorers["kv_growth"]
    text = w.update(model="Llama-3.1-405B", num_gpus=1)
    assert text.startswith("⚠") and "do not fit" in text and _is_clean(text)
    assert w.figure is None
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert not w.update(num_gpus=8, gpu="H200 SXM 141GB").startswith("⚠")
    w.update(model="Llama-3-8B", num_gpus=1, gpu="H100 SXM5 80GB")


def test_attention_heads_sharing_and_mask(explorers):
    w = explorers["attention"]
    text = w.update(prompt="abc", config=widgets.MODEL_CHOICES[1], head=3, causal=True)
    assert "Query heads [2, 3] share KV head 1" in text
    assert "removes 3 of 9" in text
    ax = w.figure.axes[0]
    assert plots.token_tick_labels(ax, "x") == ["a", "b", "c"]
    weights = ax.images[0].get_array()  # masked where the causal mask removes a pair
    np.testing.assert_allclose(weights.data.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights.data[np.triu_indices(3, 1)] == 0)
    np.testing.assert_array_equal(weights.mask, np.triu(np.ones((3, 3), bool), 1))
    crosses = next(line for line in ax.get_lines() if line.get_gid() == "masked-cross")
    assert sorted(zip(crosses.get_ydata(), crosses.get_xdata())) == [(0, 1), (0, 2), (1, 2)]
    text = w.update(causal=False)
    assert "Mask OFF" in text
    text = w.update(prompt="", causal=True)
    assert text.startswith("⚠") and "type a prompt" in text


def test_model_dropdowns_default_to_the_trained_model_and_offer_the_random_ones():
    from mini_vllm import load_pretrained
    from mini_vllm.model import ToyModel

    assert widgets.MODEL_CHOICES[0] == widgets.TRAINED
    assert len(widgets.MODEL_CHOICES) == 1 + len(widgets.RANDOM_CHOICES) == 4
    assert all(len(choice) <= 36 for choice in widgets.MODEL_CHOICES)  # fits the 300 px menu
    att = widgets.explore_attention(prompt="ROMEO:", show=False)
    assert att.controls["config"].value == widgets.TRAINED
    assert att.controls["layer"].max == load_pretrained().config.num_layers - 1
    ids = list(b"ROMEO:")
    _, (maps,) = load_pretrained().forward([(ids, load_pretrained().new_cache())],
                                           return_attention=True)
    np.testing.assert_allclose(att.figure.axes[0].images[0].get_array(), maps[0, 0], rtol=1e-6)
    samp = widgets.explore_sampling(prompt="I pray you, tell me th", temperature=1.0,
                                    show=False)
    assert samp.controls["model"].value == widgets.TRAINED
    trained = widgets._toy_logits({}, "I pray you, tell me th")
    random = widgets._toy_logits({}, "I pray you, tell me th", widgets.MODEL_CHOICES[1])
    model = ToyModel(widgets.TOY, seed=0)
    ids = list(b"I pray you, tell me th")
    np.testing.assert_allclose(random, model.forward([(ids, model.new_cache())])[0][-1], rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(trained, random)
    # the trained model knows English: after " th" the likeliest bytes are letters
    assert chr(int(np.argmax(trained))).isalpha()


def test_sampling_readout_and_given_logits():
    w = widgets.explore_sampling(logits=[2.0, 1.0, 0.0], token_labels=["x", "y", "z"],
                                 temperature=0.0, show=False)
    assert "greedy" in w.readout_text and "'x'" in w.readout_text
    assert "model" not in w.controls  # your own logits: no model to choose
    text = w.update(temperature=1.0, top_k=2, seed=3)
    assert "Kept 2 of 3 tokens" in text
    assert w.controls["prompt"].disabled


def test_kv_cache_work_counts_match_count_work(explorers):
    w = explorers["kv_cache_work"]
    text = w.update(prompt_len=5, max_new_tokens=10)
    without, with_cache = count_work(5, 10)
    assert f"without cache {without:,}, with cache {with_cache:,}" in text
    assert "counters agree with count_work" in text
    ax_work, ax_time = w.figure.axes
    assert list(ax_work.get_lines()[0].get_ydata()) == [count_work(5, n)[0] for n in range(1, 11)]
    assert list(ax_work.get_lines()[1].get_ydata()) == [count_work(5, n)[1] for n in range(1, 11)]
    assert np.all(np.diff(ax_time.get_lines()[0].get_ydata()) >= 0)  # cumulative time


def test_measurements_are_cached_so_redraws_are_identical(explorers):
    w = explorers["kv_cache_work"]
    w.update(max_new_tokens=12)
    first = widgets.figure_png(w.figure)
    w.update(max_new_tokens=16)
    w.update(max_new_tokens=12)
    assert widgets.figure_png(w.figure) == first


def test_prefill_decode_and_littles_law_readouts(explorers):
    text = explorers["prefill_decode"].update(max_tokens=16)
    assert "16 tokens as one prefill pass" in text and "16 decode steps" in text
    text = explorers["littles_law"].update(throughput_per_s=10.0, latency_s=5.0)
    assert "= 50 requests in flight" in text and "50.0" not in text  # a count
    report = memory.vllm_kv_cache_report(LLAMA, get_gpu("H100 SXM5 80GB"), 2048)
    whole = int(report.max_concurrency)
    assert report.max_concurrency != whole  # 225.3: vLLM's figure is fractional ...
    assert f"KV memory holds {whole:,} whole requests of 2,048 tokens" in text  # ... ours not
    assert f"Most throughput at this latency: {whole:,} / 5 s = {whole / 5:,.2f} requests/s" \
        in text
    assert explorers["littles_law"].figure.axes[0].get_lines()[2].get_ydata()[0] == whole
    text = explorers["littles_law"].update(throughput_per_s=100.0, latency_s=60.0)
    assert "does NOT fit" in text


# ---- the sweep ------------------------------------------------------------------------------
def _sweep_values(control) -> list:
    """All options of a dropdown, extremes and midpoint of a slider, both states of a box."""
    if isinstance(control, ipywidgets.Dropdown):
        return [value for _, value in control.options] if isinstance(control.options[0], tuple) \
            else list(control.options)
    if isinstance(control, ipywidgets.SelectionSlider):
        options = list(control.options)
        return [options[0], options[len(options) // 2], options[-1]]
    if isinstance(control, (ipywidgets.IntSlider, ipywidgets.FloatSlider)):
        mid = (control.min + control.max) / 2
        mid = int(mid) if isinstance(control, ipywidgets.IntSlider) else round(mid, 2)
        return [control.min, mid, control.max]
    if isinstance(control, ipywidgets.Checkbox):
        return [False, True]
    if isinstance(control, ipywidgets.Text):
        return TEXTS
    raise AssertionError(f"no sweep rule for {type(control).__name__}")


COMBOS = {
    "roofline": [dict(gpu=widgets.THIS_MACHINE, weight_dtype="fp8", batch_size=1024,
                      context_len=32768, show_measured=True, compare_gpu="T4"),
                 dict(model="DeepSeek-V3", gpu="T4", weight_dtype="int4", prompt_len=1)],
    "kv_growth": [dict(model="DeepSeek-V3", kv_dtype="fp8", context_len=131072, batch_size=256,
                       gpu="T4", num_gpus=8),
                  dict(model="GPT-2-small", num_kv_heads=1, context_len=256, batch_size=1)],
    "attention": [dict(config=widgets.MODEL_CHOICES[3], layer=1, head=3, causal=False,
                       prompt="🙂" * 30),
                  dict(config=widgets.TRAINED, layer=3, head=3, causal=False, prompt="x" * 300)],
    "sampling": [dict(temperature=0.0, top_k=1, top_p=0.05),
                 dict(model=widgets.MODEL_CHOICES[2], temperature=0.3, prompt="🙂"),
                 dict(temperature=2.0, top_k=50, top_p=0.05, prompt="")],
    "kv_cache_work": [dict(prompt_len=64, max_new_tokens=2)],
    "prefill_decode": [],
    "littles_law": [dict(throughput_per_s=0.5, latency_s=0.5, model="Llama-3.1-405B", gpu="T4"),
                    dict(throughput_per_s=100.0, latency_s=60.0, context_len=16384)],
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_sweep_every_control(name, explorers, capsys):
    """Each control over its sweep values (others at defaults), then a few combinations."""
    w = explorers[name]
    defaults = dict(w.values)
    cases = []
    for control_name, control in w.controls.items():
        if control.disabled:
            continue
        for value in _sweep_values(control):
            cases.append({control_name: value})
    cases += COMBOS[name]
    for case in cases:
        reset = {k: v for k, v in defaults.items() if w.values[k] != v and k not in case}
        if "model" in case:  # the model decides which num_kv_heads exist
            reset.pop("num_kv_heads", None)
        text = w.update(**reset, **case)  # one redraw per case
        assert _is_clean(text), (name, case, text)
        assert (w.figure is None) == text.startswith("⚠"), (name, case, text)
        if w.figure is not None:
            for ax in w.figure.axes:
                if ax.get_label() != "<colorbar>":
                    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), (name, case)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "Warning" not in out.out + out.err
    w.update(**defaults)


def test_render_is_strict_and_does_not_move_controls(explorers):
    w = explorers["kv_growth"]
    before = dict(w.values)
    with pytest.raises(ValueError):
        w.render(model="Llama-3.1-405B", num_kv_heads=8)
    fig, text = w.render(batch_size=2)
    assert "Batch of 2" in text and w.values == before


def test_snapshot_is_a_png_of_the_current_figure(explorers):
    w = explorers["littles_law"]
    image = w.snapshot()
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.data == widgets.figure_png(w.figure)
    assert widgets.png_size(image.data)[0] == 2 * image.width == 2 * 560  # shown at 1x


@pytest.mark.parametrize("name", list(FACTORIES))
def test_explorer_png_has_twice_the_pixels_it_is_shown_at(name, monkeypatch):
    """Sharp images: savefig at 2 x the figure's dpi, displayed at its 1x width."""
    w = FACTORIES[name]()  # at its defaults
    shown = []
    monkeypatch.setattr(widgets, "display", lambda obj: shown.append(obj))
    w.redraw()
    (image,) = shown
    width, height = widgets.png_size(image.data)
    fig_w, fig_h = w.figure.get_size_inches() * w.figure.dpi
    assert (width, height) == (round(2 * fig_w), round(2 * fig_h))
    assert width == 2 * image.width  # the live widget
    mime, data, shown_width = w._image
    assert (mime, data, shown_width) == ("image/png", image.data, image.width)
    assert f"width='{image.width}'" in w.static_html()  # the static page


def test_figure_image_formats(explorers):
    fig = explorers["littles_law"].figure
    one = widgets.figure_image(fig, "png1x")
    two = widgets.figure_image(fig, "png2x")
    svg = widgets.figure_image(fig, "svg")
    assert widgets.png_size(one[1])[0] == one[2] == two[2] == svg[2] == 560
    assert widgets.png_size(two[1])[0] == 1120
    assert svg[0] == "image/svg+xml" and svg[1].lstrip().startswith(b"<?xml")
    with pytest.raises(ValueError, match="image_format must be one of"):
        widgets.figure_image(fig, "jpeg")


def _text_scene(shift_px: float = 0.0):
    """A figure with plain, rotated, multi-line, translucent, unicode and math text."""
    fig, (ax,) = widgets._figure()
    ax.set_title("Roofline: Llama-3-8B on H100\nsecond line, 1,024 tokens")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable (FLOP/s)")  # rotated 90 degrees
    ax.text(0.1 + shift_px / 900, 0.5, "B=64 ␣ é ✓ <0xE2>", transform=ax.transAxes)
    ax.text(0.5, 0.3, "rotated 90", rotation=90, transform=ax.transAxes)
    ax.text(0.7, 0.5, "rotated 30", rotation=30, color="#D55E00", alpha=0.6,
            transform=ax.transAxes)
    ax.text(0.3, 0.8, r"math $x^2 + \sqrt{y}$", transform=ax.transAxes)
    ax.plot([0, 1], [0, 1])
    return fig


def _blocks(png: bytes, k: int = 4) -> np.ndarray:
    """The PNG's RGB as the mean of each k x k block: a sub-pixel move changes it little."""
    from PIL import Image
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    h, w = rgb.shape[0] // k * k, rgb.shape[1] // k * k
    return rgb[:h, :w].reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))


def test_cached_text_lands_where_agg_draws_it():
    """The explorers' canvas draws each string from a cache of its pixels, starting on a whole
    pixel: within half a pixel of Agg's own text. A text 2 px off is caught (the control)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def png(fig, canvas=FigureCanvasAgg):
        canvas(fig)
        return widgets.figure_png(fig)

    agg = _blocks(png(_text_scene()))
    cached = _blocks(png(_text_scene(), widgets.TextCachingCanvas))
    moved = _blocks(png(_text_scene(shift_px=2.0)))
    assert cached.shape == agg.shape
    assert np.abs(cached - agg).max() < 80 < np.abs(moved - agg).max()


def test_bench_times_new_settings_and_puts_the_controls_back(explorers):
    from mini_vllm import bench_widgets
    w = explorers["littles_law"]
    before = dict(w.values)
    wall, cpu = bench_widgets.time_new_settings(w, bench_widgets.SWEEPS["littles_law"][:2],
                                                passes=2)
    assert len(wall) == len(cpu) == 4 and all(0 < s < 10 for s in wall + cpu)
    assert w.values == before
    for name, settings in bench_widgets.SWEEPS.items():  # settings of real controls
        assert settings and all(set(s) <= set(explorers[name].controls) for s in settings)


def test_text_cache_keeps_redraws_identical(explorers):
    """Cached or not, a figure draws the same bytes: the caches are pure functions."""
    fig = explorers["roofline"].render(batch_size=64)[0]
    first = widgets.figure_png(fig)
    widgets.figure_png(explorers["sampling"].render(temperature=0.35)[0])  # other strings
    assert widgets.figure_png(fig) == first
    widgets.clear_text_caches()
    assert widgets.figure_png(fig) == first
    assert widgets.figure_png(explorers["roofline"].render(batch_size=64)[0]) == first


def test_timings_are_medians_so_one_slow_run_draws_no_spike(monkeypatch):
    """A fake model on a fake clock: passes cost 1.0, 1.1 and 1.3 ms per token in turn (the
    median is 1.1, the best 1.0), and one pass is slowed by a whole second by another process.
    The median of the repeats ignores the spike; the best run or the mean would not give 1.1."""
    clock, calls = [0.0], [0]

    class Model:
        def new_cache(self):
            return None

        def forward(self, batch, last_token_only=True):
            calls[0] += 1
            factor = (1.0, 1.1, 1.3)[calls[0] % 3]
            clock[0] += 1e-3 * factor * len(batch[0][0]) + (1.0 if calls[0] == 20 else 0.0)

    monkeypatch.setattr(widgets.time, "perf_counter", lambda: clock[0])
    prefill, decode = widgets._time_prefill_decode(Model(), [1, 2, 4], repeats=3)
    np.testing.assert_allclose(prefill, [1.1e-3, 2.2e-3, 4.4e-3], rtol=1e-9)
    np.testing.assert_allclose(decode, [1.1e-3, 2.2e-3, 4.4e-3], rtol=1e-9)
    assert calls[0] >= 20  # the slow pass happened, inside the timed runs


def test_pending_message_only_before_a_measurement(explorers):
    w = explorers["prefill_decode"]
    assert w._pending(w.values) is None  # measured when the widget was built
    assert "timing" in w._pending({"model": "hidden 256", "max_tokens": 128})  # never measured


def test_one_blas_thread_is_a_context_manager():
    with widgets.one_blas_thread():
        assert float(np.ones((64, 64)) @ np.ones(64) @ np.ones(64)) == 64.0 * 64.0


def test_redraws_leave_no_pyplot_figures(explorers):
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    for w in explorers.values():
        w.redraw()
    assert plt.get_fignums() == before  # figures live outside pyplot: nothing to close or leak


def test_safe_render_turns_errors_and_warnings_into_readout_lines():
    import warnings

    def bad_value(**_):
        raise ValueError("weights do not fit")

    def bug(**_):
        raise KeyError("oops")

    def noisy(**_):
        warnings.warn("careful", UserWarning)
        return "figure", "text"

    assert widgets.safe_render(bad_value, {}) == (None, "⚠ weights do not fit")
    fig, text = widgets.safe_render(bug, {})
    assert fig is None and text.startswith("⚠ internal error (KeyError)")
    assert widgets.safe_render(noisy, {}) == ("figure", "text\n⚠ warning: careful")
    assert "<script>" not in widgets._readout_html("<script>x</script>")


def test_mask_off_uses_an_unmasked_forward_when_the_model_offers_one(monkeypatch):
    class Unmasked(widgets.ToyModel):  # stands in for forward(..., causal=False)
        def forward(self, batch, *, causal=True, **kwargs):
            logits, maps = super().forward(batch, **kwargs)
            if not causal:
                maps = [np.full_like(m, 1.0 / m.shape[-1]) for m in maps]  # uniform weights
            return logits, maps

    monkeypatch.setattr(widgets, "ToyModel", Unmasked)
    w = widgets.explore_attention(prompt="abcd", causal=False, config=widgets.MODEL_CHOICES[1],
                                  show=False)
    assert "Mask OFF: on average 38% of a query's attention goes to later tokens" in \
        w.readout_text  # uniform over 4 keys: (3 + 2 + 1 + 0) / 4 / 4 = 37.5%
    np.testing.assert_allclose(w.figure.axes[0].images[0].get_array(), 0.25)
    assert len(w.figure.axes[0].images) == 1  # nothing greyed out: the mask is off


# ---- power-of-two sliders: values set from code -----------------------------------------------
@pytest.mark.parametrize("name, control, value, expected", [
    ("roofline", "batch_size", 300, 256), ("roofline", "prompt_len", 700, 512),
    ("roofline", "context_len", 3, 0), ("kv_growth", "context_len", 5000, 4096),
    ("littles_law", "context_len", 2500, 2048), ("prefill_decode", "max_tokens", 20, 16)])
def test_selection_slider_snaps_an_unlisted_number_with_a_message(name, control, value, expected,
                                                                  explorers):
    w = explorers[name]
    before = dict(w.values)
    text = w.update(**{control: value})
    try:
        assert w.values[control] == expected
        assert f"using {expected:,}" in text and w.figure is not None and _is_clean(text)
        assert isinstance(w.controls[control], ipywidgets.SelectionSlider)  # readout: not a box
        text = w.update(**{control: "lots"})
        assert w.values[control] == expected and "is not one of the slider's steps" in text
    finally:
        w.update(**before)


def test_kv_cache_work_starts_at_two_tokens(explorers):
    w = explorers["kv_cache_work"]
    assert w.controls["max_new_tokens"].min == 2
    text = w.update(max_new_tokens=2)
    assert text.startswith("Generating 2 tokens") and _is_clean(text)
    w.update(max_new_tokens=16)


def test_every_control_has_an_uncut_description(explorers):
    for name, w in explorers.items():
        for control in w.controls.values():
            if control.description:
                assert control.style.description_width == "initial", (name, control.description)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_static_page_gets_the_figure_and_no_controls(name):
    """The bundle carries the live widget (JupyterLab, Colab) and, for the site (which drops the
    widget view: _config.yml nb_mime_priority_overrides), a div the cell's numbered figure wraps:
    the image with a real alt text, the settings, the readout and the note."""
    import base64
    import html
    import re
    explorer = FACTORIES[name]()  # at its defaults, as a notebook cell shows it
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    if explorer._site is not None:  # the page's own explorer, with this figure as its fallback
        kind, spec = explorer.site_spec()
        assert page.startswith(f"<div class='mini-vllm-live-explorer mv-live' "
                               f"data-mv-kind='{kind}'><script type='application/json' "
                               f"class='mv-spec'>{site_data.spec_json(spec)}</script>")
        assert page.endswith(f"<div class='mv-fallback'>{explorer.fixed_html()}</div></div>")
        assert spec["values"] == explorer.values and spec["title"] == explorer.title
        page = explorer.fixed_html()
    assert page.startswith("<div class='mini-vllm-static-explorer'>") and page.endswith("</div>")
    assert "<figure" not in page and "<figcaption" not in page  # the cell's figure captions it
    assert page.count("<img") == 1 and "<input" not in page and "<select" not in page
    png = base64.b64decode(re.search(r"src='data:image/png;base64,([^']+)'", page).group(1))
    assert png == widgets.figure_png(explorer.figure)  # the figure shown, at 2x
    width = int(re.search(r"<img [^>]*width='(\d+)'", page).group(1))
    assert widgets.png_size(png)[0] == 2 * width
    alt = html.unescape(re.search(r"alt='([^']+)'", page).group(1))
    assert alt == explorer.alt_text() and alt.endswith(f"Drawn at: {explorer.settings_text()}.")
    assert not re.search(r"\.(png|svg|jpe?g)\b|/tmp/|_build/|data:", alt)  # not a path
    assert len(alt) > 150 and alt[0].isupper() and not alt.startswith(explorer.title)
    for part in ("settings", "readout", "note"):
        assert f"<p class='{part}'>" in page, part
    assert widgets.STATIC_NOTE in page and html.escape(explorer.title) in page
    first = html.escape(explorer.readout_text.splitlines()[0])
    assert first in page
    for value in explorer.values.values():  # the settings line says what it is drawn at
        assert widgets._setting(value).split(" ")[0] in page


def test_alt_text_follows_the_settings(explorers):
    w = explorers["roofline"]
    w.update(gpu="H100 SXM5 80GB", compare_gpu="L4", batch_size=64)
    alt = w.alt_text()
    assert alt.startswith("Roofline chart, log-log: attainable FLOP/s (y) against arithmetic")
    assert "for the H100 SXM5 80GB and the L4." in alt and "batch 1 up to 64" in alt
    w.update(gpu="A100 SXM4 80GB", compare_gpu=widgets.NONE, batch_size=1)
    assert "for the A100 SXM4 80GB." in w.alt_text()


def test_a_readout_only_explorer_shows_its_readout_in_the_div(explorers):
    w = explorers["kv_growth"]
    w.update(model="Llama-3.1-405B", num_gpus=1)  # weights do not fit: no figure
    page = w.fixed_html()
    assert w.figure is None and "<img" not in page
    assert page.startswith("<div class='mini-vllm-static-explorer'><div class='readout'")
    w.update(model="Llama-3-8B")


def test_site_config_prefers_the_static_figure():
    import yaml
    config = yaml.safe_load((Path(__file__).parents[1] / "_config.yml").read_text())
    overrides = config["sphinx"]["config"]["nb_mime_priority_overrides"]
    assert ["html", "application/vnd.jupyter.widget-view+json", None] in overrides
    assert config["sphinx"]["config"]["nb_ipywidgets_js"] == {}


def test_bench_widgets_times_every_explorer_in_each_format(capsys):
    from mini_vllm import bench_widgets
    medians = bench_widgets.main(["--repeats", "1", "--new-settings", "0",
                                  "--formats", "png1x", "png2x"])
    assert set(medians) == {"png1x", "png2x"}
    assert all(set(m) == set(bench_widgets.EXPLORERS) for m in medians.values())
    assert all(0 < s < 10 for m in medians.values() for s in m.values())
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.split()[:1] and
            line.split()[0] in bench_widgets.EXPLORERS]
    assert len(rows) == 2 * len(bench_widgets.EXPLORERS)  # one per explorer and format
    assert all(row.endswith(("PASS", "FAIL")) for row in rows)  # against 100 ms, each
    assert "(empty axes)" in out  # the machine's floor
    verdicts = [line.strip() for line in out.splitlines() if line.startswith("  png")]
    assert [v.split(":")[0] for v in verdicts] == ["png1x", "png2x (the explorers' format)"]
    assert all(" PASS - " in v or " FAIL - " in v for v in verdicts)


SITE_KINDS = {"roofline": "roofline", "kv_growth": "kv_growth", "attention": "attention",
              "sampling": "sampling", "littles_law": "littles_law"}  # FACTORIES with a page version


@pytest.mark.parametrize("name", list(FACTORIES))
def test_site_controls_are_the_widgets_own(explorers, name):
    """The page's controls are the widget's: same order, labels and ranges (a text box and the
    model dropdowns of random toy models stay in the kernel); measuring explorers have none."""
    explorer = explorers[name]
    if name not in SITE_KINDS:
        assert explorer._site is None
        return
    kind, spec = explorer.site_spec()
    assert kind == SITE_KINDS[name] and spec["values"] == explorer.values
    names = [c["name"] for c in spec["controls"]]
    assert names == [n for n in explorer.controls if n in names]  # the widget's order
    assert len(names) >= 3
    for c in spec["controls"]:
        control = explorer.controls[c["name"]]
        assert c["label"] == control.description, c
        if c["type"] == "range":
            assert (c["min"], c["max"], c["step"]) == (control.min, control.max, control.step)
        if c["type"] in ("select", "steps"):
            assert [v for _, v in c["options"]] == [
                v for v in control._options_values if v != widgets.THIS_MACHINE]
