"""A small byte-level BPE: learn merges from a text, then encode and decode with them.

Ids 0..255 are raw bytes and 256 is EOS, exactly as in ``ByteTokenizer``; merge number i
creates token ``257 + i``. With zero merges this tokenizer *is* the byte tokenizer.

References:
    Sennrich, Haddow, Birch (2016), "Neural Machine Translation of Rare Words with Subword Units",
    https://arxiv.org/abs/1508.07909
    Radford et al. (2019), GPT-2 byte-level BPE and its pre-tokenizer regex (openai/gpt-2, encoder.py)
    Karpathy, minbpe: https://github.com/karpathy/minbpe
"""

from __future__ import annotations

import re
from collections import Counter

from mini_vllm.tokenizer import ByteTokenizer

NUM_BYTES = 256
EOS_TOKEN_ID = 256  # same id as ByteTokenizer.eos_token_id
FIRST_MERGE_ID = 257

# Split text into chunks that merges may not cross: a word with its leading space, a run of
# punctuation with its leading space, or whitespace. (A simplified GPT-2 pre-tokenizer.)
_CHUNK_RE = re.compile(r" ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")

# A short original text the book trains on (two paragraphs of plain English).
SAMPLE_TEXT = (
    "The harbour town wakes before the sun. The baker lights the oven, the fishermen check "
    "their nets, and the ferry to the island sounds its horn twice. By the time the first "
    "light reaches the water, the market is already full of voices: people selling bread, "
    "people buying fish, people talking about the weather and the tides. Nobody in the town "
    "is in a hurry, and yet everything gets done. The harbour master walks along the wall "
    "with his old dog, counting the boats that go out and writing the number in his book, "
    "because his father did the same thing every morning and so did his grandfather.\n\n"
    "In the evening the town turns the other way. The boats come back, the nets are hung to "
    "dry, and the baker sells the last loaves at half price. Children run along the harbour "
    "wall, and the old men on the bench by the water talk about the same things they talked "
    "about in the morning: the weather, the tides, and the fish that got away. Then the lights "
    "go out one by one. The harbour master counts the boats that came back, writes the number "
    "under the morning number, and walks home with his dog. The town sleeps until the baker "
    "lights the oven and wakes it again."
)


def pretokenize(text: str) -> list[str]:
    """Split ``text`` into the chunks that BPE merges never cross (words keep their leading space)."""
    return _CHUNK_RE.findall(text)


def _pair_counts(chunks: dict[tuple[int, ...], int]) -> Counter:
    counts: Counter = Counter()
    for ids, freq in chunks.items():
        for pair in zip(ids, ids[1:]):
            counts[pair] += freq
    return counts


def _merge(ids: tuple[int, ...], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids`` (left to right) by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


def learn_bpe(text: str, num_merges: int, *, min_count: int = 2) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges from ``text``; merge ``i`` makes token ``257 + i``.

    Each step merges the most frequent adjacent pair (ties: the smallest pair of ids, so the
    result is deterministic). Learning stops early when no pair occurs ``min_count`` times:
    merging a pair seen once only memorises the training text.
    """
    if isinstance(num_merges, bool) or not isinstance(num_merges, int) or num_merges < 0:
        raise ValueError(f"num_merges must be an integer >= 0; got {num_merges!r}")
    chunks = Counter(tuple(c.encode("utf-8")) for c in pretokenize(text))
    merges: list[tuple[int, int]] = []
    for i in range(num_merges):
        counts = _pair_counts(chunks)
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        if counts[pair] < min_count:
            break
        new_id = FIRST_MERGE_ID + i
        merged: Counter = Counter()
        for ids, freq in chunks.items():
            merged[_merge(ids, pair, new_id)] += freq
        chunks = merged
        merges.append(pair)
    return merges


def _encode_chunk(ids: tuple[int, ...], ranks: dict[tuple[int, int], int]) -> tuple[int, ...]:
    # Apply the earliest-learned merge present, again and again: the order training used.
    while len(ids) > 1:
        pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, len(ranks)))
        if pair not in ranks:
            break
        ids = _merge(ids, pair, FIRST_MERGE_ID + ranks[pair])
    return ids


def encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Token ids of ``text`` under ``merges`` (no merges: the UTF-8 bytes)."""
    ranks = {tuple(pair): i for i, pair in enumerate(merges)}
    out: list[int] = []
    for chunk in pretokenize(text):
        out.extend(_encode_chunk(tuple(chunk.encode("utf-8")), ranks))
    return out


def vocab_bytes(merges: list[tuple[int, int]]) -> list[bytes]:
    """The bytes each token id stands for: 256 single bytes, b'' for EOS, then one per merge."""
    table = [bytes([b]) for b in range(NUM_BYTES)] + [b""]
    for a, b in merges:
        table.append(table[a] + table[b])
    return table


def decode(ids: list[int], merges: list[tuple[int, int]]) -> str:
    """Text of ``ids``; an incomplete UTF-8 character becomes U+FFFD, EOS becomes ''."""
    table = vocab_bytes(merges)
    return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")


class BPETokenizer:
    """The ByteTokenizer interface (encode, decode, vocab_size, token_str) over learned merges."""

    eos_token_id = EOS_TOKEN_ID

    def __init__(self, merges: list[tuple[int, int]] | None = None):
        self.merges = [tuple(m) for m in (merges or [])]
        self._table = vocab_bytes(self.merges)

    @classmethod
    def train(cls, text: str, num_merges: int, **kwargs) -> "BPETokenizer":
        """Learn merges from ``text`` and wrap them in a tokenizer."""
        return cls(learn_bpe(text, num_merges, **kwargs))

    @property
    def vocab_size(self) -> int:
        """257 (bytes + EOS) plus one token per merge."""
        return FIRST_MERGE_ID + len(self.merges)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        return encode(text, self.merges)

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids`` (partial UTF-8 -> U+FFFD)."""
        return decode(ids, self.merges)

    def token_str(self, token_id: int) -> str:
        """A printable label for one token, e.g. ' the', '\\n', '<0xE2>', '<eos>'."""
        if token_id < FIRST_MERGE_ID:  # a single byte or EOS: the byte tokenizer's labels
            return ByteTokenizer().token_str(token_id)
        raw = self._table[token_id]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # part of a multi-byte character
            return "".join(f"<0x{b:02X}>" for b in raw)
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                       for c in text)


def sequence_lengths(text: str, merges: list[tuple[int, int]], num_merges_list: list[int]) -> list[int]:
    """Token count of ``text`` using only the first n merges, for each n in ``num_merges_list``.

    Greedy learning makes the first n merges of a longer run equal to a run of n merges, so
    one ``learn_bpe`` call serves a whole slider.
    """
    return [len(encode(text, merges[:n])) for n in num_merges_list]
