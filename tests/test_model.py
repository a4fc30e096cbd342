"""Tests for mini_vllm.model: pieces, the worked example, cache consistency, batching."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_vllm.config import TOY, TOY_MHA, TOY_MQA
from mini_vllm.kv_cache import KVCache
from mini_vllm.model import (ToyModel, apply_rope, attention, causal_mask, init_weights, linear,
                             rms_norm, rope_cos_sin, softmax, swiglu)

CONFIGS = {"MHA": TOY_MHA, "GQA": TOY, "MQA": TOY_MQA}
TOL = {"float64": 1e-10, "float32": 1e-5}


@pytest.fixture(scope="module")
def models():
    return {(kind, dtype): ToyModel(cfg.replace(dtype=dtype), seed=7)
            for kind, cfg in CONFIGS.items() for dtype in ("float32", "float64")}


# ---- the guide's worked example ---------------------------------------------------------------
def test_worked_example_three_tokens():
    q = np.array([[[1.0, 0.0]]])  # (heads=1, Tq=1, hd=2): the query of token 3
    k = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])  # (1, Tk=3, 2)
    v = np.array([[[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]]])
    out, w = attention(q, k, v, return_weights=True)
    s = np.array([1.0, 0.0, 1.0]) / np.sqrt(2.0)  # scores scaled by 1/sqrt(head_dim)
    expected_w = np.exp(s) / np.exp(s).sum()
    np.testing.assert_allclose(w[0, 0], expected_w, rtol=1e-14)
    w1, w2, w3 = expected_w
    np.testing.assert_allclose(out[0, 0], [10 * w1 + 5 * w3, 10 * w2 + 5 * w3], rtol=1e-14)
    # the guide rounds these to [0.40, 0.20, 0.40] and [6, 4]
    np.testing.assert_allclose(w[0, 0], [0.40, 0.20, 0.40], atol=0.005)
    np.testing.assert_allclose(out[0, 0], [6, 4], atol=0.05)


# ---- pieces -------------------------------------------------------------------------------------
def test_softmax_is_stable_and_normalised():
    p = softmax(np.array([1000.0, 1000.0, -np.inf]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0])


def test_rms_norm_value():
    x = np.array([3.0, 4.0])
    np.testing.assert_allclose(rms_norm(x, np.array([1.0, 2.0]), 0.0), x / np.sqrt(12.5) * [1, 2])


def test_causal_mask_bottom_right():
    m = causal_mask(2, 5)  # two new queries at positions 3 and 4
    assert m.tolist() == [[False] * 4 + [True], [False] * 5]
    assert causal_mask(3, 3).tolist() == np.triu(np.ones((3, 3), bool), 1).tolist()
    with pytest.raises(ValueError):
        causal_mask(4, 3)


def test_rope_position_zero_is_identity_and_keeps_norm():
    x = np.random.default_rng(0).standard_normal((5, 16))
    cos, sin = rope_cos_sin(np.arange(5), 16, 10000.0)
    y = apply_rope(x, cos, sin)
    np.testing.assert_allclose(y[0], x[0])
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1))


def test_rope_rotate_half_pairs():
    # HF layout: dimension i pairs with i + head_dim/2, rotated by angle pos * theta^(-2i/hd)
    hd, theta, pos = 8, 100.0, 3
    x = np.arange(1.0, hd + 1)
    cos, sin = rope_cos_sin(np.array([pos]), hd, theta)
    y = apply_rope(x, cos[0], sin[0])
    for i in range(hd // 2):
        a = pos * theta ** (-2 * i / hd)
        x1, x2 = x[i], x[i + hd // 2]
        np.testing.assert_allclose([y[i], y[i + hd // 2]],
                                   [x1 * np.cos(a) - x2 * np.sin(a), x2 * np.cos(a) + x1 * np.sin(a)])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 500), st.integers(0, 500), st.integers(1, 300))
def test_rope_scores_depend_only_on_relative_position(m, n, shift):
    rng = np.random.default_rng(m * 1000 + n)
    q, k = rng.standard_normal(16), rng.standard_normal(16)
    cos, sin = rope_cos_sin(np.array([m, n, m + shift, n + shift]), 16, 10000.0)
    s1 = apply_rope(q, cos[0], sin[0]) @ apply_rope(k, cos[1], sin[1])
    s2 = apply_rope(q, cos[2], sin[2]) @ apply_rope(k, cos[3], sin[3])
    np.testing.assert_allclose(s1, s2, rtol=1e-9, atol=1e-9)


def test_swiglu_matches_fused_weights():
    w = init_weights(TOY.replace(dtype="float64"), np.random.default_rng(1)).layers[0]
    x = np.random.default_rng(2).standard_normal((3, TOY.hidden_size))
    gate_up = x @ w.w_gate_up
    inter = TOY.intermediate_size
    g = gate_up[:, :inter]
    expected = (g / (1 + np.exp(-g)) * gate_up[:, inter:]) @ w.w_down
    np.testing.assert_allclose(swiglu(x, w.w_gate, w.w_up, w.w_down), expected, rtol=1e-12)


def _plain_mha(q, k, v):
    """One head at a time, explicit loops over queries: the textbook definition."""
    heads, tq, hd = q.shape
    tk = k.shape[1]
    out = np.zeros_like(q)
    for h in range(heads):
        for i in range(tq):
            visible = tk - tq + i + 1
            s = np.array([q[h, i] @ k[h, j] for j in range(visible)]) / np.sqrt(hd)
            p = np.exp(s - s.max())
            out[h, i] = (p / p.sum()) @ v[h, :visible]
    return out


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([(4, 4), (4, 2), (4, 1), (6, 3)]), st.integers(1, 6), st.integers(0, 5),
       st.integers(0, 10 ** 6))
def test_attention_gqa_equals_repeated_kv_mha(heads, tq, past, seed):
    num_heads, num_kv_heads = heads
    rng = np.random.default_rng(seed)
    tk = tq + past
    q = rng.standard_normal((num_heads, tq, 8))
    k, v = rng.standard_normal((2, num_kv_heads, tk, 8))
    group = num_heads // num_kv_heads
    expected = _plain_mha(q, np.repeat(k, group, axis=0), np.repeat(v, group, axis=0))
    np.testing.assert_allclose(attention(q, k, v), expected, rtol=1e-10, atol=1e-12)


def test_attention_bad_shapes():
    q = np.zeros((4, 2, 8))
    with pytest.raises(ValueError):
        attention(q, np.zeros((3, 2, 8)), np.zeros((3, 2, 8)))
    with pytest.raises(ValueError):
        attention(q, np.zeros((2, 2, 4)), np.zeros((2, 2, 4)))
    with pytest.raises(ValueError):
        attention(q, np.zeros((2, 1, 8)), np.zeros((2, 1, 8)))  # more queries than keys
    with pytest.raises(ValueError):
        attention(q[0], np.zeros((2, 2, 8)), np.zeros((2, 2, 8)))


# ---- an independent reference model ------------------------------------------------------------
def _reference_logits(model, ids):
    """Plain MHA Llama forward over a whole sequence, written without the model's helpers."""
    c, w = model.config, model.weights
    hd, half = c.head_dim, c.head_dim // 2
    t = len(ids)
    x = w.embed[ids].astype(np.float64)

    def norm(a, g):
        return a / np.sqrt((a * a).mean(-1, keepdims=True) + c.rms_norm_eps) * g

    def rope(a):  # a (T, hd): rotate pair (i, i + half) at position p by p * theta^(-2i/hd)
        outp = np.empty_like(a)
        for p in range(t):
            for i in range(half):
                ang = p * c.rope_theta ** (-2 * i / hd)
                x1, x2 = a[p, i], a[p, i + half]
                outp[p, i] = x1 * np.cos(ang) - x2 * np.sin(ang)
                outp[p, i + half] = x2 * np.cos(ang) + x1 * np.sin(ang)
        return outp

    for lw in w.layers:
        h = norm(x, lw.attn_norm)
        heads = []
        for head in range(c.num_heads):
            sl = slice(head * hd, (head + 1) * hd)
            q, k, v = rope(h @ lw.w_q[:, sl]), rope(h @ lw.w_k[:, sl]), h @ lw.w_v[:, sl]
            s = q @ k.T / np.sqrt(hd) + np.triu(np.full((t, t), -np.inf), 1)
            p = np.exp(s - s.max(-1, keepdims=True))
            heads.append((p / p.sum(-1, keepdims=True)) @ v)
        x = x + np.concatenate(heads, axis=1) @ lw.w_o
        h = norm(x, lw.mlp_norm)
        g, u = h @ lw.w_gate, h @ lw.w_up
        x = x + (g / (1 + np.exp(-g)) * u) @ lw.w_down
    return norm(x, w.final_norm) @ w.lm_head


