"""Model catalog: the 13 real architectures and from_hf_config."""

import pytest

from mini_vllm.catalog import (DEEPSEEK_V3, GPT2_SMALL, LLAMA_3_8B, from_hf_config, get_model,
                               list_models, model_info)
from mini_vllm.config import TOY

EXPECTED_NAMES = [
    "Llama-3-8B", "Llama-3-70B", "Llama-3.1-405B", "Llama-2-7B", "Llama-2-70B", "Mistral-7B-v0.1",
    "Mixtral-8x7B-v0.1", "Qwen2.5-7B", "Qwen2.5-72B", "Gemma-2-9B", "Phi-3-mini-4k",
    "DeepSeek-V3", "GPT-2-small"]


def test_thirteen_models_all_bfloat16():
    assert list_models() == EXPECTED_NAMES
    for name in list_models():
        cfg = get_model(name)
        assert cfg.name == name and cfg.dtype == "bfloat16"


@pytest.mark.parametrize("query", ["llama-3-8b", "LLAMA-3-8B", "llama_3_8b",
                                   "meta-llama/Meta-Llama-3-8B", "llama3-8b"])
def test_lookup_is_case_insensitive_and_accepts_hf_id(query):
    assert get_model(query) is LLAMA_3_8B


def test_unknown_model_lists_known_names():
    with pytest.raises(ValueError, match="unknown model 'Llama-4'.*Llama-3-8B.*GPT-2-small"):
        get_model("Llama-4")
    with pytest.raises(ValueError, match="unknown model"):
        model_info("nope")


def test_toy_presets_are_found_too():
    assert get_model("toy") is TOY


def test_head_dim_matches_models_json():
    for name in list_models():
        info = model_info(name)
        assert get_model(name).head_dim == (192 if name == "DeepSeek-V3" else
                                            info["config"].get("head_dim") or
                                            get_model(name).hidden_size // get_model(name).num_heads)


def test_model_info_fields():
    info = model_info("llama-3-8b")
    assert info["hf_id"] == "meta-llama/Meta-Llama-3-8B"
    assert info["params_meta_device"] == 8_030_261_248
    assert "8B" in info["published_params"]
    assert info["sources"] and {"repo", "path", "commit"} <= set(info["sources"][0])


def test_llama_3_8b_fields():
    c = LLAMA_3_8B
    assert (c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim) == (32, 4096, 32, 8, 128)
    assert c.attention_kind == "GQA" and c.num_queries_per_kv == 4 and c.rope_theta == 500000.0


def test_gemma2_explicit_head_dim_four_norms_tied():
    g = get_model("Gemma-2-9B")
    assert g.head_dim == 256 and g.hidden_size // g.num_heads == 224  # hidden/heads would be wrong
    assert g.num_norms_per_layer == 4 and g.tie_word_embeddings


def test_qwen2_has_qkv_bias_only():
    q = get_model("Qwen2.5-7B")
    assert q.attention_bias and not q.attention_out_bias


def test_moe_fields():
    m = get_model("Mixtral-8x7B-v0.1")
    assert (m.num_experts, m.num_experts_per_tok, m.first_k_dense_replace) == (8, 2, 0)
    d = DEEPSEEK_V3
    assert (d.num_experts, d.num_experts_per_tok, d.num_shared_experts) == (256, 8, 1)
    assert (d.moe_intermediate_size, d.first_k_dense_replace) == (2048, 3)


def test_mla_fields():
    d = DEEPSEEK_V3
    assert d.is_mla and d.attention_kind == "MLA"
    assert (d.kv_lora_rank, d.q_lora_rank, d.qk_rope_head_dim, d.qk_nope_head_dim, d.v_head_dim) \
        == (512, 1536, 64, 128, 128)


def test_gpt2_names():
    g = from_hf_config({"model_type": "gpt2", "n_layer": 12, "n_head": 12, "n_embd": 768,
                        "n_positions": 1024, "vocab_size": 50257, "n_inner": None})
    assert g.intermediate_size == 3072  # n_inner None -> 4 * n_embd
    assert (g.mlp_type, g.norm_type, g.position_embedding) == ("gelu", "layernorm", "learned")
    assert g.attention_bias and g.attention_out_bias and g.tie_word_embeddings
    assert g.replace(name="GPT-2-small") == GPT2_SMALL


def test_from_hf_config_defaults_and_explicit_head_dim():
    c = from_hf_config({"hidden_size": 2048, "num_attention_heads": 8, "num_hidden_layers": 4,
                        "intermediate_size": 5632, "vocab_size": 1000, "head_dim": 128},
                       name="mine")
    assert c.name == "mine" and c.num_kv_heads == 8 and c.head_dim == 128
    assert c.dtype == "bfloat16" and not c.tie_word_embeddings
    assert from_hf_config({**{"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1,
                              "intermediate_size": 128, "vocab_size": 10},
                           "torch_dtype": "float32"}).dtype == "float32"


def test_llama_attention_bias_means_all_four_projections():
    c = from_hf_config({"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1,
                        "intermediate_size": 128, "vocab_size": 10, "attention_bias": True})
    assert c.attention_bias and c.attention_out_bias


def test_qwen2_sliding_window_off_when_unused():
    c = from_hf_config({"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4,
                        "num_hidden_layers": 1, "intermediate_size": 128, "vocab_size": 10,
                        "sliding_window": 131072, "use_sliding_window": False})
    assert c.sliding_window is None


@pytest.mark.parametrize("bad, match", [
    ({"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1, "vocab_size": 10},
     "intermediate_size"),
    ({"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 0,
      "intermediate_size": 128, "vocab_size": 10}, "num_layers"),
    ({"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1, "mlp_bias": True,
      "intermediate_size": 128, "vocab_size": 10}, "mlp_bias"),
])
def test_from_hf_config_bad_inputs(bad, match):
    with pytest.raises(ValueError, match=match):
        from_hf_config(bad)


def test_from_hf_config_needs_a_dict():
    with pytest.raises(ValueError, match="dict"):
        from_hf_config([("hidden_size", 1)])
