"""diagrams.py draws the package's numbers: the shapes, counters, roofs and shares on the picture
are checked against config, memory, roofline, Request and the engine, on two configs (the shipped
trained model and Llama-3-8B); every diagram is checked for legibility (Agg)."""

import itertools
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from mini_vllm import diagrams as D  # noqa: E402
from mini_vllm import memory, roofline  # noqa: E402
from mini_vllm.catalog import get_model  # noqa: E402
from mini_vllm.config import TOY, TOY_MHA  # noqa: E402
from mini_vllm.engine import LLMEngine  # noqa: E402
from mini_vllm.hardware import get_gpu  # noqa: E402
from mini_vllm.kv_cache import KVCache  # noqa: E402
from mini_vllm.model import attention, causal_mask  # noqa: E402
from mini_vllm.pretrained import load_pretrained  # noqa: E402
from mini_vllm.sampler import SamplingParams  # noqa: E402
from mini_vllm.simulate import trace_counters  # noqa: E402
from mini_vllm.tokenizer import ByteTokenizer  # noqa: E402
from mini_vllm.units import format_bytes  # noqa: E402

TRAINED_MODEL = load_pretrained()
TRAINED = TRAINED_MODEL.config  # GQA: 4 query heads on 2 KV heads, head_dim 32, 4 layers
LLAMA = get_model("Llama-3-8B")  # GQA: 32 on 8, head_dim 128, 32 layers, bfloat16
CONFIGS = pytest.mark.parametrize("cfg", [TRAINED, LLAMA], ids=["trained", "llama3-8b"])
PROMPT = ["T", "o", " ", "b", "e", " ", "o", "r"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax, gid: str | None = None) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_text() and (gid is None or
                                                                  t.get_gid() == gid)]


def _by_gid(ax, gid: str) -> list:
    """The lines, patches and grids drawn with this gid (texts: see _texts)."""
    return [a for a in ax.get_children() if a.get_gid() == gid and not isinstance(a, Text)]


# ---- 1. decoder stack ------------------------------------------------------------------------
@CONFIGS
def test_decoder_stack_labels_are_the_configs_shapes(cfg):
    ax = D.draw_decoder_stack(cfg, seq_len=8)
    texts = _texts(ax)
    h, d, nq, nkv = cfg.hidden_size, cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
    assert f"attention · {nq} heads, {nkv} KV heads (GQA)" in texts
    assert _texts(ax, "shape") == [f"(8, {nq}×{d})", f"(8, {nkv}×{d})", f"(8, {nkv}×{d})",
                                   f"({nq}, 8, {d})", f"(8, {h})",
                                   *[f"(8, {cfg.intermediate_size})"] * 3, f"(8, {h})"]
    assert f"MLP · SwiGLU, intermediate {cfg.intermediate_size}" in texts
    assert f"residual stream x: (8, {h})" in texts
    assert f"rows of table ({cfg.vocab_size}, {h}) → x (8, {h})" in texts
    assert f"x·W_head, W_head ({h}, {cfg.vocab_size})" in texts
    assert f"(8, {cfg.vocab_size}): a score per vocabulary entry" in texts
    assert f"decoder block 1 of {cfg.num_layers}" in texts
    assert f"decoder block {cfg.num_layers}: the same shapes, its own weights" in texts
    assert f"⋮   blocks 2–{cfg.num_layers - 1}: the same shapes" in texts
    assert ax.diagram_data["q"] == (8, nq, d) and ax.diagram_data["k"] == (8, nkv, d)
    assert ax.diagram_data["logits"] == (8, cfg.vocab_size)


