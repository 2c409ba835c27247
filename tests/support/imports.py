"""Imports read from source (AST), nothing imported: shared by the package and layer boundary tests."""

from __future__ import annotations

import ast
from collections.abc import Iterator


def imported_modules(source: str, filename: str = "<source>") -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, wherever it sits in the file."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value
