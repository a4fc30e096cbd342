"""Self-checks for notebooks: compare a computed value with a hand-derived one and say so.

On success they print '✓ what: value' (so an executed page shows the check passed); on failure
they raise AssertionError with both values, which makes nbval fail the page. check_answer grades
what a reader typed into an answer slot: it prints, and never raises for a wrong answer.

References:
    math.isclose: https://docs.python.org/3/library/math.html#math.isclose
"""

from __future__ import annotations

import math

import numpy as np


def _label(what: str) -> str:
    return what if what else "check"


def check_close(actual, expected, *, rel: float = 1e-9, abs: float = 0.0, what: str = "") -> None:
    """Assert |actual - expected| <= max(rel * max(|actual|, |expected|), abs); print '✓ ...'."""
    if rel < 0 or abs < 0:
        raise ValueError(f"rel and abs must be >= 0; got rel={rel!r}, abs={abs!r}")
    if np.ndim(actual) or np.ndim(expected):
        _check_close_arrays(actual, expected, rel=rel, abs=abs, what=what)
        return
    try:
        ok = math.isclose(actual, expected, rel_tol=rel, abs_tol=abs)
    except TypeError as exc:
        raise AssertionError(
            f"✗ {_label(what)}: cannot compare {actual!r} with {expected!r}") from exc
    if not ok:
        raise AssertionError(f"✗ {_label(what)}: got {actual!r}, expected {expected!r} "
                             f"(rel={rel:g}, abs={abs:g})")
    print(f"✓ {_label(what)}: {actual!r}" if not isinstance(actual, float) else
          f"✓ {_label(what)}: {actual:.6g}")


def _check_close_arrays(actual, expected, *, rel: float, abs: float, what: str) -> None:
    """Elementwise check_close for arrays and sequences of the same shape."""
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if a.shape != e.shape:
        raise AssertionError(f"✗ {_label(what)}: shape {a.shape} differs from expected {e.shape}")
    bad = np.abs(a - e) > np.maximum(rel * np.maximum(np.abs(a), np.abs(e)), abs)
    if bad.any() or np.isnan(a).any() != np.isnan(e).any():
        worst = np.unravel_index(np.argmax(np.abs(a - e)), a.shape) if a.size else ()
        raise AssertionError(f"✗ {_label(what)}: {int(bad.sum())} of {a.size} values differ; "
                             f"worst at {worst}: got {a[worst]!r}, expected {e[worst]!r} "
                             f"(rel={rel:g}, abs={abs:g})")
    shown = np.array2string(a, precision=6, threshold=8)
    print(f"✓ {_label(what)}: {shown}")


def check_equal(actual, expected, *, what: str = "") -> None:
    """Assert actual == expected exactly (arrays: same shape, every element); print '✓ ...'."""
    if np.ndim(actual) and isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        if not np.array_equal(np.asarray(actual), np.asarray(expected)):
            raise AssertionError(f"✗ {_label(what)}: got {actual!r}, expected {expected!r}")
        print(f"✓ {_label(what)}: {np.array2string(np.asarray(actual), threshold=8)}")
        return
    if not actual == expected:
        raise AssertionError(f"✗ {_label(what)}: got {actual!r}, expected {expected!r}")
    print(f"✓ {_label(what)}: {actual!r}")


def check_answer(answer, expected, *, rel: float = 0.01, what: str = "your answer") -> None:
    """Grade the reader's answer against the reference, for a 'Check yourself' answer slot.

    ``answer`` is what the reader typed: ``...`` (the slot as shipped) or None means not yet, and
    prints "your turn" instead of failing. A number within ``rel`` of the reference prints '✓';
    otherwise it says how far off it is (never the reference itself), so the reader can try
    again. Strings and other values must be equal. Returns None, so that a cell ending in it
    shows only the verdict.
    """
    if not isinstance(rel, (int, float)) or isinstance(rel, bool) or not 0 <= rel < 1:
        raise ValueError(f"rel must be a number in [0, 1); got {rel!r}")
    if answer is ... or answer is None:
        print(f"✎ your turn: replace ... with {what}")
        return
    numbers = all(isinstance(x, (int, float, np.integer, np.floating))
                  and not isinstance(x, bool) for x in (answer, expected))
    if not numbers:
        ok = answer == expected
        print(f"✓ {what}: {answer!r}" if ok else f"✗ {what}: {answer!r} is not it; try again")
        return
    if math.isclose(answer, expected, rel_tol=rel):
        print(f"✓ {what}: {answer:,.6g}")
        return
    if expected == 0:
        print(f"✗ {what}: {answer:,.6g} should be 0; try again")
        return
    ratio = answer / expected
    off = (f"{ratio:,.3g}x the reference" if ratio > 2 or ratio < 0.5
           else f"{abs(ratio - 1):.0%} too {'high' if ratio > 1 else 'low'}")
    print(f"✗ {what}: {answer:,.6g} is {off}; try again")
