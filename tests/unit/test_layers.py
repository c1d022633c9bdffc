"""The package's shape, checked from its source: no import cycles (imports inside functions
included), and imports only go down the layers (../shared/DESIGN.md):

    magics -> api (+ normalise) -> features (builds, registry, runs, storage, jobs, reproduce)
                                -> engine -> display -> errors, redaction
"""

from __future__ import annotations

import ast
from pathlib import Path

import docker_magics

PACKAGE = Path(docker_magics.__file__).parent
FEATURES = {"builds", "registry", "runs", "storage", "jobs", "reproduce"}
# What each part may import of the package (besides itself).
ALLOWED = {
    "redaction": set(),
    "errors": {"redaction"},
    "display": {"errors", "redaction"},
    "engine": {"display", "errors", "redaction", "__init__"},  # session reports __version__
    "normalise": {"display", "errors"},
    **{f: FEATURES | {"engine", "display", "errors", "redaction"} for f in FEATURES},
    "api": FEATURES | {"normalise", "engine", "display", "errors", "redaction"},
    "magics": FEATURES | {"api", "engine", "display", "errors", "redaction"},
    "__init__": {"api", "magics", "errors", *FEATURES},
}
MAX_LINES = 500


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "labextension" in path.parts:
            continue
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("docker_magics", *parts)).removesuffix(".__init__")
        found[name] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            # ``from pkg import module`` imports the module (and runs pkg's __init__, which
            # does not count as a dependency); ``from pkg import name`` imports pkg.
            targets = [m for m in submodules if m in known] or [base]
        else:
            continue
        out |= {t for t in targets if t in known and t != name}
    return out


def part(module: str) -> str:
    """The layer a module belongs to: its top folder, or its own name at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, name, set(found)) for name, path in found.items()}


def test_no_import_cycles():
    edges = graph()
    # A package's __init__ importing its own modules is not a cycle of their making.
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_imports_only_go_down_the_layers():
    wrong = []
    for module, targets in graph().items():
        mine = part(module)
        for target in targets:
            theirs = part(target)
            if theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_display_never_imports_docker():
    for name, path in modules().items():
        if part(name) == "display":
            tree = ast.parse(path.read_text())
            names = [
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in getattr(node, "names", [])
            ] + [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
            assert not [n for n in names if n.split(".")[0] == "docker"], name


def test_no_module_is_over_500_lines():
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checks_see_what_they_check():
    # A layer check that found no imports would pass for nothing.
    edges = graph()
    assert "docker_magics.engine.drive" in edges["docker_magics.builds.builder"]
    assert "docker_magics.redaction" in edges["docker_magics.errors"]
    assert part("docker_magics.builds.buildkit.trace") == "builds"
