"""Tests for mini_vllm.tokenizer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_vllm.tokenizer import ByteTokenizer

tok = ByteTokenizer()


def test_sizes():
    assert tok.vocab_size == 257 and tok.eos_token_id == 256


@pytest.mark.parametrize("text", ["", "hello", "line one\nline two\t!", "naïve café", "日本語のテキスト",
                                  "emoji 🙂👍🏽", "\x00\x7f"])
def test_round_trip_examples(text):
    ids = tok.encode(text)
    assert ids == list(text.encode("utf-8"))
    assert all(0 <= i < 256 for i in ids)
    assert tok.decode(ids) == text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_any_text(text):
    assert tok.decode(tok.encode(text)) == text


def test_one_byte_per_token():
    assert len(tok.encode("🙂")) == 4
    assert len(tok.encode("é")) == 2


def test_eos_decodes_to_empty():
    assert tok.decode([104, 105, 256]) == "hi"
    assert tok.decode([256]) == ""
    assert tok.decode(np.array([104, 256, 105])) == "hi"


def test_partial_utf8_becomes_replacement_char():
    emoji = tok.encode("🙂")
    assert tok.decode(emoji[:2]) == "\ufffd"
    assert tok.decode(tok.encode("a") + emoji[:3]) == "a\ufffd"
    assert tok.decode([0xFF]) == "\ufffd"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 256), max_size=50))
def test_decode_never_fails_on_valid_ids(ids):
    out = tok.decode(ids)
    assert isinstance(out, str)


@pytest.mark.parametrize("bad", [[257], [-1], [1, 2, 1000]])
def test_bad_id_named_in_error(bad):
    with pytest.raises(ValueError, match=str(max(bad, key=lambda i: not 0 <= i <= 256))):
        tok.decode(bad)


@pytest.mark.parametrize("bad", [[1.5], ["a"], [True], "abc"])
def test_decode_rejects_non_ints(bad):
    with pytest.raises(ValueError):
        tok.decode(bad)


def test_encode_rejects_non_str():
    with pytest.raises(ValueError):
        tok.encode(b"bytes")


def test_token_str():
    assert tok.token_str(97) == "a"
    assert tok.token_str(10) == "\\n"
    assert tok.token_str(0xE2) == "<0xE2>"
    assert tok.token_str(256) == "<eos>"
    with pytest.raises(ValueError, match="300"):
        tok.token_str(300)
