"""Lab grading: pick solution.py or starter.py, and report unfinished work in one line.

``LAB_IMPL=solution`` (the default) runs every lab against its reference, so the suite is green;
a lab folder without solution.py (a workshop student copy) is graded on its starter instead.
``LAB_IMPL=starter`` grades your own ``starter.py``; a function that still raises
``NotImplementedError`` fails with one line ("Lab 1: work_with_cache is not implemented yet")
instead of a traceback. Grading only imports your file; it never writes to it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

LAB_IMPLS = ("solution", "starter")
_MISSING = pytest.StashKey[dict]()  # lab name -> functions still raising NotImplementedError


def lab_impl() -> str:
    """Which file the tests grade: 'solution' (default) or 'starter' (from $LAB_IMPL)."""
    impl = os.environ.get("LAB_IMPL", "").strip().lower() or "solution"
    if impl not in LAB_IMPLS:
        raise pytest.UsageError(f"LAB_IMPL={impl!r}; allowed: {', '.join(LAB_IMPLS)}")
    return impl


def load_lab(lab_dir: Path, impl: str) -> ModuleType:
    """Import ``<lab_dir>/<impl>.py`` under a name unique to the lab (read-only)."""
    module_name = f"_lab_{lab_dir.name}_{impl}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, lab_dir / f"{impl}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def lab_title(lab_dir: Path) -> str:
    """'lab03_sampling_basics' -> 'Lab 3'."""
    return f"Lab {int(lab_dir.name[3:5])}"


@pytest.fixture(scope="module")
def lab(request) -> ModuleType:
    """The module under test: this lab's solution.py, or starter.py when LAB_IMPL=starter."""
    lab_dir, impl = Path(request.module.__file__).parent, lab_impl()
    if impl == "solution" and not (lab_dir / "solution.py").exists() and "LAB_IMPL" not in os.environ:
        impl = "starter"  # a student copy (python -m mini_vllm.workshop student) has no solution.py
    return load_lab(lab_dir, impl)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "gpu: needs a GPU (deselect with -m 'not gpu')")
    config.stash[_MISSING] = {}
    lab_impl()  # fail early on a misspelt LAB_IMPL


def _missing_message(item, excinfo) -> tuple[str, str]:
    """(lab title, one-line message) for a NotImplementedError raised while testing ``item``."""
    title = lab_title(Path(item.path).parent)
    message = str(excinfo.value).strip()
    if not message.startswith("Lab "):
        # A bare `raise NotImplementedError`: name the innermost function that raised it.
        function = excinfo.traceback[-1].name
        message = f"{title}: {function} is not implemented yet"
    return title, message.splitlines()[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        title, message = _missing_message(item, call.excinfo)
        report.longrepr = message  # a plain string: printed as is, also in the short summary
        item.config.stash[_MISSING].setdefault(title, set()).add(message)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    missing = config.stash.get(_MISSING, {})
    if not missing:
        return
    terminalreporter.section("labs: still to implement")
    for title in sorted(missing):
        for message in sorted(missing[title]):
            terminalreporter.write_line(message)
    terminalreporter.write_line("Fill in these functions in starter.py and run the tests again.")
