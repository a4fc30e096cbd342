"""Tests for the small BPE learner in mini_vllm.bpe."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_vllm.bpe import (EOS_TOKEN_ID, FIRST_MERGE_ID, SAMPLE_TEXT, BPETokenizer, decode, encode,
                           learn_bpe, pretokenize, sequence_lengths, vocab_bytes)

MERGES = learn_bpe(SAMPLE_TEXT, 500)


def test_zero_merges_is_the_byte_tokenizer():
    text = "héllo, 世界 🎉"
    assert encode(text, []) == list(text.encode("utf-8"))
    assert BPETokenizer().vocab_size == 257


def test_first_merge_is_the_most_frequent_pair():
    # chunks "ab", " ab", " ab", " xy": the pair (a, b) occurs 3 times, more than any other.
    merges = learn_bpe("ab ab ab xy", 1)
    assert merges == [(ord("a"), ord("b"))]
    assert encode("ab", merges) == [FIRST_MERGE_ID]


def test_learning_stops_when_no_pair_repeats():
    assert learn_bpe("abcdef", 10) == []
    assert len(learn_bpe("abcdef", 10, min_count=1)) == 5


def test_merges_never_cross_words():
    for a, b in MERGES:
        merged = vocab_bytes(MERGES)[FIRST_MERGE_ID + MERGES.index((a, b))]
        assert b" " not in merged[1:], merged


def test_greedy_prefix_property():
    assert learn_bpe(SAMPLE_TEXT, 40) == MERGES[:40]


def test_more_merges_never_lengthen_the_training_text():
    lengths = sequence_lengths(SAMPLE_TEXT, MERGES, list(range(0, len(MERGES) + 1, 5)))
    assert all(a >= b for a, b in zip(lengths, lengths[1:]))
    assert lengths[0] == len(SAMPLE_TEXT.encode("utf-8"))
    assert lengths[-1] < lengths[0] / 2


def test_each_merge_saves_at_least_min_count_tokens_on_training_text():
    for n in range(0, len(MERGES)):
        saved = len(encode(SAMPLE_TEXT, MERGES[:n])) - len(encode(SAMPLE_TEXT, MERGES[:n + 1]))
        assert saved >= 2


def test_vocab_and_token_str():
    tok = BPETokenizer(MERGES)
    assert tok.vocab_size == 257 + len(MERGES)
    assert tok.token_str(EOS_TOKEN_ID) == "<eos>"
    assert tok.token_str(ord("\n")) == "\\n"
    assert tok.token_str(0xE2) == "<0xE2>"
    assert decode([EOS_TOKEN_ID], MERGES) == ""


def test_partial_utf8_decodes_to_replacement_char():
    ids = encode("€", [])
    assert decode(ids[:2], []) == "\ufffd"


def test_pretokenize_covers_text():
    text = "Hi  there,\tworld_1 2024!\n\n 世界"
    assert "".join(pretokenize(text)) == text


def test_bad_num_merges():
    with pytest.raises(ValueError, match="num_merges"):
        learn_bpe("abc", -1)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_any_text(text):
    assert "".join(pretokenize(text)) == text
    assert decode(encode(text, MERGES), MERGES) == text
