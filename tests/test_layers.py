"""The import rules of ARCHITECTURE.md, enforced: who may know whom, and what importing costs.

Static half: every ``import`` statement (top level or inside a function) of a package is
read with ``ast`` and checked against what the package may not know. Dynamic half: a fresh
interpreter imports a module and reports which heavy modules came along.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LEAF = "traindoc.core"  # the leaf at the bottom: the one part of traindoc that runner and diagnostics may import
# folder or file → modules it must not import (a name and everything under it), files exempt (the
# entry points, which compose the floors: the reason is in ARCHITECTURE.md). An import of the leaf
# is always allowed; everything else of traindoc is a floor above runner and diagnostics.
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "traindoc/core": (("diagnostics", "runner", "pages", "app", "traindoc", "streamlit", "torch"), ()),
    "diagnostics": (("runner", "traindoc", "pages", "app", "streamlit", "sqlite3", "torch", "sqlite_utils"),
                    ("diagnostics/cli.py",)),  # `python -m diagnostics` reads files and the store (traindoc.handoff)
    "runner": (("diagnostics", "traindoc", "pages", "app", "streamlit"),
               ("runner/__main__.py",)),  # `python -m runner` hands the live doctor to the runs it starts
}


def _within(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in a file; relative imports are resolved to absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                out.append((node.lineno, ".".join([*parts, *([node.module] if node.module else [])])))
            else:
                out.append((node.lineno, node.module or ""))
    return out


def violations(target: str, forbidden: tuple[str, ...], exempt: tuple[str, ...], root: Path = ROOT) -> list[str]:
    top = root / target
    files = [top] if top.is_file() else sorted(top.rglob("*.py"))
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if rel in exempt:
            continue
        for line, module in imported_modules(path, root):
            if any(_within(module, name) for name in forbidden) and not _within(module, LEAF):
                found.append(f"{rel}:{line} imports {module}")
    return found


@pytest.mark.parametrize("target", list(RULES))
def test_import_rules(target: str) -> None:
    forbidden, exempt = RULES[target]
    assert violations(target, forbidden, exempt) == []


def test_the_rule_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The static check must catch a lazy import too (the way the layers broke before)."""
    (tmp_path / "diagnostics" / "rules").mkdir(parents=True)
    (tmp_path / "diagnostics" / "rules" / "probe.py").write_text(
        "from . import _common\n\ndef f():\n    from runner.config import schema\n    return schema\n")
    (tmp_path / "diagnostics" / "ok.py").write_text("from .rules import probe\nimport runner_lookalike\n")
    assert violations("diagnostics", RULES["diagnostics"][0], (), root=tmp_path) == [
        "diagnostics/rules/probe.py:4 imports runner.config"]


def test_the_statuses_leaf_imports_nothing() -> None:
    """The run statuses are plain data: the store, the launcher and the pages may all import them."""
    assert [m for _, m in imported_modules(ROOT / "traindoc" / "core" / "statuses.py")] == ["__future__"]


def test_the_checker_allows_the_leaf_and_nothing_else_of_traindoc(tmp_path: Path) -> None:
    """runner and diagnostics may import ``traindoc.core`` (and its modules), never another floor of traindoc."""
    (tmp_path / "runner").mkdir()
    (tmp_path / "runner" / "ok.py").write_text("from traindoc.core import vocabulary\nimport traindoc.core.statuses\n")
    (tmp_path / "runner" / "up.py").write_text(
        "import traindoc\nfrom traindoc import core\n\ndef f():\n    from traindoc.live_doctor import for_run\n")
    assert violations("runner", RULES["runner"][0], (), root=tmp_path) == [
        "runner/up.py:1 imports traindoc", "runner/up.py:2 imports traindoc",
        "runner/up.py:5 imports traindoc.live_doctor"]


def test_the_runner_is_handed_the_live_doctor_and_never_loads_it() -> None:
    """Importing the runner's commands and its training loop loads neither the doctor nor the diagnostics."""
    assert loaded_after("import runner.cli, runner.execute, runner.lifecycle, runner.scheduler",
                        ("traindoc.live_doctor", "diagnostics", "traindoc.session")) == []


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = ("traindoc", "runner", "diagnostics"),
                 ) -> dict[str, set[str]]:
    """Module → the modules of ours it imports (anywhere in the file); ``from pkg import mod`` counts as ``pkg.mod``."""
    files = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = (name if path.name == "__init__.py" else name.rpartition(".")[0]).split(".")
                    base = ".".join([*package[: len(package) - (node.level - 1)], *([base] if base else [])])
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names}
        graph[name] = set()
        for target in targets:
            parts = target.split(".")
            while parts and ".".join(parts) not in files:
                parts.pop()
            if parts and ".".join(parts) != name:
                graph[name].add(".".join(parts))
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles (strongly connected groups of two or more modules) of an import graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_module_imports_itself_round_a_circle() -> None:
    """A circle (even through an import inside a function) means two modules are one: no floor between them."""
    assert import_circles(import_graph()) == []