def test_gqa_path_with_kv_heads_equal_heads_matches_plain_mha(models):
    model = models[("MHA", "float64")]
    assert model.config.num_kv_heads == model.config.num_heads
    ids = [72, 101, 108, 108, 111, 33, 10]
    logits = model.forward([(ids, KVCache(model.config))])[0]
    np.testing.assert_allclose(logits, _reference_logits(model, ids), rtol=1e-10, atol=1e-10)


# ---- cache consistency -------------------------------------------------------------------------
def _greedy(model, prompt, n, use_cache):
    """Greedy tokens and the logits that chose them, with or without the KV cache."""
    tokens, rows = [], []
    cache = KVCache(model.config)
    logits = model.forward([(prompt, cache)])[0][-1]
    for _ in range(n):
        tokens.append(int(np.argmax(logits)))
        rows.append(logits)
        if use_cache:
            logits = model.forward([([tokens[-1]], cache)])[0][-1]
        else:
            logits = model.forward([(prompt + tokens, KVCache(model.config))])[0][-1]
    return tokens, np.array(rows)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["MHA", "GQA", "MQA"])
def test_cached_equals_uncached(models, kind, dtype):
    model = models[(kind, dtype)]
    prompt = list(b"The cache")
    cached_tokens, cached_logits = _greedy(model, prompt, 12, use_cache=True)
    plain_tokens, plain_logits = _greedy(model, prompt, 12, use_cache=False)
    assert cached_tokens == plain_tokens
    np.testing.assert_allclose(cached_logits, plain_logits, rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("kind", ["MHA", "GQA", "MQA"])
def test_chunked_prefill_equals_one_shot(models, kind):
    model = models[(kind, "float64")]
    ids = list(b"chunked prefill is the same computation")
    one_shot = model.forward([(ids, KVCache(model.config))])[0]
    cache = KVCache(model.config)
    chunks = [model.forward([(ids[a:a + 5], cache)])[0] for a in range(0, len(ids), 5)]
    np.testing.assert_allclose(np.concatenate(chunks), one_shot, rtol=0, atol=1e-10)
    assert cache.num_tokens == len(ids)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(1, 6)), min_size=1, max_size=4),
       st.integers(0, 10 ** 6))
