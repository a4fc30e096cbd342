"""Grade a lab from Python (or a notebook): run its tests in a fresh interpreter, summarise.

    python labs/grade.py lab01_kv_cache_speedup --impl starter

Used by notebooks/00_40_labs.ipynb. The tests run in a subprocess with LAB_IMPL set, so an edited
starter.py is always re-read and a failing test never stops the caller. Nothing is written to the
lab's files.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

LABS_DIR = Path(__file__).resolve().parent
REPO_DIR = LABS_DIR.parent
LAB_NAMES = ("lab01_kv_cache_speedup", "lab02_kv_memory_calculator", "lab03_sampling_basics",
             "lab04_prefill_vs_decode")


@dataclass
class Verdict:
    """The outcome of one lab's tests against one implementation."""

    lab: str
    impl: str
    passed: list[str] = field(default_factory=list)  # tests of the implementation that pass
    failed: list[tuple[str, str]] = field(default_factory=list)  # (test, one-line reason)
    data_checks: list[str] = field(default_factory=list)  # passing tests that never call it

    @property
    def num_tests(self) -> int:
        """Tests that ran, the data checks included."""
        return len(self.passed) + len(self.failed) + len(self.data_checks)

    @property
    def ok(self) -> bool:
        """True when every test passed."""
        return bool(self.passed) and not self.failed

    @property
    def missing(self) -> list[str]:
        """The distinct 'Lab N: f is not implemented yet' messages, in order of appearance."""
        return list(dict.fromkeys(m for _, m in self.failed if "is not implemented yet" in m))

    @property
    def score(self) -> str:
        """'3 of 17': tests of the implementation that pass, out of those that ran."""
        return f"{len(self.passed)} of {len(self.passed) + len(self.failed)}"

    @property
    def wrong(self) -> list[tuple[str, str]]:
        """Failing tests whose function is written but returns a wrong value."""
        return [(t, r) for t, r in self.failed if "is not implemented yet" not in r]

    @property
    def functions_to_write(self) -> list[str]:
        """Names of the functions still raising NotImplementedError, in order."""
        return [m.split(": ", 1)[1].split(" is not")[0] for m in self.missing]

    @property
    def status(self) -> str:
        """Where this verdict stands, in a few words."""
        if self.ok:
            return "✓ every test passes"
        todo, wrong = len(self.functions_to_write), len(self.wrong)
        parts = [f"{todo} function{'s' * (todo != 1)} to write"] * bool(todo)
        parts += [f"{wrong} test{'s' * (wrong != 1)} fail on a wrong value"] * bool(wrong)
        if not self.passed and not wrong:
            return f"where you begin: {parts[0]}"
        return "; ".join(parts)

    def __str__(self) -> str:
        title = f"Lab {int(self.lab[3:5])}"
        lines = [f"{title} graded against {self.impl}.py: {self.score} tests pass"]
        if self.data_checks:  # they pass on an empty starter: not progress, so not in the count
            one = len(self.data_checks) == 1
            what = "a check of the lab's own data that never calls" if one else \
                "checks of the lab's own data that never call"
            lines.append(f"(not counted: {', '.join(self.data_checks)}, {what} {self.impl}.py)")
        by_reason: dict[str, list[str]] = {}
        for test, reason in self.failed:
            by_reason.setdefault(reason, []).append(test)
        for reason, tests in by_reason.items():
            if "is not implemented yet" in reason:  # one line per function still to write
                lines.append(f"✎ {reason} ({len(tests)} test{'s' * (len(tests) > 1)})")
            else:
                lines += [f"✗ {test}: {reason}" for test in tests]
        if self.ok:
            lines.append(f"✓ all {len(self.passed)} tests pass")
        return "\n".join([lines[0]] + [_fill(line) for line in lines[1:]])


def _fill(line: str, width: int = 77) -> str:
    """An indented report line, wrapped to ``width`` characters (a notebook column)."""
    return textwrap.fill(line, width, initial_indent="  ", subsequent_indent="    ",
                         break_on_hyphens=False, break_long_words=False)


_ROLE = {"starter": "your `starter.py`", "solution": "the reference `solution.py`"}


def progress_table(yours: Verdict, reference: Verdict | None = None) -> str:
    """Markdown: your verdict beside the reference's, one row each, and what is left to write."""
    rows = [v for v in (yours, reference) if v is not None]
    lines = ["| graded against | tests passing | where it stands |", "|---|---|---|"]
    for v in rows:
        status = v.status
        if v is reference and v.ok:
            status += ": where you are going"
        elif v.ok and reference is not None:
            status += ": you match the reference"
        lines.append(f"| {_ROLE.get(v.impl, v.impl)} | {v.score} | {status} |")
    todo = yours.functions_to_write
    if todo:
        names = ", ".join(f"`{name}`" for name in todo)
        lines += ["", f"Functions still to write: {names}."]
    checks = sorted({c for v in rows for c in v.data_checks})
    if checks:
        names = ", ".join(f"`{c}`" for c in checks)
        lines += ["", f"Not counted: {names}, which checks the lab's own data and passes "
                      "without any of your code."]
    return "\n".join(lines)


