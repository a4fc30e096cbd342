"""Self-checks for notebooks: compare a computed value with a hand-derived one and say so.

On success they print '✓ what: value' (so an executed page shows the check passed); on failure
they raise AssertionError with both values, which makes nbval fail the page.

References:
    math.isclose: https://docs.python.org/3/library/math.html#math.isclose
"""

from __future__ import annotations

import math


def _label(what: str) -> str:
    return what if what else "check"


def check_close(actual, expected, *, rel: float = 1e-9, abs: float = 0.0, what: str = "") -> None:
    """Assert |actual - expected| <= max(rel * max(|actual|, |expected|), abs); print '✓ ...'."""
    if rel < 0 or abs < 0:
        raise ValueError(f"rel and abs must be >= 0; got rel={rel!r}, abs={abs!r}")
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


def check_equal(actual, expected, *, what: str = "") -> None:
    """Assert actual == expected exactly; print '✓ what: value'."""
    if not actual == expected:
        raise AssertionError(f"✗ {_label(what)}: got {actual!r}, expected {expected!r}")
    print(f"✓ {_label(what)}: {actual!r}")
