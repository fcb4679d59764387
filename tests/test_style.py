"""House rules that review found broken once, checked with `ast` so they stay kept.

- no function in `fugato/` longer than 70 lines (decorators and docstring included);
- no private name (`_x`) imported from another fugato module: what is shared is public;
- `fugato.report` and `fugato.plot` know no model: they import nothing from `fugato.models`
  or `fugato.registry`;
- the command line and `Run` find what a task can do by its declared types
  (`fugato.train.task`), never by `getattr` / `hasattr`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "fugato"
MAX_LINES = 70
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def _imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import)]


def test_no_function_is_longer_than_70_lines() -> None:
    long = []
    for path in SOURCES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = node.end_lineno - first + 1  # type: ignore[operator]
                if lines > MAX_LINES:
                    long.append(f"{_name(path)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_no_private_name_is_imported_from_another_module() -> None:
    private = [f"{_name(path)}:{node.lineno} {alias.name} from {node.module}"
               for path in SOURCES for node in _imports(_tree(path))
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fugato")
               for alias in node.names
               if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert private == []


@pytest.mark.parametrize("module", ["report.py", "plot.py"])
def test_reports_and_plots_know_no_model(module: str) -> None:
    def imported(node: ast.ImportFrom | ast.Import) -> list[str]:
        if isinstance(node, ast.ImportFrom):
            return [node.module or ""]
        return [alias.name for alias in node.names]

    names = [m for node in _imports(_tree(PACKAGE / module)) for m in imported(node)]
    assert [m for m in names if m.startswith(("fugato.models", "fugato.registry"))] == []


@pytest.mark.parametrize("module", ["cli.py", "cli_common.py", "train/run.py", "train/seeds.py"])
def test_commands_use_declared_types_not_attribute_probes(module: str) -> None:
    probes = [f"{module}:{node.lineno}" for node in ast.walk(_tree(PACKAGE / module))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr")]
    assert probes == []