def _lab_dir(lab: str) -> Path:
    matches = [name for name in LAB_NAMES if name == lab or name.startswith(lab)]
    if len(matches) != 1:
        raise ValueError(f"unknown lab {lab!r}; labs: {', '.join(LAB_NAMES)}")
    return LABS_DIR / matches[0]


def _check_impl(impl: str) -> str:
    if impl not in ("starter", "solution"):
        raise ValueError(f"impl must be 'starter' or 'solution'; got {impl!r}")
    return impl


def load(lab: str, impl: str = "starter") -> ModuleType:
    """A fresh import of the lab's starter.py or solution.py (re-read on every call)."""
    path = _lab_dir(lab) / f"{_check_impl(impl)}.py"
    spec = importlib.util.spec_from_file_location(f"_try_{path.parent.name}_{impl}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _short(value) -> str:
    """A compact label for an argument: a config or GPU by its name, an array by its shape."""
    if type(value).__name__ == "Generator":
        return "rng"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array{tuple(value.shape)}"
    if hasattr(value, "name") and not isinstance(value, (str, int, float)):
        return str(value.name)
    if isinstance(value, float):
        return f"{value:.6g}"  # 153.016, 3.12e+14: enough digits to compare by eye
    return repr(value)


def attempt(function, *args, **kwargs):
    """Call ``function``; print its result, or "not written yet" while it raises that."""
    shown = ", ".join([*map(_short, args), *(f"{k}={_short(v)}" for k, v in kwargs.items())])
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        print(textwrap.fill(f"{function.__name__}({shown}) -> not written yet", 77,
                            subsequent_indent="    ", break_long_words=False))
        return None
    small_array = hasattr(result, "shape") and getattr(result, "size", 99) <= 12
    shown_result = [round(float(x), 4) for x in result] if small_array else _short(result)
    print(textwrap.fill(f"{function.__name__}({shown}) -> {shown_result}", 77,
                        subsequent_indent="    ", break_long_words=False))
    return result


def _tests_of_the_implementation(lab_dir: Path) -> set[str]:
    """Names of the test functions in test_lab.py that take the ``lab`` fixture (call your code)."""
    tree = ast.parse((lab_dir / "test_lab.py").read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            and node.name.startswith("test") and any(a.arg == "lab" for a in node.args.args)}


def _parse_junit(xml_path: Path, verdicts: dict[str, Verdict]) -> dict[str, Verdict]:
    uses_lab = {lab: _tests_of_the_implementation(LABS_DIR / lab) for lab in verdicts}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        where = f"{case.get('classname', '')} {case.get('file', '')}"
        lab = next((name for name in verdicts if name in where), None)
        if lab is None:
            continue
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            if case.find("skipped") is None:
                name = case.get("name")
                calls_it = name.split("[")[0] in uses_lab[lab]  # 'test_x[param]' -> 'test_x'
                (verdicts[lab].passed if calls_it else verdicts[lab].data_checks).append(name)
            continue
        reason = (problem.get("message") or problem.text or "failed").strip().splitlines()[0]
        verdicts[lab].failed.append((case.get("name"), reason))
    return verdicts


def available(impl: str = "solution") -> list[str]:
    """Labs whose ``impl``.py exists here (a workshop student copy has no solution.py)."""
    return [lab for lab in LAB_NAMES if (LABS_DIR / lab / f"{_check_impl(impl)}.py").exists()]


def grade_all(labs=LAB_NAMES, impl: str = "starter", timeout_s: float = 300) -> dict[str, Verdict]:
    """Run several labs' tests with LAB_IMPL=impl in ONE subprocess; a verdict per lab."""
    lab_dirs, impl = [_lab_dir(lab) for lab in labs], _check_impl(impl)
    if not lab_dirs:
        return {}
    # Installed pytest plugins (nbval, hypothesis, playwright) cost seconds to import and no lab
    # uses them: skip them, and replace the repository's addopts (nbval options) with the one
    # option the labs rely on.
    env = dict(os.environ, LAB_IMPL=impl, PYTHONDONTWRITEBYTECODE="1",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    with tempfile.TemporaryDirectory() as tmp:
        xml_path = Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", *map(str, lab_dirs), "-q", "-p", "no:cacheprovider",
               "-o", "addopts=", "--import-mode=importlib",
               f"--junitxml={xml_path}", "-o", "junit_family=xunit1"]
        proc = subprocess.run(cmd, cwd=REPO_DIR, env=env, capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL)
        if not xml_path.exists():  # pytest could not even start: show why
            raise RuntimeError(f"pytest did not run (exit {proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        return _parse_junit(xml_path, {d.name: Verdict(d.name, impl) for d in lab_dirs})


def grade(lab: str, impl: str = "starter", timeout_s: float = 120) -> Verdict:
    """Run one lab's test_lab.py with LAB_IMPL=impl in a subprocess; return its verdict."""
    return grade_all([lab], impl, timeout_s)[_lab_dir(lab).name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", default=list(LAB_NAMES), help="lab folder names")
    parser.add_argument("--impl", default="starter", choices=("starter", "solution"))
    args = parser.parse_args(argv)
    verdicts = grade_all(args.labs, args.impl).values()
    print("\n\n".join(str(v) for v in verdicts))
    return 0 if all(v.ok for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