def test_decoder_stack_follows_seq_len_and_the_architecture():
    ax = D.draw_decoder_stack(TOY, seq_len=3)  # 2 layers: no '⋮' row, block 2 collapsed
    assert "(3, 4×16)" in _texts(ax) and "(3, 2×16)" in _texts(ax)
    assert not _texts(ax, "dots") and "decoder block 2: the same shapes, its own weights" in \
        _texts(ax)
    gpt2 = D.draw_decoder_stack(get_model("GPT-2-small"), seq_len=4)
    assert "MLP · GELU, intermediate 3072" in _texts(gpt2)
    assert "attention · 12 heads, 12 KV heads (MHA)" in _texts(gpt2)
    assert "W_head = embedding tableᵀ (tied)" in _texts(gpt2)
    assert "LayerNorm" in _texts(gpt2) and "Q = x·W_q" in _texts(gpt2)  # no RoPE
    mixtral = D.draw_decoder_stack(get_model("Mixtral-8x7B-v0.1"), seq_len=4)
    assert "MoE MLP · 2 of 8 experts, each 14336 wide" in _texts(mixtral)


# ---- 2. attention as matrices -----------------------------------------------------------------
@CONFIGS
def test_attention_matrices_shapes_mask_and_schematic_weights(cfg):
    ax = D.draw_attention_matrices(cfg, PROMPT)
    d = cfg.head_dim
    assert _texts(ax, "matrix-label") == [f"Q\n8×{d}", f"Kᵀ\n{d}×8", "scores S\n8×8",
                                          "S/√d, masked\n8×8", "A = softmax\n8×8",
                                          f"V\n8×{d}", f"output\n8×{d}"]
    assert f"÷√{d}" in _texts(ax) and f"one head, head_dim d = {d}" in _texts(ax)
    masked = causal_mask(8, 8)
    np.testing.assert_array_equal(ax.diagram_data["masked"], masked)
    crosses = _by_gid(ax, "masked")  # one × per masked cell, in both masked grids
    assert [len(line.get_xdata()) for line in crosses] == [28, 28]
    w = ax.diagram_data["weights"]
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_array_equal(w[masked], 0.0)
    np.testing.assert_allclose(w[~masked], np.repeat(1 / np.arange(1, 9), np.arange(1, 9)))
    assert _texts(ax, "token")[:8] == ["T", "o", "␣", "b", "e", "␣", "o", "r"]


def test_attention_heatmap_draws_the_trained_models_weights():
    ids = ByteTokenizer().encode("To be or")
    _, maps = TRAINED_MODEL.forward([(ids, TRAINED_MODEL.new_cache())], return_attention=True)
    weights = maps[0][0, 1]  # layer 0, head 1: (8, 8)
    ax = D.draw_attention_matrices(TRAINED, PROMPT, weights=weights)
    (grid,) = _by_gid(ax, "A = softmax")
    colors = grid.get_facecolors().reshape(8, 8, 4)
    masked = causal_mask(8, 8)
    expected = plt.get_cmap("Blues")(0.08 + 0.92 * weights)
    np.testing.assert_allclose(colors[~masked], expected[~masked])
    np.testing.assert_allclose(colors[masked], [to_rgba(D.GREY, 0.35)] * 28)
    assert "A: the weights passed in" in _texts(ax)


@pytest.mark.parametrize("cfg, sharing, groups", [
    (TRAINED, None, [[0, 1], [2, 3]]),
    (LLAMA, None, [list(range(4 * j, 4 * j + 4)) for j in range(8)]),
    (TOY_MHA, None, [list(range(4 * j, 4 * j + 4)) for j in range(8)]),  # MHA: Llama-3-8B drawn
    (TRAINED, TOY.replace(num_kv_heads=1), [[0, 1, 2, 3]]),
])
def test_gqa_panel_groups_query_heads_as_the_model_does(cfg, sharing, groups):
    ax = D.draw_attention_matrices(cfg, ["a", "b"], sharing_cfg=sharing)
    drawn = sharing or (cfg if cfg.num_kv_heads < cfg.num_heads else LLAMA)
    assert ax.diagram_data["sharing_cfg"] == drawn.name
    assert ax.diagram_data["groups"] == groups
    assert len(_by_gid(ax, "q-head")) == drawn.num_heads
    assert len(_by_gid(ax, "kv-head")) == drawn.num_kv_heads
    g = drawn.num_heads // drawn.num_kv_heads
    assert f"the K and V of each KV head serve {g} query head{'s' if g > 1 else ''}" in _texts(ax)
    # model.attention: with V of KV head j all equal to j, query head h returns its KV head
    q = np.zeros((drawn.num_heads, 1, 2))
    v = np.arange(drawn.num_kv_heads, dtype=float)[:, None, None] * np.ones((1, 1, 2))
    out = attention(q, np.zeros((drawn.num_kv_heads, 1, 2)), v)
    assert [[int(out[h, 0, 0]) for h in heads] for heads in groups] == \
        [[j] * len(heads) for j, heads in enumerate(groups)]


