"""The backend's folders are layers: each package imports only itself and the layers below it, never a layer above,
and no module imports itself back through others. Checked on the source (every import statement, including those
inside functions), so a new upward import fails here before it becomes a tangle. docs/architecture.md draws it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2] / "backend"

# Each layer and the layers it may import (besides itself). The order is the one docs/architecture.md draws.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "audio": {"core"},
    "clips": {"core"},
    "models": {"core"},
    "eyes": {"core", "audio", "clips"},
    "synth": {"core", "audio", "clips", "eyes"},
    "training": {"core", "audio", "clips", "models"},
    "inference": {"core", "audio", "clips", "models", "eyes"},
    "adaptation": {"core", "audio", "clips", "models", "eyes", "training", "inference"},
    "evaluation": {"core", "audio", "clips", "models", "eyes", "synth", "training", "inference", "adaptation"},
    "tracking": {"core", "audio", "clips", "models", "eyes", "training", "inference", "adaptation"},
    "worker": {"core", "audio", "clips", "models", "eyes", "inference", "adaptation", "tracking"},
    "cli": {
        "core",
        "audio",
        "clips",
        "models",
        "eyes",
        "synth",
        "training",
        "inference",
        "adaptation",
        "evaluation",
        "worker",
        "tracking",
    },
}
TOP_LEVEL_MODULES = {"__init__", "__main__"}  # everything else lives in a layer
FORBIDDEN_EVERYWHERE = {"bpy", "mathutils", "adamesh_blender"}  # the backend never imports Blender or the add-on
NUMPY_ONLY = {"core": {"torch", "safetensors", "librosa", "pocketsphinx", "av"}}  # core is the light vocabulary


def module_name(path: Path) -> str:
    parts = path.relative_to(BACKEND.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module named by an import statement in the file (absolute names; relative ones resolved)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)  # `from backend.x import module`
    return found


SOURCES = sorted(BACKEND.rglob("*.py"))
MODULES = {module_name(path) for path in SOURCES}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


def backend_imports(path: Path) -> set[str]:
    return {name for name in imports_of(path) if name in MODULES}


def test_every_backend_module_lives_in_a_known_layer():
    strays = [module_name(p) for p in SOURCES if p.parent == BACKEND and p.stem not in TOP_LEVEL_MODULES]
    unknown = sorted({layer_of(m) for m in MODULES} - set(ALLOWED) - {None})
    assert not strays, f"modules outside every layer: {strays}"
    assert not unknown, f"folders not declared as layers in this test and docs/architecture.md: {unknown}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_only_its_own_layer_and_those_below(path):
    layer = layer_of(module_name(path))
    if layer is None:
        return
    upward = sorted(name for name in backend_imports(path) if layer_of(name) not in ({layer} | ALLOWED[layer] | {None}))
    assert not upward, f"{module_name(path)} ({layer}) imports a layer it may not: {upward}"
    outside = sorted(
        name for name in imports_of(path) if name.split(".")[0] in FORBIDDEN_EVERYWHERE | NUMPY_ONLY.get(layer, set())
    )
    assert not outside, f"{module_name(path)} ({layer}) imports {outside}"


def test_no_import_cycles():
    packages = {module_name(p) for p in SOURCES if p.name == "__init__.py"}
    # a package's __init__ importing its own submodules is how a package re-exports: not a cycle of meaning
    graph = {
        module_name(p): {
            m
            for m in backend_imports(p)
            if m != module_name(p) and not (module_name(p) in packages and m.startswith(module_name(p) + "."))
        }
        for p in SOURCES
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
