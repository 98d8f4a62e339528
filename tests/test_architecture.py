"""The package's map stays true: no import circles, click only in the command line, and no stage importing a
later one. Imports are read from the source (AST), including those under TYPE_CHECKING and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from scoa_xl.cli import main

PACKAGE = Path(__file__).resolve().parent.parent / "scoa_xl"

# The pipeline, bottom first: a module may import only modules in the layers below its own.
LAYERS = [
    {"model", "resources", "styles", "workers", "figures"},  # domain objects and rules; files and processes
    {"errors", "fileio", "layout", "clean", "render", "biff"},
    {"spec", "register", "preflight", "score", "writer", "results", "sheetxml"},
    {"unpacking"},  # what is inside emails and archives: the shared core of their readers
    {"mime", "archives"},  # .eml and .mbox; .zip
    {"outlook"},  # .msg (reads transport headers as mime does)
    {"read", "consolidate", "generate", "containers", "drafts", "plan_content"},
    {"inbox", "outputs"},
    {"validate", "fields", "summary", "issuing"},
    {"check"},
    {"plan", "prefill"},
    {"tasks"},
    {"batch"},
    {"examples"},
    {"cli"},
]


def package_imports() -> dict[str, set[str]]:
    """module -> the package modules it imports, wherever in the file the import is."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
                elif node.module and node.module.split(".")[0] == "scoa_xl":
                    parts = node.module.split(".")
                    deps |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("scoa_xl.")}
        graph[path.stem] = deps - {path.stem}
    return graph


def third_party(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
    return names


def test_every_module_has_a_layer():
    placed = set().union(*LAYERS)
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert modules == placed, f"give each module a place in LAYERS: missing {modules - placed}, gone {placed - modules}"


def test_no_import_circles():
    graph = package_imports()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                pytest.fail("import circle: " + " -> ".join([*trail[trail.index(dep):], dep]))
            if dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_module_imports_a_later_stage():
    layer = {m: i for i, group in enumerate(LAYERS) for m in group}
    wrong = sorted(f"{m} imports {d}" for m, deps in package_imports().items() if m in layer
                   for d in deps if d in layer and layer[d] >= layer[m])
    assert wrong == []


def test_only_the_command_line_imports_click():
    users = sorted(p.stem for p in PACKAGE.glob("*.py") if "click" in third_party(p.stem))
    assert users == ["cli"]


def test_no_module_is_a_warehouse():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 800} == {}


def test_the_checker_catches_a_circle(tmp_path, monkeypatch):
    # The circle test is only worth having if it can fail: a package whose two modules import each other.
    fake = tmp_path / "scoa_xl"
    fake.mkdir()
    (fake / "a.py").write_text("def f():\n    from .b import g\n", encoding="utf-8")
    (fake / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n",
                               encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    with pytest.raises(pytest.fail.Exception, match="import circle"):
        test_no_import_circles()


def commands() -> list[str]:
    return sorted(main.commands)


@pytest.mark.parametrize("command", commands())
def test_every_command_has_help_with_an_example(command):
    for flag in ("-h", "--help"):
        res = CliRunner().invoke(main, [command, flag])
        assert res.exit_code == 0, res.output
        assert "Example:" in res.output and f"scoa {command}" in res.output


def test_the_public_commands_are_all_there():
    assert {"generate", "fields", "check", "score", "plan", "batch", "demo"} <= set(commands())


def test_the_time_limit_options_default_to_the_worker_pools_limit():
    from scoa_xl.cli import main
    from scoa_xl.workers import TIME_LIMIT

    for command in ("check", "batch"):
        (option,) = [p for p in main.commands[command].params if p.name == "time_limit"]
        assert option.default == TIME_LIMIT, command