def test_mixed_batch_equals_each_alone(models, shapes, seed):
    """Requests with different cached lengths and new-token counts, batched or alone."""
    model = models[("GQA", "float64")]
    rng = np.random.default_rng(seed)
    alone, batch = [], []
    for past, new in shapes:
        past_ids = rng.integers(0, 257, past).tolist()
        new_ids = rng.integers(0, 257, new).tolist()
        caches = [KVCache(model.config), KVCache(model.config)]
        if past:
            for cache in caches:
                model.forward([(past_ids, cache)])
        alone.append(model.forward([(new_ids, caches[0])])[0])
        batch.append((new_ids, caches[1]))
    for a, b in zip(alone, model.forward(batch)):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)


def test_last_token_only(models):
    model = models[("GQA", "float64")]
    batch_full = [(list(b"abc"), KVCache(model.config)), (list(b"de"), KVCache(model.config))]
    batch_last = [(list(b"abc"), KVCache(model.config)), (list(b"de"), KVCache(model.config))]
    full = model.forward(batch_full)
    last = model.forward(batch_last, last_token_only=True)
    for f, l in zip(full, last):
        assert l.shape == (1, model.config.vocab_size)
        np.testing.assert_allclose(l[0], f[-1], atol=1e-12)


def test_attention_weights_returned(models):
    model = models[("GQA", "float32")]
    cache = KVCache(model.config)
    model.forward([(list(b"abcd"), cache)])
    logits, attn = model.forward([(list(b"ef"), cache)], return_attention=True)
    c = model.config
    assert logits[0].shape == (2, c.vocab_size)
    assert attn[0].shape == (c.num_layers, c.num_heads, 2, 6)
    np.testing.assert_allclose(attn[0].sum(-1), 1.0, rtol=1e-5)
    assert np.all(attn[0][:, :, 0, 5] == 0)  # query at position 4 cannot see position 5


# ---- weights, dtypes, degeneracy ---------------------------------------------------------------
def test_weights_deterministic_and_shared_between_dtypes():
    a = ToyModel(TOY, seed=3).weights
    b = ToyModel(TOY, rng=np.random.default_rng(3)).weights
    c = ToyModel(TOY.replace(dtype="float64"), seed=3).weights
    np.testing.assert_array_equal(a.layers[1].w_qkv, b.layers[1].w_qkv)
    np.testing.assert_array_equal(a.layers[1].w_qkv, c.layers[1].w_qkv.astype(np.float32))
    assert a.embed.dtype == np.float32 and c.embed.dtype == np.float64
    layer = a.layers[0]  # stored (out, in) like torch.nn.Linear; w_* are (in, out) views
    stored = (layer.qkv_proj, layer.o_proj, layer.gate_up_proj, layer.down_proj)
    assert all(m.flags.c_contiguous for m in stored)
    assert np.shares_memory(layer.w_q, layer.qkv_proj)
    assert layer.w_q.shape == (TOY.hidden_size, TOY.q_size)


