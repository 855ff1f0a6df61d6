"""The layout reads top-down: nothing below imports anything above it, and nothing in a cycle.

Layers, bottom first: the shared definitions (errors, settings, limits), the contract and its
codecs, the serving core, the frameworks, the protocols, the server, the public user classes
(``wrappers/__init__.py``), then the tooling (``modelrepo``) and the benchmark. Imports are read
from the source, as written, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ("wrappers.errors", "wrappers.settings", "wrappers.limits"),
    ("wrappers.contract", "wrappers.codecs"),
    ("wrappers.core",),
    ("wrappers.frameworks",),
    ("wrappers.protocols",),
    ("wrappers.server",),
    ("wrappers",),
    ("modelrepo.modeldir", "modelrepo.local"),
    ("bench",),
    ("modelrepo",),
]
SERVING = [p for p in sorted((ROOT / "wrappers").rglob("*.py")) if "_pb2" not in p.name]
TOOLING = sorted((ROOT / "modelrepo").rglob("*.py"))


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    """The layer a project module belongs to (its longest matching prefix); None if outside."""
    best: tuple[int, int] | None = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    return None if best is None else best[0]


def imports_of(path: Path) -> list[str]:
    """Every project module a file imports (``from a import b`` counts as ``a.b`` when ``b`` is
    a module of the project, else as ``a``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                is_module = (ROOT / dotted.replace(".", "/")).with_suffix(".py").exists() or (
                    ROOT / dotted.replace(".", "/")
                ).is_dir()
                found.append(dotted if is_module else node.module)
    return [m for m in found if layer_of(m) is not None]


@pytest.mark.parametrize("path", SERVING + TOOLING, ids=lambda p: module_of(p))
def test_nothing_imports_a_layer_above_its_own(path):
    here = layer_of(module_of(path))
    above = [m for m in imports_of(path) if layer_of(m) > here]
    assert not above, f"{module_of(path)} imports {above}, which sit above it"


def test_the_image_never_imports_the_tooling():
    for path in SERVING:
        tooling = [m for m in imports_of(path) if m.split(".")[0] in ("modelrepo", "bench")]
        assert not tooling, f"{module_of(path)} imports {tooling}"


def test_no_module_imports_a_module_that_imports_it():
    graph = {module_of(p): set(imports_of(p)) for p in SERVING + TOOLING}
    cycles = sorted(
        f"{a} <-> {b}"
        for a, targets in graph.items()
        for b in targets
        if a < b and a in graph.get(b, ()) and a != b
    )
    assert not cycles


def test_the_layer_table_matches_the_packages():
    """A new top-level package of wrappers must be given its place here."""
    packages = {p.name for p in (ROOT / "wrappers").iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in (ROOT / "wrappers").glob("*.py") if p.stem != "__init__"}
    placed = {p.split(".")[1] for layer in LAYERS for p in layer if p.startswith("wrappers.")}
    assert packages | modules == placed


def _function_bodies(path: Path) -> list[tuple[str, int]]:
    """Each function's name and the length of its body in lines, its docstring left out."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            documented = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            first = body[1] if documented and len(body) > 1 else body[0]
            found.append((node.name, node.end_lineno - first.lineno + 1))
    return found


BENCH = sorted(p for p in (ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("path", SERVING + TOOLING + BENCH, ids=lambda p: module_of(p))
def test_every_function_fits_on_a_screen(path):
    long = [(name, lines) for name, lines in _function_bodies(path) if lines > 60]
    assert not long, f"{module_of(path)}: function bodies over 60 lines: {long}"
