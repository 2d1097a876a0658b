"""No module of the proxy uses another module's private names (issue #27): what one
module offers another is public, and says so. Import cycles and the packages'
layering are tests/test_layering.py's."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy", "dpsql")


def test_no_module_imports_another_modules_private_name() -> None:
    private = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    private += [f"{path.relative_to(ROOT)}: from {'.' * node.level}"
                                f"{node.module or ''} import {a.name}" for a in node.names
                                if a.name.startswith("_") and not a.name.startswith("__")]
    assert private == []
