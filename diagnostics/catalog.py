"""The rule catalog, rendered from the rules' docstrings (the Streamlit catalog page reads this)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from diagnostics.base import REGISTRY, all_rules
from diagnostics.compare import SWEEPS, sweep_doc

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
    """One entry per rule: id, title, severity, kind ('run' or 'comparison'), the sections, parameters."""
    out = []
    for rule in all_rules():
        cls = type(rule)
        params = [{"name": f.name, "default": f.default} for f in dataclasses.fields(cls)]
        out.append(
            {
                "id": cls.id,
                "title": cls.title,
                "severity": cls.severity,
                "kind": "run",
                "requires": [list(g) for g in cls.requires],
                "explained_by": list(cls.explained_by),
                "parameters_defaults": params,
                **parse_sections(cls.__doc__),
            }
        )
    for sweep in SWEEPS:
        if sweep.id in REGISTRY:
            continue  # epsilon_sensitivity: the run entry already describes both halves
        out.append(
            {
                "id": sweep.id,
                "title": f"Result sensitive to {sweep.label}",
                "severity": "warning",
                "kind": "comparison",
                "requires": [[sweep.key]],
                "explained_by": [],
                "parameters_defaults": [],
                **parse_sections(sweep_doc(sweep)),
            }
        )
    return out
