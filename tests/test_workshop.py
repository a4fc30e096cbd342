"""Student copies and slide metadata (mini_vllm.workshop)."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mini_vllm import workshop

ROOT = Path(__file__).resolve().parents[1]


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return json.loads(nbformat.writes(nb))


def _code(src, tags=()):
    cell = nbformat.v4.new_code_cell(src)
    cell.metadata["tags"] = list(tags)
    cell.outputs = [nbformat.v4.new_output("stream", text="old output")]
    return cell


def test_solution_cells_become_your_turn_and_outputs_are_cleared():
    nb = _nb(_code("x = 1"), _code("answer = x + 41", tags=["solution", "hide-input"]),
             nbformat.v4.new_markdown_cell("The answer is 42.", metadata={"tags": ["answer"]}))
    out = workshop.student_notebook(nb)
    sources = ["".join(c["source"]) for c in out["cells"]]
    assert sources[0] == "x = 1"
    assert sources[1] == workshop.YOUR_TURN
    assert len(out["cells"]) == 2  # the markdown answer is gone
    assert all(c.get("outputs") == [] for c in out["cells"] if c["cell_type"] == "code")
    assert not any(set(c["metadata"].get("tags", [])) & workshop.SOLUTION_TAGS for c in out["cells"])
    nbformat.validate(nbformat.reads(json.dumps(out), as_version=4))


def test_cell_that_uses_a_removed_solution_says_so_instead_of_failing():
    nb = _nb(_code("def f(n):\n    return n * 2", tags=["solution"]), _code("print(f(21))"),
             _code("y = 5"), _code("print(y)"))
    out = workshop.student_notebook(nb)
    client = NotebookClient(nbformat.reads(json.dumps(out), as_version=4), timeout=60, kernel_name="python3")
    ran = client.execute()
    text = "".join(o.get("text", "") for c in ran.cells if c.cell_type == "code" for o in c.outputs)
    assert "Solve the exercise above first" in text and "name 'f' is not defined" in text
    assert "5" in text  # cells that do not depend on the solution run as usual
    assert "try:" not in "".join(ran.cells[3].source)


def test_never_overwrites_without_force(tmp_path):
    written = workshop.write_student_copy(ROOT, tmp_path)
    assert written, "nothing was written"
    edited = written[0]
    edited.write_text("my edits")
    with pytest.raises(FileExistsError, match="--force"):
        workshop.write_student_copy(ROOT, tmp_path)
    assert edited.read_text() == "my edits"
    workshop.write_student_copy(ROOT, tmp_path, force=True)
    assert edited.read_text() != "my edits"


def test_student_copy_of_the_book_has_no_solutions_and_no_lab_solutions(tmp_path):
    workshop.write_student_copy(ROOT, tmp_path)
    notebooks = sorted((tmp_path / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == len(list((ROOT / "notebooks").glob("*.ipynb")))
    for path in notebooks:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            assert not set(cell["metadata"].get("tags", [])) & workshop.SOLUTION_TAGS, path
            assert not cell.get("outputs"), path
    assert not list(tmp_path.glob("labs/*/solution.py"))


def test_command_line_refuses_to_overwrite(tmp_path):
    cmd = [sys.executable, "-m", "mini_vllm.workshop", "student", str(tmp_path), "--root", str(ROOT)]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 1 and "--force" in again.stderr


def test_slide_types():
    heading = nbformat.v4.new_markdown_cell("## Attention")
    prose = nbformat.v4.new_markdown_cell("Some words")
    setup = _code("import sys", tags=["remove-cell"])
    assert workshop.slide_type(heading) == "slide"
    assert workshop.slide_type(prose) == "-"
    assert workshop.slide_type(setup) == "skip"


def test_every_notebook_carries_slide_metadata():
    stale = workshop.stamp_slides(ROOT, check=True)
    assert not stale, f"run `python -m mini_vllm.workshop slides`: {stale}"