def test_the_circle_finder_sees_a_lazy_circle(tmp_path: Path) -> None:
    (tmp_path / "runner").mkdir()
    (tmp_path / "runner" / "__init__.py").write_text("")
    (tmp_path / "runner" / "a.py").write_text("from runner import b\n")
    (tmp_path / "runner" / "b.py").write_text("def f():\n    from . import c\n")
    (tmp_path / "runner" / "c.py").write_text("import runner.a\n")
    (tmp_path / "runner" / "d.py").write_text("from runner.a import x\n")
    assert import_circles(import_graph(tmp_path, ("runner",))) == [["runner.a", "runner.b", "runner.c"]]


def loaded_after(statement: str, watch: tuple[str, ...]) -> list[str]:
    """Which of ``watch`` are in sys.modules after running ``statement`` in a fresh interpreter."""
    code = f"import sys, json\n{statement}\nprint(json.dumps([m for m in {list(watch)!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


HEAVY = ("torch", "streamlit", "plotly", "scipy", "sklearn", "optuna")


@pytest.mark.parametrize("module", ["runner", "runner.cli", "traindoc", "diagnostics", "traindoc.core.vocabulary",
                                    "traindoc.core.statuses", "runner.importers", "runner.store", "runner.config"])
def test_importing_a_package_does_not_load_torch_or_the_dashboard(module: str) -> None:
    assert loaded_after(f"import {module}", HEAVY) == []


def test_diagnosing_a_csv_loads_neither_torch_nor_the_chart_libraries(tmp_path: Path) -> None:
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{1 / (i + 1):.4f},{0.5 + abs(i - 10) / 20:.4f}\n"
                                                      for i in range(30)))
    statement = ("import contextlib, io\nfrom diagnostics.cli import main\n"
                 f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main([{str(log)!r}, '--json']) == 0")
    assert loaded_after(statement, HEAVY) == []


def test_the_diagnostics_command_stays_small_and_says_the_same(tmp_path: Path) -> None:
    """``python -m diagnostics FILE --json`` (which does without pyarrow) under 100 MiB, same document as in-process."""
    import contextlib
    import io

    from diagnostics.cli import main

    log = tmp_path / "metrics.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{1 / (i + 1):.4f},{0.5 + abs(i - 10) / 20:.4f}\n"
                                                      for i in range(30)))
    # a small parent starts the command: a child forked from this (large) test process would report
    # the parent's peak as its own
    probe = ("import os, subprocess, sys\n"
             "with open(sys.argv[1], 'wb') as out:\n"
             "    p = subprocess.Popen(sys.argv[2:], stdout=out)\n"
             "    _, status, usage = os.wait4(p.pid, 0)\n"
             "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "out.json"), sys.executable, "-m",
                           "diagnostics", str(log), "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    code, peak_kb = map(int, done.stdout.split())
    assert code == 0
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([str(log), "--json"]) == 0
    assert json.loads((tmp_path / "out.json").read_text()) == json.loads(buf.getvalue())
    assert peak_kb / 1024 < 100, f"python -m diagnostics peaked at {peak_kb / 1024:.0f} MiB"


def test_pages_holds_only_the_pages_the_app_lists() -> None:
    """Streamlit lists every file of ``pages/`` in the sidebar of a fresh server's first load, before
    the app's navigation replaces it: a helper module there shows up as a page. Helpers live in
    ``traindoc/ui``; ``pages/`` holds the listed pages and the package marker only."""
    listed = {Path(path).name for path, *_ in _app_pages()}
    present = {p.name for p in (ROOT / "pages").glob("*.py")} - {"__init__.py"}
    assert present == listed


def test_the_runner_and_the_diagnostics_never_import_the_dashboard_helpers() -> None:
    found = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for package in ("runner", "diagnostics") for path in sorted((ROOT / package).rglob("*.py"))
             for line, module in imported_modules(path) if module.startswith("traindoc.ui")]
    assert found == []


def _app_pages() -> list[tuple[str, ...]]:
    """The PAGES table of app.py, read without running Streamlit."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("app.py has no PAGES table")