def test_num_params_and_tied_head():
    c = TOY
    per_layer = 2 * c.hidden_size + c.hidden_size * (c.q_size + 2 * c.kv_size) + c.q_size * c.hidden_size \
        + 3 * c.hidden_size * c.intermediate_size
    untied = ToyModel(c).weights
    assert untied.num_params == 2 * c.vocab_size * c.hidden_size + c.num_layers * per_layer + c.hidden_size
    tied = ToyModel(c.replace(tie_word_embeddings=True)).weights
    assert np.shares_memory(tied.lm_head, tied.embed)
    assert tied.num_params == untied.num_params - c.vocab_size * c.hidden_size


def test_num_params_matches_calculator():
    memory = pytest.importorskip("mini_vllm.memory")
    for cfg in (TOY, TOY_MQA, TOY.replace(tie_word_embeddings=True)):
        assert ToyModel(cfg).weights.num_params == memory.num_params(cfg)


@pytest.mark.parametrize("config", [TOY, TOY_MHA, TOY_MQA, TOY.replace(tie_word_embeddings=True)])
def test_greedy_generation_is_not_degenerate(config):
    model = ToyModel(config, seed=0)
    tokens, _ = _greedy(model, list(b"Hello, world"), 30, use_cache=True)
    assert len(set(tokens)) >= (8 if not config.tie_word_embeddings else 3), tokens


def test_embed():
    model = ToyModel(TOY)
    np.testing.assert_array_equal(model.embed([1, 2]), model.weights.embed[[1, 2]])


# ---- bad input ---------------------------------------------------------------------------------
def test_bad_input():
    with pytest.raises(ValueError, match="float32"):
        ToyModel(TOY.replace(dtype="bfloat16"))
    with pytest.raises(ValueError, match="Generator"):
        init_weights(TOY, 0)
    with pytest.raises(ValueError, match="seed"):
        ToyModel(TOY, seed=-1)
    with pytest.raises(ValueError, match="plain Llama"):
        ToyModel(TOY.replace(mlp_type="gelu"))
    model = ToyModel(TOY)
    with pytest.raises(ValueError, match="257"):
        model.forward([([257], KVCache(TOY))])
    with pytest.raises(ValueError):
        model.forward([([], KVCache(TOY))])
    with pytest.raises(ValueError):
        model.forward([])
    with pytest.raises(ValueError, match="different config"):
        model.forward([([1], KVCache(TOY_MQA))])
    cache = KVCache(TOY)
    with pytest.raises(ValueError, match="share"):
        model.forward([([1], cache), ([2], cache)])
    with pytest.raises(ValueError):
        model.forward([[1, 2]])
    with pytest.raises(ValueError):
        model.embed([1.5])
    with pytest.raises(ValueError):
        rope_cos_sin(np.arange(3), 7, 10000.0)


