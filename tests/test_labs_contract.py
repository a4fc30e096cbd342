"""The labs' contract: starter and solution expose the same functions, starters raise
NotImplementedError("Lab N: ...") until filled in, and grading a starter reports one line per gap
without ever writing to it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LABS_DIR = Path(__file__).resolve().parent.parent / "labs"
LABS = sorted(p.name for p in LABS_DIR.glob("lab[0-9][0-9]_*") if p.is_dir())
README_SECTIONS = ("## Goal", "## What to implement", "## How to run", "## Grade yourself",
                   "## What you can do after")


def _load(lab: str, impl: str):
    path = LABS_DIR / lab / f"{impl}.py"
    spec = importlib.util.spec_from_file_location(f"_contract_{lab}_{impl}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _public_functions(module) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(obj) for name, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__
            and not name.startswith("_")}


def _number(lab: str) -> int:
    return int(lab[3:5])


def test_there_are_four_labs_each_with_its_four_files():
    assert LABS == ["lab01_kv_cache_speedup", "lab02_kv_memory_calculator",
                    "lab03_sampling_basics", "lab04_prefill_vs_decode"]
    for lab in LABS:
        for name in ("README.md", "starter.py", "solution.py", "test_lab.py"):
            assert (LABS_DIR / lab / name).is_file(), f"{lab}/{name} is missing"


@pytest.mark.parametrize("lab", LABS)
def test_starter_and_solution_expose_the_same_signatures(lab):
    starter = _public_functions(_load(lab, "starter"))
    solution = _public_functions(_load(lab, "solution"))
    assert list(starter) == list(solution), "same public functions, in the same order"
    for name in starter:
        assert str(starter[name]) == str(solution[name]), f"{lab}: {name} signatures differ"


@pytest.mark.parametrize("lab", LABS)
def test_every_starter_function_raises_not_implemented_with_the_lab_name(lab):
    starter = _load(lab, "starter")
    functions = _public_functions(starter)
    assert len(functions) >= 4
    for name, signature in functions.items():
        dummy = {p: None for p, param in signature.parameters.items() if param.default is param.empty}
        with pytest.raises(NotImplementedError) as excinfo:
            getattr(starter, name)(**dummy)
        assert str(excinfo.value) == f"Lab {_number(lab)}: {name} is not implemented yet"


@pytest.mark.parametrize("lab", LABS)
def test_readme_has_the_five_sections_and_names_every_function(lab):
    text = (LABS_DIR / lab / "README.md").read_text(encoding="utf-8")
    for heading in README_SECTIONS:
        assert heading in text, f"{lab}/README.md lacks {heading!r}"
    assert f"LAB_IMPL=starter pytest labs/{lab}" in text
    for name in _public_functions(_load(lab, "starter")):
        assert f"`{name}" in text, f"{lab}/README.md does not mention {name}"


def test_labs_index_links_every_lab():
    text = (LABS_DIR / "README.md").read_text(encoding="utf-8")
    for lab in LABS:
        assert f"({lab}/README.md)" in text, f"labs/README.md does not link {lab}"
    assert 'pytest labs -m "not gpu"' in text


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_grading_starters_names_each_gap_in_one_line_and_writes_nothing():
    starters = {lab: LABS_DIR / lab / "starter.py" for lab in LABS}
    before = {lab: (_digest(p), p.stat().st_mtime_ns) for lab, p in starters.items()}
    env = dict(os.environ, LAB_IMPL="starter", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(LABS_DIR), "-q", "-p", "no:cacheprovider",
         "-o", "addopts=", "--import-mode=importlib", "-m", "not gpu"],
        cwd=LABS_DIR.parent, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]  # tests failed, but pytest itself ran fine
    assert {lab: (_digest(p), p.stat().st_mtime_ns) for lab, p in starters.items()} == before
    assert "Traceback" not in out and "raise NotImplementedError" not in out, out[-3000:]
    # Every FAILURES entry is its "____ test ____" header and exactly one line naming the gap.
    lines = out.split("= FAILURES =", 1)[1].splitlines()[1:]
    section = lines[:next(i for i, line in enumerate(lines) if line.startswith("="))]
    headers = [i for i, line in enumerate(section) if re.fullmatch(r"_+ .+ _+", line)]
    ends = headers[1:] + [len(section)]
    bodies = ["\n".join(section[a + 1:b]).strip() for a, b in zip(headers, ends)]
    one_line = re.compile(r"Lab \d: \w+ is not implemented yet")
    assert bodies and all(one_line.fullmatch(b) for b in bodies), bodies[:5]
    # The closing summary lists every function of every starter.
    listed = set(re.findall(r"^Lab (\d): (\w+) is not implemented yet$",
                            out.split("= labs: still to implement =", 1)[1], re.M))
    expected = {(str(_number(lab)), name) for lab in LABS for name in
                _public_functions(_load(lab, "starter"))}
    assert listed == expected


def test_default_run_grades_the_solutions():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(LABS_DIR), "-q", "-p", "no:cacheprovider",
         "-o", "addopts=", "--import-mode=importlib", "-m", "not gpu"],
        cwd=LABS_DIR.parent, env={**{k: v for k, v in os.environ.items() if k != "LAB_IMPL"},
                                  "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert re.search(r"\b\d+ passed\b", proc.stdout) and "failed" not in proc.stdout


def test_a_copy_without_solutions_grades_the_starter_by_default(tmp_path):
    # `python -m mini_vllm.workshop student` copies the labs without solution.py.
    lab = "lab04_prefill_vs_decode"
    (tmp_path / "labs" / lab).mkdir(parents=True)
    for name in ("__init__.py", "conftest.py"):
        (tmp_path / "labs" / name).write_bytes((LABS_DIR / name).read_bytes())
    for name in ("__init__.py", "starter.py", "test_lab.py"):
        (tmp_path / "labs" / lab / name).write_bytes((LABS_DIR / lab / name).read_bytes())
    env = {**{k: v for k, v in os.environ.items() if k != "LAB_IMPL"},
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "labs", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "Lab 4: ridge_point is not implemented yet" in proc.stdout
    assert "solution.py" not in proc.stdout and "Error" not in proc.stdout, proc.stdout[-3000:]
