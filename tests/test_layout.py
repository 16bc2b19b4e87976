"""The house rules of the package, read from its source: imports flow one way (no circles, no
arrow from a lower layer to a higher one), no file is longer than a reader can hold, and no
two modules share a name."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "moderncnn"

#: The layers, lowest first: a module may import from its own layer and those below. The
#: package itself is a facade of ``__version__`` and lazy model names (PEP 562).
LAYERS: list[set[str]] = [
    {"moderncnn", "errors", "io", "validate", "progress", "loss", "precision"},
    {"models"},
    {"fast", "data"},
    {"predict"},
    {"train"},
    {"inspect", "scoring"},
    {"bench", "export", "experiments"},
    {"cli", "__main__"},
]

#: The longest a file under src/ may be.
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports at run time (anywhere in the file; not
    under ``if TYPE_CHECKING:``); ``from pkg import sub`` is an import of ``pkg.sub``."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for stmt in node.body
        for n in ast.walk(stmt)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            subs = {f"{base}.{a.name}" for a in node.names} & modules.keys()
            found |= subs or {base}
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(module: str) -> int:
    """The index of ``module``'s layer in :data:`LAYERS`; -1 for a package none names."""
    top = module.split(".")[1] if "." in module else module
    return next((i for i, layer in enumerate(LAYERS) if top in layer), -1)


def test_every_module_has_a_layer() -> None:
    assert [name for name in _modules() if _layer(name) < 0] == []
    assert _layer("moderncnn.newpackage.module") == -1  # what a package without a layer gets


def test_no_import_circles() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = path[path.index(name) :] + [name]
            pytest.fail("import circle: " + " -> ".join(cycle))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_imports_go_down_the_layers() -> None:
    upward = [
        f"{a} -> {b}"
        for a, targets in sorted(_graph().items())
        if a != "moderncnn"  # the facade imports models on first use of a model name
        for b in sorted(targets)
        if _layer(b) > _layer(a)
    ]
    assert not upward, "imports from a higher layer: " + ", ".join(upward)


def test_the_checks_see_circles_and_upward_arrows(tmp_path: Path) -> None:
    """The reader of imports finds what the rules are about: a module-level import, one
    inside a function, a relative one, ``from package import module``."""
    modules = {
        "moderncnn.models.a": Path(),
        "moderncnn.models.b": Path(),
        "moderncnn.train": Path(),
    }
    src = tmp_path / "a.py"
    src.write_text(
        "from typing import TYPE_CHECKING\nfrom . import b\n"
        "if TYPE_CHECKING:\n    from moderncnn.models import a\n"
        "def f():\n    import moderncnn.train\n"
    )
    assert _imports("moderncnn.models.a", src, modules) == {
        "moderncnn.models.b",
        "moderncnn.train",
    }
    assert _layer("moderncnn.train.engine") > _layer("moderncnn.models.base")


def test_files_are_short() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_module_names_differ() -> None:
    """One name, one module: ``grep`` and tracebacks point at one file (the CLI's command
    modules end in ``_cmd``)."""
    names = Counter(p.name for p in SRC.rglob("*.py") if p.name != "__init__.py")
    assert [n for n, count in names.items() if count > 1] == []