@pytest.mark.parametrize("prompts", [
    [list(b"a"), list(b"a much longer prompt"), list(b"mid size")],  # padded decode path
    [list(b"same"), list(b"size"), list(b"four")],  # lockstep: stacked, nothing to pad
], ids=["different-lengths", "lockstep"])
@pytest.mark.parametrize("kind", ["MHA", "GQA", "MQA"])
def test_decode_batch_equals_each_alone(models, kind, prompts):
    """A batch where every request adds one token (the batched decode attention)."""
    model = models[(kind, "float64")]
    alone, batch = [], []
    for i, prompt in enumerate(prompts):
        caches = [KVCache(model.config), KVCache(model.config)]
        for cache in caches:
            model.forward([(prompt, cache)])
        alone.append(model.forward([([100 + i], caches[0])])[0])
        batch.append(([100 + i], caches[1]))
    for a, b in zip(alone, model.forward(batch)):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)
    assert [c.num_tokens for _, c in batch] == [len(p) + 1 for p in prompts]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_path_computes_in_the_config_dtype(models, dtype, monkeypatch):
    """No silent upcast (a float64 scalar times a float32 array is float64 in numpy 2): logits,
    attention maps and every attention result keep the model's dtype on the prefill, padded and
    lockstep decode paths. (The cache cannot show an upcast: it casts what it stores.)"""
    from mini_vllm import model as model_module
    model = models[("GQA", dtype)]
    seen, attend = set(), model_module._attend

    def spy(*args):
        result = attend(*args)
        seen.update(a.dtype for a in (result if isinstance(result, tuple) else (result,)))
        return result

    monkeypatch.setattr(model_module, "_attend", spy)
    caches = [KVCache(model.config) for _ in range(3)]
    outputs = model.forward([(list(b"ab"), caches[0]), (list(b"abc"), caches[1]),
                             (list(b"abc"), caches[2])])
    outputs += model.forward([([1], cache) for cache in caches])  # padded: 2, 3, 3 cached
    outputs += model.forward([([2], cache) for cache in caches[1:]])  # lockstep: 4 and 4 cached
    logits, maps = model.forward([([3], caches[0])], return_attention=True)
    assert {o.dtype for o in outputs + logits + maps} == {np.dtype(dtype)}
    assert seen == {np.dtype(dtype)}
    x = np.ones((2, 4), dtype)
    assert rms_norm(x, np.ones(4, dtype), np.float64(1e-5)).dtype == np.dtype(dtype)
    q = np.ones((2, 3, 4), dtype)
    assert attention(q, q[:1], q[:1]).dtype == np.dtype(dtype)


@pytest.mark.parametrize("num_rows", [1, 3])
def test_linear_is_x_times_weight_transposed_across_row_blocks(num_rows):
    """linear splits a weight with more than 1,024 output rows into blocks; the result is x @ W.T."""
    rng = np.random.default_rng(4)
    weight = rng.standard_normal((2500, 8))  # (out, in): three blocks, the last one partial
    x = rng.standard_normal((num_rows, 8))
    y = linear(x, weight)
    assert y.shape == (num_rows, 2500)
    np.testing.assert_allclose(y, x @ weight.T, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="linear needs x"):
        linear(x[0], weight)  # 1-d x: say so, not a matmul error from inside a block


def test_weights_stored_out_in_hold_the_same_draws():
    """Storing projections (out, in) did not change what a seed draws: w_qkv is still the second
    array drawn from the generator, (hidden, q + 2 kv), after the embedding table."""
    rng = np.random.default_rng(3)
    rng.standard_normal((TOY.vocab_size, TOY.hidden_size), dtype=np.float32)  # the embedding
    w_qkv = rng.standard_normal((TOY.hidden_size, TOY.q_size + 2 * TOY.kv_size), dtype=np.float32)
    w_qkv *= np.float32(TOY.hidden_size ** -0.5)
    layer = ToyModel(TOY, seed=3).weights.layers[0]
    np.testing.assert_array_equal(layer.w_qkv, w_qkv)
    np.testing.assert_array_equal(layer.qkv_proj, w_qkv.T)


def test_piece_validation():
    x = np.ones((2, 4))
    with pytest.raises(ValueError):
        rms_norm(x, np.ones(3), 1e-5)
    with pytest.raises(ValueError):
        rms_norm(x, np.ones(4), -1.0)
    cos, sin = rope_cos_sin(np.arange(2), 4, 10000.0)
    with pytest.raises(ValueError):
        apply_rope(np.ones((2, 6)), cos, sin)
    with pytest.raises(ValueError):
        rope_cos_sin(np.arange(2), 4, 0.0)
    with pytest.raises(ValueError):
        swiglu(x, np.ones((3, 5)), np.ones((3, 5)), np.ones((5, 4)))
    with pytest.raises(ValueError):
        softmax(x, axis=3)


def test_forward_without_causal_mask(models):
    """causal=False (for the book's mask-off view): every query sees every key."""
    model = models[("GQA", "float64")]
    ids = list(b"mask")
    causal_logits, causal_attn = model.forward([(ids, KVCache(model.config))], return_attention=True)
    open_logits, open_attn = model.forward([(ids, KVCache(model.config))], return_attention=True,
                                           causal=False)
    upper = np.triu(np.ones((len(ids), len(ids)), bool), 1)
    assert np.all(causal_attn[0][..., upper] == 0)
    assert np.all(open_attn[0][..., upper] > 0)
    np.testing.assert_allclose(open_attn[0].sum(-1), 1.0)
    assert not np.allclose(open_logits[0][0], causal_logits[0][0])
    with pytest.raises(ValueError, match="causal"):
        model.forward([(ids, KVCache(model.config))], causal=1)
