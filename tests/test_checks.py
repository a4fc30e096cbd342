"""Notebook self-checks print a tick on success and fail loudly with both values."""

import numpy as np
import pytest

from mini_vllm.checks import check_close, check_equal


def test_check_equal_prints_tick(capsys):
    check_equal(131_072, 2 * 32 * 8 * 128 * 2, what="KV bytes per token")
    assert capsys.readouterr().out == "✓ KV bytes per token: 131072\n"


def test_check_equal_failure_shows_both_values():
    with pytest.raises(AssertionError, match=r"got 1.*expected 2"):
        check_equal(1, 2, what="x")


def test_check_close_relative_and_absolute(capsys):
    check_close(0.1 + 0.2, 0.3, what="sum")
    assert capsys.readouterr().out.startswith("✓ sum: 0.3")
    check_close(1.0, 1.05, rel=0.1)
    check_close(0.0, 1e-12, abs=1e-9)
    with pytest.raises(AssertionError, match=r"got 153.*expected 156"):
        check_close(153.0, 156.0, rel=1e-3, what="ridge")


def test_check_close_bad_tolerance_and_types():
    with pytest.raises(ValueError, match="rel"):
        check_close(1, 1, rel=-1)
    with pytest.raises(AssertionError, match="cannot compare"):
        check_close("a", 1)


def test_check_close_compares_arrays_elementwise(capsys):
    check_close(np.array([0.4, 0.2]), [0.4 + 1e-12, 0.2], rel=1e-9, what="weights")
    assert "✓ weights" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="1 of 2 values differ"):
        check_close(np.array([0.4, 0.2]), [0.4, 0.3], rel=1e-9)
    with pytest.raises(AssertionError, match="shape"):
        check_close(np.zeros(3), np.zeros(2))


def test_check_equal_on_arrays(capsys):
    check_equal(np.array([1, 2]), np.array([1, 2]), what="ids")
    assert "✓ ids" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        check_equal(np.array([1, 2]), np.array([1, 3]))


def test_check_answer_grades_without_raising(capsys):
    from mini_vllm.checks import check_answer

    def verdict(*args, **kwargs) -> str:
        assert check_answer(*args, **kwargs) is None  # a cell ending in it shows only the text
        return capsys.readouterr().out

    assert verdict(..., 153.0, what="the ridge").startswith("✎ your turn")
    assert verdict(None, 153.0).startswith("✎ your turn")
    assert verdict(153.5, 153.0, what="the ridge").startswith("✓ the ridge: 153.5")
    out = verdict(160, 153.0, what="the ridge")
    assert out.startswith("✗") and "5% too high" in out and "153" not in out  # reference hidden
    assert "0.0654x" in verdict(10.0, 153.0)
    assert "should be 0" in verdict(1, 0)
    assert verdict("memory-bound", "memory-bound").startswith("✓")
    assert verdict("compute-bound", "memory-bound").startswith("✗")
    with pytest.raises(ValueError, match="rel"):
        check_answer(1.0, 1.0, rel=-1)