# ---- 3. KV cache growth -----------------------------------------------------------------------
@CONFIGS
def test_kv_growth_tokens_new_slice_and_bytes(cfg):
    ax = D.draw_kv_cache_growth(cfg, prompt_len=4, steps=3)
    panels = ax.diagram_data["panels"]
    assert [p["num_tokens"] for p in panels] == [4, 5, 6, 7]
    assert [p["new_tokens"] for p in panels] == [4, 1, 1, 1]
    assert [p["shape"] for p in panels] == [(cfg.num_layers, 2, cfg.num_kv_heads, n,
                                             cfg.head_dim) for n in (4, 5, 6, 7)]
    per_token = memory.kv_bytes_per_token(cfg)
    assert [p["bytes"] for p in panels] == [n * per_token for n in (4, 5, 6, 7)]
    label = f"one token adds {format_bytes(per_token)} in {cfg.dtype}, all layers together"
    assert label in _texts(ax)
    assert _texts(ax, "kv-label")[1::3] == ["4 tokens", "5 tokens", "6 tokens", "7 tokens"]
    assert _texts(ax, "kv-label")[2::3] == [format_bytes(n * per_token) for n in (4, 5, 6, 7)]
    new = to_rgba(D.C["vermillion"], 0.85)
    for grid, panel in zip(_by_gid(ax, "kv-cells"), panels):  # the highlighted columns
        colors = grid.get_facecolors().reshape(len(ax.diagram_data["rows"]), -1, 4)
        fresh = np.all(np.isclose(colors[0], new), axis=1)
        assert colors.shape[1] == panel["num_tokens"]
        assert fresh.sum() == panel["new_tokens"] and fresh[-panel["new_tokens"]:].all()


def test_kv_growth_bytes_equal_a_real_caches_bytes():
    panels = D.kv_growth_shapes(TRAINED, 4, 3)
    cache = KVCache(TRAINED)
    c = TRAINED
    for panel in panels:
        for layer in range(c.num_layers):
            k = np.zeros((c.num_kv_heads, panel["new_tokens"], c.head_dim), np.float32)
            cache.append(layer, k, k)
        assert cache.num_tokens == panel["num_tokens"] and cache.nbytes == panel["bytes"]


# ---- 4. request timeline ----------------------------------------------------------------------
def _engine_trace(prompt_len: int, output_len: int, budget: int | None, ids: str):
    engine = LLMEngine(TOY, max_num_batched_tokens=budget)
    params = SamplingParams(temperature=0.0, max_tokens=output_len, ignore_eos=True)
    for request_id in ids:
        engine.add_request(list(range(prompt_len)), params, request_id=request_id)
    return engine, trace_counters(engine)


def test_timeline_of_one_request_is_the_engines():
    ax = D.draw_request_timeline(6, 4)
    data = ax.diagram_data
    engine, rows = _engine_trace(6, 4, None, "A")
    assert data["tokens_per_step"] == engine.stats.tokens_processed_per_step == [6, 1, 1, 1]
    assert [(r.step, r.num_scheduled_tokens, r.num_tokens, r.num_computed_tokens)
            for r in data["rows"]] == [(r.step, r.num_scheduled_tokens, r.num_tokens,
                                        r.num_computed_tokens) for r in rows]
    assert data["ttft_steps"] == {"A": 1} and data["itl_steps"] == {"A": 1}
    assert _texts(ax, "ttft") == ["TTFT: 1 step"] and _texts(ax, "itl") == ["ITL: 1 step"]
    assert _texts(ax, "step-tokens") == ["6", "1", "1", "1"]
    assert _texts(ax, "lane-tokens") == ["6", "1", "1", "1"]
    assert len(_by_gid(ax, "sampled")) == 4  # one token out per step


