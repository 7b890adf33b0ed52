"""Code structure: no import cycles inside ``cmvc``, no function over about 80 lines without a stated reason."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "reference"
PKG = ROOT / "cmvc"

MAX_LINES = 80

#: Functions allowed over MAX_LINES, each with its reason.
LONG_FUNCTIONS = {
}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = p
    return mods


def _is_package(mods: dict[str, Path], name: str) -> bool:
    return mods[name].name == "__init__.py"


def imports() -> list[tuple[str, str, list[str]]]:
    """(importing module, imported ``cmvc`` module or package, names imported from it) for every import
    statement in ``cmvc``, at module level or inside functions (both can close a cycle)."""
    mods = _modules()
    out = []
    for name, path in mods.items():
        package = name if _is_package(mods, name) else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                out += [(name, a.name, []) for a in node.names if a.name.split(".")[0] == "cmvc"]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif node.module and node.module.split(".")[0] == "cmvc":
                    target = node.module
                else:
                    continue
                out.append((name, target, [a.name for a in node.names]))
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``cmvc`` modules it imports. Importing ``a.b.c`` runs the packages ``a.b`` and ``a``
    too, so those edges count, except to the module's own packages: a package and its modules are one
    unit (``keyframes/__init__`` dispatches to ``keyframes.vvc``, which reads ``shot_starts`` from it).
    The root package ``cmvc`` is everyone's own package: its ``__init__`` imports its API lazily and gives
    the package nothing but ``__version__`` (:func:`test_root_package_only_gives_its_version`)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for src, target, names in imports():
        targets = [target] + [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]  # `from . import bench`
        own = {src.rsplit(".", i)[0] for i in range(src.count(".") + 1)}  # itself and its packages
        for t in targets:
            while t and t not in own:  # importing a.b.c runs a.b and a first
                graph[src].add(t)
                t = t.rpartition(".")[0]
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_import_graph_sees_lazy_and_relative_imports():
    g = import_graph()
    assert "cmvc.recon.rife" in g["cmvc.decode"]  # imported inside a function
    assert "cmvc.tools.bench" in g["cmvc.tools.commands"]  # `from . import bench, ...`
    assert "cmvc.generative" in g["cmvc.decode"]  # `from .generative.tt2v import generate` runs generative/__init__
    assert "cmvc.keyframes" not in g["cmvc.keyframes.vvc"]  # its own package


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_root_package_only_gives_its_version():
    mods = _modules()
    for src, target, names in imports():
        if target == "cmvc" and src != "cmvc":
            wrong = [n for n in names if n != "__version__" and f"cmvc.{n}" not in mods]
            assert not wrong, f"{src} imports {wrong} from the root package (import them from their own module)"


def long_functions() -> dict[str, int]:
    out = {}
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())

        def walk(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = child.end_lineno - child.lineno + 1
                    if n > MAX_LINES:
                        out[f"{prefix}.{child.name}"] = n
                    walk(child, f"{prefix}.{child.name}")
                elif isinstance(child, ast.ClassDef):
                    walk(child, f"{prefix}.{child.name}")

        walk(tree, name)
    return out


def test_no_long_functions_without_a_reason():
    long = long_functions()
    unexplained = {f: n for f, n in long.items() if f not in LONG_FUNCTIONS}
    assert not unexplained, f"functions over {MAX_LINES} lines; split them or state why in LONG_FUNCTIONS: {unexplained}"
    stale = set(LONG_FUNCTIONS) - set(long)
    assert not stale, f"no longer over {MAX_LINES} lines, remove from LONG_FUNCTIONS: {stale}"
