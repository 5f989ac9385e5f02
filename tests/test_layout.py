"""The shape of ``core/``: its modules import one another without a cycle, and no class
holds more than one job's worth of code."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
#: The longest class, in lines: past it a class holds more than one job.
LONGEST_CLASS = 250


def _module(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_imports() -> dict[str, set[str]]:
    """Each module of ``core`` and the ``core`` modules it imports, anywhere in its code
    (a function's import is an edge too; ``if TYPE_CHECKING`` blocks are left out: they
    never run)."""
    modules = {_module(p): p for p in CORE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body
            for n in ast.walk(child)
        }
        edges = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                edges.add(node.module)
                edges |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {e for e in edges if e in modules and e != name and e != "core"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as the modules along it, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_it_is_given():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_of_core_imports_one_that_imports_it_back():
    cycle = find_cycle(core_imports())
    assert cycle is None, " -> ".join(cycle)


def test_no_class_in_core_is_over_its_length():
    long = [
        f"{path.relative_to(CORE.parent)}: {node.name} ({node.end_lineno - node.lineno + 1})"
        for path in CORE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > LONGEST_CLASS
    ]
    assert not long, long


def test_the_readme_describes_every_module_of_core_in_one_line():
    readme = (CORE.parent / "README.md").read_text(encoding="utf-8")
    described = {line.split("`")[1] for line in readme.splitlines() if line.startswith("  - `")}
    modules = {p.stem for p in CORE.glob("*.py") if not p.stem.startswith("__")}
    assert modules <= described, sorted(modules - described)