def test_chunked_timeline_shares_steps_under_the_budget():
    ax = D.draw_request_timeline(6, 4, chunked=True, chunk_size=4)
    data = ax.diagram_data
    engine, rows = _engine_trace(6, 4, 4, "AB")
    assert data["tokens_per_step"] == engine.stats.tokens_processed_per_step
    assert data["tokens_per_step"] == [4, 4, 4, 2, 2, 1, 1]
    assert data["ttft_steps"] == {"A": 2, "B": 4} and data["itl_steps"] == {"A": 1, "B": 1}
    b = [r.num_scheduled_tokens for r in data["rows"] if r.request_id == "B"]
    assert b == [0, 2, 3, 1, 1, 1, 1]  # B's prefill rides along with A's last chunk and decodes
    assert _texts(ax, "ttft") == ["TTFT: 2 steps", "TTFT: 4 steps"]
    assert _texts(ax, "step-tokens") == ["4", "4", "4", "2", "2", "1", "1"]
    assert len(_by_gid(ax, "prefill (chunk)")) == 5 and len(_by_gid(ax, "decode")) == 6


def test_timeline_refuses_more_steps_than_fit():
    with pytest.raises(ValueError, match="chunk_size=1 take 46 engine steps"):
        D.timeline_steps(16, 8, chunked=True, chunk_size=1)


# ---- 5. annotated roofline ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["A100 SXM4 80GB", "H100 SXM5 80GB", "T4"])
def test_roofline_ridge_regions_and_points_on_the_roof(name):
    gpu = get_gpu(name)
    ax = D.draw_annotated_roofline(name, LLAMA)
    math = "bfloat16" if "bfloat16" in gpu.dense_flops else "float16"
    ridge = roofline.ridge_point(gpu, math)
    (marker,) = _by_gid(ax, "ridge")
    assert list(marker.get_xdata()) == [ridge] and f"ridge {ridge:,.0f} FLOP/B" in _texts(ax)
    (memory_bound,) = _by_gid(ax, "memory-bound")
    (compute_bound,) = _by_gid(ax, "compute-bound")
    assert memory_bound.get_bbox().x1 == pytest.approx(ridge, rel=1e-12)
    assert compute_bound.get_bbox().x0 == pytest.approx(ridge, rel=1e-12)
    fp8 = "fp8" if "fp8" in gpu.dense_flops else math
    expected = {"decode B=1": (roofline.decode_intensity(LLAMA, 1), math),
                "decode B=64": (roofline.decode_intensity(LLAMA, 64), math),
                "decode B=1, fp8 weights": (
                    roofline.decode_intensity(LLAMA, 1, weight_dtype="fp8"), fp8),
                "prefill 512 tokens": (roofline.prefill_intensity(LLAMA, 512), math)}
    for label, (intensity, dtype) in expected.items():
        (point,) = _by_gid(ax, label)
        on_roof = min(gpu.peak_flops(dtype), gpu.bandwidth_bytes_per_s * intensity)
        assert list(point.get_xdata()) == [intensity] and list(point.get_ydata()) == [on_roof]
    assert bool(_by_gid(ax, "fp8-roof")) == ("fp8" in gpu.dense_flops)
    (roof,) = _by_gid(ax, "roof")
    assert max(roof.get_ydata()) == gpu.peak_flops(math)


def test_roofline_region_names_stay_in_their_regions():
    for name in ("A100", "H100", "T4", "L4", "B200"):
        ax = D.draw_annotated_roofline(name, LLAMA)
        ax.figure.canvas.draw()
        ridge_px = ax.transData.transform((ax.diagram_data["ridge"], 1))[0]
        left, right = (t.get_window_extent() for t in ax.texts if t.get_gid() == "region-label")
        assert left.x1 < ridge_px < right.x0, name
        plt.close(ax.figure)


