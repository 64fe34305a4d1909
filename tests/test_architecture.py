"""The package's shape: models never import telemetry, there are no import cycles (module-level or lazy), and no
module keeps mutable state at module level that its functions change (provenance must travel in records)."""

from __future__ import annotations

import ast

from import_graph import PACKAGE_DIR, cycles, import_graph, module_name

MUTATORS = {"append", "extend", "update", "setdefault", "add", "pop", "clear", "insert", "remove", "discard"}


def test_models_do_not_import_telemetry() -> None:
    graph = import_graph()
    back = sorted((a, b) for a, edges in graph.items() for b in edges
                  if a.startswith("titan_eval.models") and b.startswith("titan_eval.telemetry"))
    assert back == []


def test_the_import_graph_has_no_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _module_containers(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        value = getattr(node, "value", None)
        mutable = isinstance(value, (ast.Dict, ast.List, ast.Set)) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("dict", "list", "set"))
        if mutable:
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _mutated_in_functions(tree: ast.Module, names: set[str]) -> set[str]:
    found = set()
    for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                base = node.func.value
                while isinstance(base, ast.Subscript):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in names:
                    found.add(base.id)
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    base = target
                    while isinstance(base, ast.Subscript):
                        base = base.value
                    if base is not target and isinstance(base, ast.Name) and base.id in names:
                        found.add(base.id)
    return found


def test_no_module_level_state_is_mutated_by_functions() -> None:
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{module_name(path)}.{n}" for n in sorted(_mutated_in_functions(tree, _module_containers(tree)))]
    assert offenders == []


def test_the_state_check_catches_a_planted_registry() -> None:
    tree = ast.parse("USED = {}\ndef load(p):\n    USED.setdefault('t', {})[p] = 1\nSEEN = []\ndef f():\n    SEEN[0] = 2\n")
    assert _mutated_in_functions(tree, _module_containers(tree)) == {"USED", "SEEN"}
