"""No unnamed numbers in rule bodies (issue 17).

A threshold buried in a function body cannot be read, swept or documented: every number a
rule decides with is a module constant with a why-comment or a rule dataclass field listed
under "Parameters:" in the docstring. This test walks every function of
``diagnostics/rules/*.py`` with ``ast`` and names each numeric literal it finds there.
"""

from __future__ import annotations

import ast
from pathlib import Path

RULES = Path(__file__).resolve().parents[1] / "diagnostics" / "rules"

# 0, 1 and -1 (empty, one, the last) and a structural 2 (two points for a slope, a half) carry no tuning.
ALLOWED = frozenset({0, 1, 2})

# Rules being rewritten on another branch, skipped until merged (none now).
PENDING: frozenset[str] = frozenset()


def _format_specs(tree: ast.AST) -> set[int]:
    """ids of the nodes inside f-string format specs (``{x:.3g}``): text, not numbers."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            inside.update(id(n) for n in ast.walk(node.format_spec))
    return inside


def unnamed_numbers(source: str) -> list[tuple[int, float | int]]:
    """(line, value) of each numeric literal inside a function (its signature's defaults too).

    Module-level constants and class-level field defaults are not inside a function and pass.
    A negated literal (``-1``) is read as one value.
    """
    tree = ast.parse(source)
    specs = _format_specs(tree)
    found: set[tuple[int, float | int]] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        negated = {
            id(node.operand)
            for node in ast.walk(fn)
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
        }
        for node in ast.walk(fn):
            if not isinstance(node, ast.Constant) or id(node) in specs:
                continue
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # strings (docstrings included) and True/False are not numbers
            if abs(value) in ALLOWED and (value != 2 or id(node) not in negated):
                continue
            found.add((node.lineno, -value if id(node) in negated else value))
    return sorted(found)


def rule_files() -> list[Path]:
    return sorted(p for p in RULES.glob("*.py") if p.name not in PENDING)


def test_rule_bodies_hold_no_unnamed_numbers() -> None:
    hits = [
        f"{p.relative_to(RULES.parents[1])}:{line}: {value!r}"
        for p in rule_files()
        for line, value in unnamed_numbers(p.read_text(encoding="utf-8"))
    ]
    assert not hits, (
        "numbers in rule bodies: name each as a module constant with a why-comment, or a rule field "
        "documented under 'Parameters:'\n" + "\n".join(hits)
    )


def test_pending_names_real_files() -> None:
    """A stale PENDING entry would hide nothing and go unnoticed: each one must still exist."""
    missing = sorted(name for name in PENDING if not (RULES / name).is_file())
    assert not missing, f"PENDING lists files that are gone: {missing}"


def test_the_check_sees_what_it_must() -> None:
    """The walker catches a literal in a body, a default or a lambda, and passes what the rule allows."""
    source = '''
LIMIT = 0.3  # a named module constant

class Rule:
    threshold: float = 0.5  # a field default

    def check(self, y, tol=0.03):
        """A docstring with 0.7 in it."""
        f"{y:.3g} and {y:>10}"
        k = len(y) // 2 + 1 - 1 + 0
        g = lambda v: v * 10
        return y[-1] > 0.25 * LIMIT and y[-2] and k > -3 and True
'''
    assert unnamed_numbers(source) == [(7, 0.03), (11, 10), (12, -3), (12, -2), (12, 0.25)]
