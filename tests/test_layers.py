"""docs/ARCHITECTURE.md's rule, enforced: imports point one way; a lower layer never imports a
higher one."""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "nnmath"

# Lower number = lower layer. A module may import only from its own layer or lower ones.
LAYERS = [
    ("nnmath._core", 0),
    ("nnmath.numpy", 1),
    ("nnmath.scipy", 1),
    ("nnmath._transforms", 2),
    ("nnmath._gradcheck", 2),
    ("nnmath._ravel", 2),
    ("nnmath.nn", 3),
    ("nnmath.optimizers", 3),
    ("nnmath.training", 4),
    ("nnmath.keras", 5),
    ("nnmath.analysis", 6),
    ("nnmath.distributed", 6.5),    # beside analysis: imports it; analysis never imports it
    ("nnmath.report", 7),
    ("nnmath.cli", 8),
    ("nnmath.__main__", 8),
]


def layer_of(module: str) -> int | None:
    best = None
    for prefix, level in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, level)
    return None if best is None else best[1]


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: pathlib.Path, name: str):
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod
            for a in node.names:        # "from . import numpy" imports a submodule
                yield f"{mod}.{a.name}"


FILES = sorted(p for p in ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_imports_point_down(path):
    name = module_name(path)
    own = layer_of(name)
    if own is None:
        return          # nnmath/__init__.py: the public face re-exports every layer
    for mod in imported_modules(path, name):
        other = layer_of(mod)
        assert other is None or other <= own, f"{name} (layer {own}) imports {mod} (layer {other})"
