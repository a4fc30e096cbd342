"""HF-format checkpoints: save/load round trips, the fused/split layout, and clear errors for bad files."""

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from mini_vllm import list_pretrained, load_pretrained
from mini_vllm.config import TOY
from mini_vllm.model import ToyModel
from mini_vllm.pretrained import (DEFAULT_PRETRAINED, config_from_hf, hf_config, load_weights,
                                  pretrained_path, save_pretrained)


def _arrays(model: ToyModel) -> dict[str, np.ndarray]:
    w = model.weights
    out = {"embed": w.embed, "final_norm": w.final_norm, "lm_head_proj": w.lm_head_proj}
    for i, layer in enumerate(w.layers):
        for name in ("attn_norm", "qkv_proj", "o_proj", "mlp_norm", "gate_up_proj", "down_proj"):
            out[f"{i}.{name}"] = getattr(layer, name)
    return out


@pytest.fixture
def saved(tmp_path):
    model = ToyModel(TOY, seed=3)
    save_pretrained(model.weights, TOY, tmp_path / "m", dtype="float32")
    return model, tmp_path / "m"


def test_float32_round_trip_gives_identical_arrays_and_logits(saved):
    model, path = saved
    loaded = ToyModel.from_pretrained(path)
    a, b = _arrays(model), _arrays(loaded)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype == np.float32
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    ids = list(b"To be, or not to be")
    (x,) = model.forward([(ids, model.new_cache())])
    (y,) = loaded.forward([(ids, loaded.new_cache())])
    np.testing.assert_array_equal(x, y)


def test_float16_file_loads_into_float32_rounded_once(tmp_path):
    model = ToyModel(TOY, seed=4)
    save_pretrained(model.weights, TOY, tmp_path, dtype="float16")
    tensors = load_file(str(tmp_path / "model.safetensors"))
    assert {t.dtype for t in tensors.values()} == {np.dtype(np.float16)}
    loaded = ToyModel.from_pretrained(tmp_path)
    for name, a in _arrays(model).items():
        expected = a.astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(_arrays(loaded)[name], expected, err_msg=name)
    assert json.loads((tmp_path / "config.json").read_text())["torch_dtype"] == "float16"


def test_file_uses_hf_llama_names_split_and_pt_metadata(saved):
    model, path = saved
    from safetensors import safe_open
    with safe_open(str(path / "model.safetensors"), "np") as f:
        assert f.metadata() == {"format": "pt"}  # HF's loader refuses a file without it
        keys = set(f.keys())
    c = TOY
    assert "model.layers.0.self_attn.qkv_proj.weight" not in keys
    t = load_file(str(path / "model.safetensors"))
    assert t["model.layers.1.self_attn.q_proj.weight"].shape == (c.q_size, c.hidden_size)
    assert t["model.layers.1.self_attn.k_proj.weight"].shape == (c.kv_size, c.hidden_size)
    fused = np.concatenate([t[f"model.layers.1.self_attn.{n}_proj.weight"] for n in "qkv"])
    np.testing.assert_array_equal(fused, model.weights.layers[1].qkv_proj)
    gate_up = np.concatenate([t[f"model.layers.0.mlp.{n}_proj.weight"] for n in ("gate", "up")])
    np.testing.assert_array_equal(gate_up, model.weights.layers[0].gate_up_proj)
    assert len(keys) == 2 + 1 + 9 * c.num_layers  # embed, norm, lm_head + 9 per layer


def test_config_json_holds_llama_config_fields(saved):
    _, path = saved
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["model_type"] == "llama" and cfg["architectures"] == ["LlamaForCausalLM"]
    assert (cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
            cfg["head_dim"], cfg["intermediate_size"]) == (2, 4, 2, 16, 176)
    assert config_from_hf(cfg, name=TOY.name) == TOY


def test_tied_model_round_trip_stores_one_table(tmp_path):
    tied = TOY.replace(tie_word_embeddings=True)
    model = ToyModel(tied, seed=5)
    save_pretrained(model.weights, tied, tmp_path, dtype="float32")
    assert "lm_head.weight" not in load_file(str(tmp_path / "model.safetensors"))
    loaded = ToyModel.from_pretrained(tmp_path)
    assert np.shares_memory(loaded.weights.lm_head_proj, loaded.weights.embed)
    assert loaded.weights.num_params == model.weights.num_params


