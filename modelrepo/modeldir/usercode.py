"""The user's own modules that an artifact imports, and what it needs from installed packages.

A Pipeline may call the user's functions (``FunctionTransformer(features.add_ratio)``) or hold
their classes; its pickle names them by module, and so does its skops copy. ``modelrepo new``
finds those modules where the user keeps them (a ``--code`` file, the artifact's directory, the
working directory), copies them into the model directory's ``code/`` and pins the installed
packages the other names come from, so the image installs them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from wrappers.core.manifest import CODE_DIR


@contextlib.contextmanager
def importable(files: Iterable[Path], artifact: Path) -> Iterator[None]:
    """The ``--code`` files' directories, the artifact's and the working directory, after the
    installed packages on the import path while an artifact is read."""
    added = [str(p.resolve().parent) for p in files] + [str(artifact.resolve().parent), ""]
    added = [p for p in dict.fromkeys(added) if p not in sys.path]
    sys.path.extend(added)
    try:
        yield
    finally:
        for path in added:
            sys.path.remove(path)


def top_module(type_name: str) -> str:
    return type_name.split(".", 1)[0]


def is_installed(module: str) -> bool:
    """Whether ``module`` comes with Python or from an installed package, not from the user's
    own files."""
    if module in sys.builtin_module_names:
        return True
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if spec.origin in (None, "built-in", "frozen"):
        return True
    roots = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    origin = Path(spec.origin).resolve()
    return any(origin.is_relative_to(Path(r).resolve()) for r in roots if r)


def neighbours_since(before: Iterable[str], beside: Iterable[Path]) -> set[str]:
    """The top-level modules imported since ``before`` (``sys.modules``' names then) from the
    directories ``beside``: what the user's own modules import in turn."""
    folders = {Path(p).resolve() for p in beside}
    found = set()
    for name in {top_module(n) for n in set(sys.modules) - set(before)}:
        try:
            source = source_of(name)
        except (ImportError, ValueError):
            continue
        if source.resolve().parent in folders and not is_installed(name):
            found.add(name)
    return found


def source_of(module: str) -> Path:
    """The file (or the package's directory) that ``module`` is imported from."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"No module named {module!r}")
    origin = Path(spec.origin)
    return origin.parent if spec.submodule_search_locations else origin


def copy_modules(modules: Iterable[str], files: Iterable[Path], work: Path) -> list[str]:
    """Copies each module (and each ``--code`` file) into ``work/code/``; returns the paths
    written, relative to ``work``."""
    sources = {p.stem: p.resolve() for p in files}
    for module in modules:
        sources.setdefault(module, source_of(module))
    target = work / CODE_DIR
    written = []
    for name, source in sorted(sources.items()):
        target.mkdir(exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, target / f"{name}.py")
        written.append(f"{CODE_DIR}/{name}" + ("" if source.is_dir() else ".py"))
    return written


def pins(modules: Iterable[str]) -> list[str]:
    """``distribution==version`` for the installed packages that provide ``modules``."""
    provided = metadata.packages_distributions()
    found = sorted({d for m in modules for d in provided.get(m, [])})
    return [f"{d}=={metadata.version(d)}" for d in found]
