"""The house's rules (docs/ARCHITECTURE.md, "Layers"), read from the code's own imports: what each part may
import, the faces of translate and refine, and the size limits."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tipr_bench"

MAY_IMPORT = {
    "core": set(),
    "benchmark": {"core"},
    "sample": {"benchmark", "core"},
    "release": {"benchmark", "core"},
    "translate": {"benchmark", "core"},
    "baselines": {"benchmark", "core"},
    "refine": {"translate", "benchmark", "core"},
}
FACES = {"translate", "refine"}  # other parts import these packages, never a module inside
TOP = {"cli", "demo", "demo_training", "__main__", "__init__"}


def _part(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imports(path: Path) -> list[str]:
    """Absolute module names this file imports (relative imports resolved), at any depth of the code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["tipr_bench", *path.relative_to(PACKAGE).parent.parts]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names += [base] + [f"{base}.{a.name}" for a in node.names]
    return [n for n in names if n.startswith("tipr_bench.")]


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_each_part_imports_only_the_parts_below_it():
    wrong = []
    for path in _files():
        part = _part(path)
        if part in TOP:
            continue
        for name in _imports(path):
            target = name.split(".")[1]
            if target != part and target in MAY_IMPORT and target not in MAY_IMPORT[part]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert wrong == []


def test_other_parts_use_translate_and_refine_through_their_faces():
    wrong = []
    for path in _files():
        part = _part(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[1] in FACES and parts[1] != part and len(parts) > 2 and not _is_face_name(parts):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert wrong == []


def _is_face_name(parts: list[str]) -> bool:
    """`from tipr_bench.refine import X` yields the name tipr_bench.refine.X: fine when the face exports X."""
    return len(parts) == 3 and parts[2] in importlib.import_module(f"tipr_bench.{parts[1]}").__all__


def test_no_file_over_400_lines_and_no_function_over_80():
    long = []
    for path in _files():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400:
            long.append(f"{path.relative_to(PACKAGE)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 80:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert long == []


def test_the_rules_see_what_they_check():
    """The walk finds the package's parts and their imports (a rule over nothing would pass)."""
    assert {_part(p) for p in _files()} >= set(MAY_IMPORT) | {"cli"}
    assert "tipr_bench.core.errors" in _imports(PACKAGE / "benchmark" / "store.py")