# ---- bad input: always a ValueError that says what is wrong ----------------------------------
def _edit_config(path, **changes):
    cfg = json.loads((path / "config.json").read_text())
    cfg.update(changes)
    (path / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize("changes, message", [
    ({"model_type": "gpt2"}, "model_type='gpt2' is not supported"),
    ({"rope_scaling": {"type": "linear", "factor": 2.0}}, "rope_scaling"),
    ({"attention_bias": True}, "attention_bias"),
    ({"hidden_act": "gelu"}, "hidden_act"),
    ({"hidden_size": 96}, "shape"),
    ({"num_key_value_heads": 3}, "num_kv_heads=3 must divide"),
    ({"num_hidden_layers": 3}, "lacks the tensor 'model.layers.2"),
    ({"num_hidden_layers": 1}, "does not have: model.layers.1"),
    ({"vocab_size": "many"}, "not a valid Llama config"),
])
def test_unsupported_or_mismatched_config_is_a_value_error(saved, changes, message):
    _, path = saved
    _edit_config(path, **changes)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        ToyModel.from_pretrained(path)


def test_missing_files_and_bad_paths(tmp_path, saved):
    _, path = saved
    with pytest.raises(ValueError, match="is not a directory"):
        ToyModel.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="must be a directory path"):
        ToyModel.from_pretrained(None)
    (path / "model.safetensors").rename(tmp_path / "aside")
    with pytest.raises(ValueError, match="has no model.safetensors"):
        ToyModel.from_pretrained(path)
    (path / "config.json").unlink()
    with pytest.raises(ValueError, match="has no config.json"):
        ToyModel.from_pretrained(path)


def test_invalid_json_is_a_value_error(saved):
    _, path = saved
    (path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ToyModel.from_pretrained(path)


@pytest.mark.parametrize("keep", [0, 7, 100, 0.5, 0.999])
def test_truncated_file_is_a_value_error(saved, keep):
    _, path = saved
    data = (path / "model.safetensors").read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    (path / "model.safetensors").write_bytes(data[:cut])
    with pytest.raises(ValueError, match="damaged or truncated"):
        ToyModel.from_pretrained(path)


def test_corrupted_header_is_a_value_error(saved):
    _, path = saved
    data = bytearray((path / "model.safetensors").read_bytes())
    data[8:40] = b"\xff" * 32  # the JSON header is no longer JSON
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged or truncated"):
        ToyModel.from_pretrained(path)


def test_nan_and_integer_tensors_are_refused(saved):
    _, path = saved
    tensors = load_file(str(path / "model.safetensors"))
    bad = dict(tensors)
    bad["model.norm.weight"] = np.full_like(bad["model.norm.weight"], np.nan)
    save_file(bad, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="NaN or infinite"):
        ToyModel.from_pretrained(path)
    bad["model.norm.weight"] = np.ones(TOY.hidden_size, np.int32)
    save_file(bad, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="float dtype is needed"):
        ToyModel.from_pretrained(path)


def test_bfloat16_and_sharded_checkpoints_are_refused_by_name(saved):
    _, path = saved
    data = (path / "model.safetensors").read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    header["model.norm.weight"]["dtype"] = "BF16"  # as torch writes a bfloat16 checkpoint
    text = json.dumps(header, separators=(",", ":")).encode()
    (path / "model.safetensors").write_bytes(len(text).to_bytes(8, "little") + text
                                             + data[8 + size:])
    with pytest.raises(ValueError, match="stores BF16 tensors, which numpy cannot hold"):
        ToyModel.from_pretrained(path)
    (path / "model.safetensors").rename(path / "model-00001-of-00002.safetensors")
    (path / "model.safetensors.index.json").write_text("{}")
    with pytest.raises(ValueError, match="sharded checkpoint"):
        ToyModel.from_pretrained(path)


def test_save_refuses_bad_arguments(tmp_path):
    model = ToyModel(TOY, seed=0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        save_pretrained(model.weights, TOY, tmp_path, dtype="bfloat16")
    with pytest.raises(ValueError, match="needs a ModelWeights"):
        save_pretrained(model, TOY, tmp_path)


# ---- what ships ------------------------------------------------------------------------------
def test_the_trained_model_ships_and_loads_by_name():
    assert DEFAULT_PRETRAINED in list_pretrained()
    model = load_pretrained()
    assert model.config.attention_kind == "GQA" and model.config.num_layers >= 4
    assert model.config.max_position_embeddings >= 256
    assert model.weights.embed.dtype == np.float32
    with pytest.raises(ValueError, match="is not a shipped model; allowed: shakespeare"):
        load_pretrained("gpt-5")


def test_shipped_directory_is_small_and_complete():
    path = pretrained_path()
    sizes = {p.name: p.stat().st_size for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "MODEL_CARD.md"} <= sizes.keys()
    assert sum(sizes.values()) <= 4 * 10**6  # at most 4 MB installed
    hf = json.loads((path / "config.json").read_text())
    assert hf_config(config_from_hf(hf, DEFAULT_PRETRAINED), "float16") == hf


def test_a_copy_of_the_shipped_model_loads_from_anywhere(tmp_path):
    shutil.copytree(pretrained_path(), tmp_path / "copy")
    a, b = load_pretrained(), ToyModel.from_pretrained(tmp_path / "copy")
    np.testing.assert_array_equal(a.weights.lm_head_proj, b.weights.lm_head_proj)
    assert load_weights(tmp_path / "copy")[0].name == "copy"