def test_roofline_fp8_point_doubles_the_decode_intensity():
    points = D.roofline_points("H100", LLAMA)
    assert points["decode B=1, fp8 weights"][0] / points["decode B=1"][0] == \
        pytest.approx(2, rel=1e-3)
    assert points["decode B=1, fp8 weights"][2] == "fp8"
    assert D.roofline_points("A100", LLAMA)["decode B=1, fp8 weights"][2] == "bfloat16"


# ---- 6. the two counters ----------------------------------------------------------------------
def test_counters_race_matches_a_request_step_by_step():
    states = D.counter_states(5, 3)
    engine = LLMEngine(TOY)
    request = engine.add_request(list(range(5)), SamplingParams(temperature=0.0, max_tokens=3,
                                                                ignore_eos=True))
    seen = [(request.num_tokens, request.num_computed_tokens)]
    while engine.has_unfinished_requests():
        engine.step()
        seen.append((request.num_tokens, request.num_computed_tokens))
    assert [(s["num_tokens"], s["num_computed_tokens"]) for s in states] == seen == \
        [(5, 0), (6, 5), (7, 6), (8, 7)]
    ax = D.draw_counters_race(5, 3)
    assert _texts(ax, "race-track") == [f"{name} = {v}" for n, c in seen
                                        for name, v in (("num_tokens", n),
                                                        ("num_computed_tokens", c))]
    assert _texts(ax, "race-gap")[::2] == ["gap = 5:", "gap = 1:", "gap = 1:",
                                           "finished: the last token"]
    gaps = [p.get_width() for p in _by_gid(ax, "gap")]
    np.testing.assert_allclose(np.array(gaps) / gaps[1], [5, 1, 1, 1])


# ---- 7. MLP cost split ------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [TRAINED, LLAMA, get_model("Mixtral-8x7B-v0.1")],
                         ids=["trained", "llama3-8b", "mixtral"])
def test_mlp_split_percentages_are_the_packages(cfg):
    split = D.mlp_cost_split(cfg, context_len=4096 if cfg is not TRAINED else 128)
    for row in split.values():
        assert sum(row.values()) == pytest.approx(100, abs=1e-9)
    params = memory.param_breakdown(cfg)
    assert split["parameters"]["MLP"] == pytest.approx(100 * params["mlp"] /
                                                       memory.num_params(cfg))
    flops = roofline.flops_per_token_breakdown(cfg, 4096 if cfg is not TRAINED else 128)
    assert split["FLOP per token"]["MLP"] == pytest.approx(100 * flops["mlp"] /
                                                           sum(flops.values()))
    assert split["FLOP per token"]["attention scores"] == pytest.approx(
        100 * flops["attention_scores"] / sum(flops.values()))


def test_mlp_split_figure_draws_llama_3_8b_shares():
    ax = D.draw_mlp_cost_split(LLAMA)
    split = ax.diagram_data["split"]
    assert split["parameters"]["MLP"] == pytest.approx(100 * 5_637_144_576 / 8_030_261_248)
    assert split["FLOP per token"]["MLP"] == pytest.approx(100 * 11_274_289_152 /
                                                           15_009_316_864)
    shares = _texts(ax, "share")
    assert "MLP 70.2%" in shares and "MLP 75.1%" in shares and "<0.1%" in shares
    widths = [p.get_width() for p in _by_gid(ax, "MLP")]
    np.testing.assert_allclose(np.array(widths) / (D.WIDTH - 0.15 - D.BAR_X),
                               [split["parameters"]["MLP"] / 100,
                                split["FLOP per token"]["MLP"] / 100])


