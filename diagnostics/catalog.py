"""The rule catalog, rendered from the rules' docstrings (the Streamlit catalog page reads this)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from diagnostics.base import COMPARISONS, REGISTRY, all_rules

SECTIONS = ("What it detects", "Why it matters", "Suggested fix", "Parameters", "References")
_KEYS = {
    "What it detects": "what",
    "Why it matters": "why",
    "Suggested fix": "fix",
    "Parameters": "parameters",
    "References": "references",
}


def parse_sections(doc: str) -> dict[str, str]:
    """Split a docstring into its fixed sections; a missing section is an error (tests rely on it)."""
    doc = inspect.cleandoc(doc or "")
    pattern = re.compile(r"^({}):\s*$".format("|".join(map(re.escape, SECTIONS))), re.M)
    marks = list(pattern.finditer(doc))
    found = {
        m.group(1): doc[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(doc)].strip()
        for i, m in enumerate(marks)
    }
    missing = [s for s in SECTIONS if not found.get(s)]
    if missing:
        raise ValueError(f"docstring lacks section(s): {', '.join(missing)}")
    return {_KEYS[s]: found[s] for s in SECTIONS}


def entries() -> list[dict[str, Any]]:
    """One entry per rule id, from the registry: id, title, severity, kind ('run' or 'comparison'),
    order, the sections, parameters. A comparison that shares its id with a run rule
    (``epsilon_sensitivity``) is described by the run rule's entry, which covers both halves."""
    all_rules()
    out = []
    for cls in [*REGISTRY.values(), *(c for i, c in COMPARISONS.items() if i not in REGISTRY)]:
        out.append(
            {
                "id": cls.id,
                "title": cls.title,
                "severity": cls.severity,
                "kind": cls.kind,
                "order": cls.order,
                "requires": [list(g) for g in getattr(cls, "requires", ())] or ([[cls.key]] if cls.kind == "comparison"
                                                                                 else []),
                "explained_by": list(getattr(cls, "explained_by", ())),
                "parameters_defaults": [{"name": f.name, "default": f.default} for f in dataclasses.fields(cls)],
                **parse_sections(cls.doc()),
            }
        )
    return sorted(out, key=lambda e: (e["kind"] != "run", e["order"], e["id"]))


def markdown_table() -> str:
    """The README's rule list, generated from the registry (``python -m diagnostics.catalog``)."""
    lines = ["| id | kind | severity | title |", "|---|---|---|---|"]
    lines += [f"| `{e['id']}` | {e['kind']} | {e['severity']} | {e['title']} |" for e in entries()]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m diagnostics.catalog: the table to paste into the README
    print(markdown_table())
