"""Print line counts per package and the import graph between thresher's packages (from the source, via ast).

    uv run python benchmarks/import_graph.py [--root thresher] [--modules]

An edge A → B means some module of package A imports something of package B (lazy imports inside
functions included). It also lists import cycles between modules and between packages, and the calls
that run SQL (``.connect(``, ``.execute(``, ``.sql(``) outside ``catalog/``, and exits 1 when any of
them exists or a layer rule of docs/architecture.md is broken (train/evaluate importing curate, the catalog
importing a stage): only the catalog opens DuckDB.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

LEAVES = {"errors", "device", "images", "cards"}
STAGES = {"curate", "train", "evaluate"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
    return {f for f in found if f.split(".")[0] == "thresher"}


SQL_CALLS = {"connect", "connect_isolated", "execute", "sql", "register"}


def sql_calls(path: Path) -> list[str]:
    """``line: receiver.method(`` for every call of a DuckDB connection method in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
        ):
            found.append(f"{node.lineno}: {ast.unparse(node.func)}(")
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "thresher"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="thresher")
    parser.add_argument("--modules", action="store_true", help="also print the module-level edges")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    files = sorted(root.rglob("*.py"))
    modules = {module_name(f, root): f for f in files}
    lines: dict[str, int] = defaultdict(int)
    edges: dict[str, set[str]] = defaultdict(set)
    module_edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        lines[package_of(name)] += len(path.read_text().splitlines())
        for target in imports_of(path, name):
            # "from thresher.x import y" names module thresher.x.y when that exists, else thresher.x.
            real = target if target in modules else target.rpartition(".")[0]
            if real not in modules or real == name:
                continue
            module_edges[name].add(real)
            a, b = package_of(name), package_of(real)
            if a != b:
                edges[a].add(b)

    print("lines per package (all .py files, blank and comment lines included)")
    for package in sorted(lines):
        print(f"  {package:<22} {lines[package]:>6}")
    print(f"  {'total':<22} {sum(lines.values()):>6}")
    print("\npackage import graph (A -> B: A imports B)")
    for package in sorted(edges):
        print(f"  {package:<22} -> {', '.join(sorted(edges[package]))}")
    if args.modules:
        print("\nmodule edges")
        for name in sorted(module_edges):
            print(f"  {name} -> {', '.join(sorted(module_edges[name]))}")

    cycles = find_cycles(module_edges)
    print("\nmodule import cycles:", "none" if not cycles else "")
    for cycle in cycles:
        print("  " + " -> ".join(cycle))
    package_cycles = find_cycles(edges)
    print("package import cycles:", "none" if not package_cycles else "")
    for cycle in package_cycles:
        print("  " + " <-> ".join(cycle))

    outside = {
        name: calls
        for name, path in modules.items()
        if package_of(name) != "catalog" and (calls := sql_calls(path))
    }
    print("\nSQL outside catalog/:", "none" if not outside else "")
    for name, calls in sorted(outside.items()):
        print(f"  {name}: {', '.join(calls)}")

    broken = [
        f"{a} -> {b}"
        for a, targets in edges.items()
        for b in targets
        if (a in ("train", "evaluate") and b == "curate")
        or (a == "catalog" and (b in STAGES or b == "experiments"))
    ]
    print("\nlayer rules:", "kept" if not broken else "BROKEN: " + "; ".join(broken))
    return 1 if broken or cycles or package_cycles or outside else 0


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as one cycle's members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
