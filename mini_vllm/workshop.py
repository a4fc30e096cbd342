"""Instructor tools: student copies without solutions, and slide metadata for the notebooks.

    python -m mini_vllm.workshop student OUTDIR [--force]   # notebooks + labs, answers removed
    python -m mini_vllm.workshop slides [--check]           # stamp RISE slide metadata

A solution cell is a cell tagged ``solution`` (the book also tags it ``hide-input``). In the
student copy it becomes an empty "your turn" cell; a later cell that reads a name the solution
defined is wrapped so that it says so instead of failing. Nothing is ever overwritten unless
``--force`` is given, so an edited copy is never lost.

References:
    nbformat: https://nbformat.readthedocs.io/  ·  RISE slide types: https://rise.readthedocs.io/
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

SOLUTION_TAGS = {"solution", "answer"}
YOUR_TURN = "# ✎ Your turn: write your solution here.\n# (The instructor's copy has a worked answer.)\n"
LAB_FILES_FOR_STUDENTS = ("README.md", "__init__.py", "starter.py", "test_lab.py", "conftest.py")
LAB_SHARED_FILES = ("labs/README.md", "labs/__init__.py", "labs/conftest.py", "labs/grade.py")


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _assigned_names(code: str) -> set[str]:
    """Names a code cell binds at top level (assignments, defs, imports, for-targets)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: nothing we can see is defined
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _used_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _guarded(code: str, missing: set[str]) -> str:
    """Wrap ``code`` so a NameError from a removed solution prints a note instead of failing."""
    body = "".join("    " + line if line.strip() else line for line in code.splitlines(True))
    names = ", ".join(sorted(missing))
    return (f"try:  # this cell uses {names} from an exercise above\n{body}\n"
            f"except NameError as exc:\n"
            f"    print(f\"Solve the exercise above first: {{exc}}\")\n")


def student_notebook(nb: dict) -> dict:
    """Return a copy of notebook ``nb`` with solutions removed and outputs cleared."""
    nb = json.loads(json.dumps(nb))
    removed: set[str] = set()
    cells = []
    for cell in nb["cells"]:
        tags = _tags(cell)
        if tags & SOLUTION_TAGS:
            if cell["cell_type"] == "code":
                removed |= _assigned_names(_source(cell))
                cells.append({"cell_type": "code", "id": f"your-turn-{len(cells)}",
                              "metadata": {"tags": ["exercise"]},
                              "source": YOUR_TURN, "outputs": [], "execution_count": None})
            continue  # a markdown answer is dropped
        if cell["cell_type"] == "code":
            code = _source(cell)
            missing = _used_names(code) & removed
            if missing:
                cell["source"] = _guarded(code, missing)
            removed -= _assigned_names(code)  # a later cell redefines the name: it exists again
            cell["outputs"], cell["execution_count"] = [], None
            tags.discard("hide-input")
            cell["metadata"]["tags"] = sorted(tags)
        cells.append(cell)
    nb["cells"] = cells
    return nb


def _dumps(nb: dict) -> str:
    """JSON text exactly as nbformat writes it (sorted keys, indent 1), so diffs stay small."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": ")) + "\n"


def _write(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_student_copy(root: Path, outdir: Path, *, force: bool = False) -> list[Path]:
    """Write student notebooks and labs under ``outdir``; refuse to overwrite unless ``force``."""
    root, outdir = Path(root), Path(outdir)
    plan: list[tuple[Path, str]] = []
    for nb_path in sorted((root / "notebooks").glob("*.ipynb")):
        nb = student_notebook(json.loads(nb_path.read_text(encoding="utf-8")))
        plan.append((outdir / "notebooks" / nb_path.name, _dumps(nb)))
    for lab in sorted(p for p in (root / "labs").glob("lab*") if p.is_dir()):
        for name in LAB_FILES_FOR_STUDENTS:
            if (lab / name).exists():
                plan.append((outdir / "labs" / lab.name / name, (lab / name).read_text(encoding="utf-8")))
    for extra in LAB_SHARED_FILES:
        if (root / extra).exists():
            plan.append((outdir / extra, (root / extra).read_text(encoding="utf-8")))
    clashes = [p for p, _ in plan if p.exists()]
    if clashes and not force:  # check everything first: never write half a copy
        raise FileExistsError(f"{len(clashes)} file(s) exist already, e.g. {clashes[0]}; "
                              "pass --force to overwrite them")
    for path, text in plan:
        _write(path, text, force=True)
    return [p for p, _ in plan]


# ---- slides -------------------------------------------------------------------------------
def slide_type(cell: dict) -> str:
    """RISE slide type for a cell: headings start slides, setup and answers are skipped."""
    tags = _tags(cell)
    if tags & ({"remove-cell"} | SOLUTION_TAGS):
        return "skip"
    text = _source(cell).lstrip()
    if cell["cell_type"] == "markdown" and (text.startswith("# ") or text.startswith("## ")):
        return "slide"
    if cell["cell_type"] == "markdown" and text.startswith("### "):
        return "subslide"
    return "-"


def add_slide_metadata(nb: dict) -> bool:
    """Stamp ``metadata.slideshow.slide_type`` on every cell; True if anything changed."""
    changed = False
    for cell in nb["cells"]:
        want = slide_type(cell)
        if cell.setdefault("metadata", {}).get("slideshow", {}).get("slide_type") != want:
            cell["metadata"]["slideshow"] = {"slide_type": want}
            changed = True
    return changed


def stamp_slides(root: Path, *, check: bool = False) -> list[Path]:
    """Add slide metadata to every notebook (or, with ``check``, list those that lack it)."""
    stale = []
    for nb_path in sorted((Path(root) / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        if add_slide_metadata(nb):
            stale.append(nb_path)
            if not check:
                nb_path.write_text(_dumps(nb), encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m mini_vllm.workshop", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser("student", help="write student copies of the notebooks and labs")
    student.add_argument("outdir", type=Path)
    student.add_argument("--force", action="store_true", help="overwrite files that exist")
    student.add_argument("--root", type=Path, default=Path("."), help="the book's folder")
    slides = sub.add_parser("slides", help="stamp RISE slide metadata on the notebooks")
    slides.add_argument("--check", action="store_true", help="only report notebooks that lack it")
    slides.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    if args.command == "student":
        if not (args.root / "notebooks").is_dir():
            parser.error(f"--root {args.root} has no notebooks/ folder")
        try:
            written = write_student_copy(args.root, args.outdir, force=args.force)
        except FileExistsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {len(written)} files under {args.outdir}")
        return 0
    stale = stamp_slides(args.root, check=args.check)
    verb = "lack slide metadata" if args.check else "stamped"
    print(f"{len(stale)} notebook(s) {verb}" + "".join(f"\n  {p}" for p in stale))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
