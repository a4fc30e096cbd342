"""ByteTokenizer: one UTF-8 byte is one token, plus an end-of-sequence token.

Ids 0..255 are the bytes themselves, id 256 is EOS. Any text round-trips; a character outside
ASCII simply becomes several tokens (an emoji is four). No vocabulary file, nothing to download.

Decoding a partial multi-byte character (for example the first two of an emoji's four bytes,
which is what a generation cut by ``max_tokens`` can end with) follows Python's
``bytes.decode("utf-8", errors="replace")``: each maximal invalid or truncated byte sequence
becomes one U+FFFD replacement character. EOS decodes to the empty string.

References:
    UTF-8, RFC 3629: https://www.rfc-editor.org/rfc/rfc3629
    Byte-level tokens as in ByT5 (Xue et al., 2021): https://arxiv.org/abs/2105.13626
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class ByteTokenizer:
    """Byte-level tokenizer: 256 byte ids and one EOS id (256)."""

    vocab_size: int = 257
    eos_token_id: int = 256

    def encode(self, text: str) -> list[int]:
        """The UTF-8 bytes of ``text`` as token ids (no EOS is appended)."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str; got {type(text).__name__}")
        return list(text.encode("utf-8"))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; EOS is dropped, broken UTF-8 becomes U+FFFD (see module docstring)."""
        checked = [self._check_id(i) for i in self._as_list(ids)]
        return bytes(i for i in checked if i != self.eos_token_id).decode("utf-8", errors="replace")

    def token_str(self, token_id: int) -> str:
        """A printable label for one token: 'a', '\\n', '<0xE2>' or '<eos>'."""
        i = self._check_id(token_id)
        if i == self.eos_token_id:
            return "<eos>"
        if 32 <= i < 127:
            return chr(i)
        escapes = {9: "\\t", 10: "\\n", 13: "\\r"}
        return escapes.get(i, f"<0x{i:02X}>")

    def _as_list(self, ids) -> list:
        if isinstance(ids, np.ndarray):
            return ids.ravel().tolist()
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise ValueError(f"ids must be a sequence of int token ids; got {type(ids).__name__}")
        return list(ids)

    def _check_id(self, token_id) -> int:
        if isinstance(token_id, (bool, np.bool_)) or not isinstance(token_id, (int, np.integer)):
            raise ValueError(f"token id {token_id!r} is not an integer")
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {int(token_id)} is outside 0..{self.vocab_size - 1}")
        return int(token_id)
