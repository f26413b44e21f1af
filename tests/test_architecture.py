"""The package's import graph: no cycle, and no import from a lower layer into a higher one (docs/architecture.md).

Every module of ``src/semiblind`` is parsed with :mod:`ast`; every ``import`` counts, at module level or inside
a function, relative imports resolved. ``from pkg import name`` counts as an import of ``pkg.name`` when that is
a module of the package, of ``pkg`` otherwise.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import semiblind

ROOT = Path(semiblind.__file__).resolve().parent
DOC = ROOT.parents[1] / "docs" / "architecture.md"


def _module_names() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _module_names()


def _resolve(name: str) -> str | None:
    """The module of the package that an import of ``name`` loads (its longest importable prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "semiblind" or alias.name.startswith("semiblind."):
                    out.add(_resolve(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                pkg = ".".join(base + ([node.module] if node.module else []))
            else:
                pkg = node.module or ""
            if not (pkg == "semiblind" or pkg.startswith("semiblind.")):
                continue
            for alias in node.names:
                sub = f"{pkg}.{alias.name}"
                out.add(sub if sub in MODULES else _resolve(pkg))
    out.discard(None)
    out.discard(module)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer_table() -> list[tuple[str, list[str]]]:
    """(layer, module patterns) rows of the table in docs/architecture.md, lowest layer first."""
    rows = []
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| layer |"):
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set(cells[0]) <= {"-", " ", ":"}:
                continue
            rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1])))
    return rows


LAYERS = _layer_table()


def _layer_of(module: str) -> int:
    best, best_len = None, -1
    for rank, (_, patterns) in enumerate(LAYERS):
        for pat in patterns:
            pat_mod = pat.removesuffix(".*")
            if module == pat_mod or (pat.endswith(".*") and module.startswith(pat_mod + ".")):
                if len(pat_mod) > best_len:
                    best, best_len = rank, len(pat_mod)
    assert best is not None, f"module {module} is in no layer of docs/architecture.md's table"
    return best


def test_every_module_has_a_layer():
    assert len(LAYERS) >= 8
    for module in MODULES:
        _layer_of(module)


def test_parser_sees_function_level_and_relative_imports():
    # api imports the estimators at module level; the CLI's verbs import the api inside functions.
    assert "semiblind.estimators._learned" in GRAPH["semiblind.api"]
    assert "semiblind.api" in GRAPH["semiblind.cli._separate"]
    assert "semiblind._registry" in GRAPH["semiblind.solvers.base"]  # `from .. import _registry`


def test_no_import_cycle():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(GRAPH[m]):
            # a package's __init__ re-exporting its own submodules is not a cycle through the submodule
            if dep == m.rpartition(".")[0] and m in GRAPH[dep]:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_layers_import_only_from_layers_below():
    bad = []
    for m, deps in sorted(GRAPH.items()):
        for dep in sorted(deps):
            if m == "semiblind" or dep == m.rpartition(".")[0]:
                continue  # the package root re-exports the api; a module may read its own package
            if _layer_of(dep) > _layer_of(m):
                bad.append(f"{m} ({LAYERS[_layer_of(m)][0]}) imports {dep} ({LAYERS[_layer_of(dep)][0]})")
    assert not bad, "imports from a higher layer:\n" + "\n".join(bad)