# ---- bad input ---------------------------------------------------------------------------------
BAD = [
    (D.draw_decoder_stack, ("x",), {}, "cfg"),
    (D.draw_decoder_stack, (TRAINED,), {"seq_len": 0}, "seq_len"),
    (D.draw_decoder_stack, (TRAINED,), {"seq_len": 257}, "seq_len must be an integer in 1..256"),
    (D.draw_decoder_stack, (TRAINED,), {"seq_len": True}, "seq_len"),
    (D.draw_decoder_stack, (get_model("DeepSeek-V3"),), {}, "cfg must use K/V heads"),
    (D.draw_decoder_stack, (TRAINED,), {"ax": "axes"}, "ax must be None or a matplotlib Axes"),
    (D.draw_attention_matrices, (TRAINED, "To be"), {}, "tokens"),
    (D.draw_attention_matrices, (TRAINED, list("abcdefghi")), {}, "tokens must be a list of 1..8"),
    (D.draw_attention_matrices, (TRAINED, [1, 2]), {}, "tokens"),
    (D.draw_attention_matrices, (TRAINED, ["a"]), {"weights": np.ones((2, 2))}, "weights"),
    (D.draw_attention_matrices, (TRAINED, ["a"]), {"weights": [[1.0]]}, "weights"),
    (D.draw_attention_matrices, (TRAINED, ["a"]), {"sharing_cfg": "x"}, "sharing_cfg"),
    (D.draw_kv_cache_growth, (TRAINED,), {"prompt_len": 9}, "prompt_len must be an integer in"),
    (D.draw_kv_cache_growth, (TRAINED,), {"steps": 0}, "steps"),
    (D.draw_kv_cache_growth, (TRAINED,), {"steps": 2.0}, "steps"),
    (D.draw_request_timeline, (0,), {}, "prompt_len"),
    (D.draw_request_timeline, (6, 9), {}, "output_len must be an integer in 1..8"),
    (D.draw_request_timeline, (), {"chunked": "yes"}, "chunked must be True or False"),
    (D.draw_request_timeline, (), {"chunked": True, "chunk_size": 0}, "chunk_size"),
    (D.draw_annotated_roofline, ("nope", LLAMA), {}, "GPU"),
    (D.draw_annotated_roofline, (3, LLAMA), {}, "gpu must be"),
    (D.draw_annotated_roofline, ("H100", "x"), {}, "cfg"),
    (D.draw_annotated_roofline, ("H100", LLAMA), {"prompt_len": 0}, "prompt_len"),
    (D.draw_annotated_roofline, ("H100", LLAMA), {"batch_sizes": (64, 1)}, "batch_sizes"),
    (D.draw_annotated_roofline, ("H100", LLAMA), {"batch_sizes": (1,)}, "batch_sizes"),
    (D.draw_annotated_roofline, ("H100", LLAMA), {"ax": 1}, "ax"),
    (D.draw_counters_race, (0,), {}, "prompt_len"),
    (D.draw_counters_race, (5, 7), {}, "output_len must be an integer in 1..6"),
    (D.draw_mlp_cost_split, ("x",), {}, "cfg"),
    (D.draw_mlp_cost_split, (LLAMA,), {"context_len": -1}, "context_len"),
]


@pytest.mark.parametrize("fn, args, kwargs, message", BAD,
                         ids=[f"{f.__name__}-{m[:20]}" for f, _, _, m in BAD])
def test_bad_input_raises_a_value_error_naming_the_argument(fn, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fn(*args, **kwargs)


# ---- legibility: every diagram, both configs ----------------------------------------------------
DRAWINGS = {
    "decoder-trained": lambda: D.draw_decoder_stack(TRAINED),
    "decoder-llama": lambda: D.draw_decoder_stack(LLAMA, seq_len=4096),
    "decoder-gpt2": lambda: D.draw_decoder_stack(get_model("GPT-2-small")),
    "decoder-mixtral": lambda: D.draw_decoder_stack(get_model("Mixtral-8x7B-v0.1")),
    "attention-trained": lambda: D.draw_attention_matrices(TRAINED, PROMPT),
    "attention-llama": lambda: D.draw_attention_matrices(LLAMA, ["The", " cat", " sat"]),
    "attention-one-token": lambda: D.draw_attention_matrices(TOY_MHA, ["<0xE2>"]),
    "attention-long-tokens": lambda: D.draw_attention_matrices(LLAMA, ["<0xE2>"] * 8),
    "kv-trained": lambda: D.draw_kv_cache_growth(TRAINED),
    "kv-llama": lambda: D.draw_kv_cache_growth(LLAMA),
    "kv-widest": lambda: D.draw_kv_cache_growth(TOY, prompt_len=8, steps=4),
    "kv-narrowest": lambda: D.draw_kv_cache_growth(LLAMA, prompt_len=1, steps=1),
    "timeline": lambda: D.draw_request_timeline(),
    "timeline-one-token": lambda: D.draw_request_timeline(1, 1),
    "timeline-chunked": lambda: D.draw_request_timeline(chunked=True),
    "timeline-chunked-long": lambda: D.draw_request_timeline(12, 8, chunked=True, chunk_size=5),
    "roofline-h100": lambda: D.draw_annotated_roofline("H100", LLAMA),
    "roofline-a100": lambda: D.draw_annotated_roofline("A100", LLAMA),
    "roofline-t4": lambda: D.draw_annotated_roofline("T4", LLAMA),
    "roofline-b200": lambda: D.draw_annotated_roofline("B200", LLAMA),
    "roofline-trained": lambda: D.draw_annotated_roofline("H100", TRAINED, prompt_len=128),
    "roofline-qwen": lambda: D.draw_annotated_roofline("L4", get_model("Qwen2.5-7B")),
    "counters": lambda: D.draw_counters_race(),
    "counters-largest": lambda: D.draw_counters_race(10, 6),
    "counters-smallest": lambda: D.draw_counters_race(1, 1),
    "mlp-llama": lambda: D.draw_mlp_cost_split(LLAMA),
    "mlp-llama-8k": lambda: D.draw_mlp_cost_split(LLAMA, context_len=8192),
    "mlp-trained": lambda: D.draw_mlp_cost_split(TRAINED),
    "mlp-gpt2": lambda: D.draw_mlp_cost_split(get_model("GPT-2-small"), context_len=1024),
    "mlp-mixtral": lambda: D.draw_mlp_cost_split(get_model("Mixtral-8x7B-v0.1")),
    "mlp-deepseek": lambda: D.draw_mlp_cost_split(get_model("DeepSeek-V3"), context_len=4096),
}


def _labels(ax) -> list:
    """Every non-empty, visible text the figure shows: texts, title, axis labels."""
    extra = [ax.title, ax.xaxis.label, ax.yaxis.label]
    return [t for t in list(ax.texts) + extra if t.get_visible() and t.get_text().strip()]


def _overlaps(boxes) -> list[tuple[int, int]]:
    """Pairs of boxes that share more than a pixel (touching edges do not count)."""
    return [(i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2)
            if min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1]


def test_the_overlap_check_finds_an_overlap():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.52, 0.5, "another")
    fig.canvas.draw()
    assert _overlaps([t.get_window_extent() for t in ax.texts]) == [(0, 1)]


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_diagram_is_legible(name, monkeypatch):
    """No warning, nothing under 9 pt, every label inside the figure, no two labels overlap."""
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() called"))
    before = dict(matplotlib.rcParams)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = DRAWINGS[name]()
        ax.figure.canvas.draw()
    assert dict(matplotlib.rcParams) == before
    assert ax.figure.get_figwidth() == D.WIDTH
    labels = _labels(ax)
    assert labels and isinstance(ax.diagram_data, dict)
    assert min(t.get_fontsize() for t in labels) >= 9
    boxes = [t.get_window_extent() for t in labels]
    page = ax.figure.bbox
    outside = [t.get_text() for t, b in zip(labels, boxes)
               if b.x0 < page.x0 - 0.5 or b.x1 > page.x1 + 0.5 or b.y0 < page.y0 - 0.5
               or b.y1 > page.y1 + 0.5]
    assert not outside, f"clipped: {outside}"
    clashes = [(labels[i].get_text(), labels[j].get_text()) for i, j in _overlaps(boxes)]
    assert not clashes, f"overlapping labels: {clashes}"
