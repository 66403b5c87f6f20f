"""What a rule says: a frozen ``Finding`` with its evidence and ranked fixes.

``to_dict`` is the JSON contract of ``python -m diagnostics --json``:
``{"rule", "severity", "summary", "evidence": {...}, "fixes": [{"text", "config_patch"}]}``
plus ``title`` and each fix's ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
@dataclass(frozen=True)
class Fix:
    text: str  # what to do, imperative: "Stop at epoch 12 (restore best weights)"
    reason: str = ""  # why it should help, with the numbers where possible
    config_patch: dict[str, Any] | None = None  # dotted config keys the runner can apply

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "reason": self.reason, "config_patch": self.config_patch}


@dataclass(frozen=True)
class Evidence:
    """What the chart marks: which metric, which steps, and the numbers that triggered the rule.

    ``marks`` are drawing hints, each a dict with a ``kind`` among
    ``vline`` (``step``, ``label``), ``span`` (``start``, ``end``, ``label``),
    ``point`` (``step``, ``value``, ``label``) and ``hline`` (``value``, ``label``).
    """

    metric: str
    start_step: int | None = None
    end_step: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    marks: tuple[dict[str, Any], ...] = ()
    related: tuple[str, ...] = ()  # other metrics the chart should show beside ``metric`` (e.g. train/auc)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "start_step": self.start_step, "end_step": self.end_step,
                "values": self.values, "marks": list(self.marks), "related": list(self.related)}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    title: str  # short: "Overfitting since epoch 12"
    summary: str  # one line with the numbers
    evidence: Evidence
    fixes: tuple[Fix, ...] = ()
    # rule ids this finding's evidence explains on this run (the engine then drops their findings):
    # unlike a rule's static ``explained_by``, it is set only when the numbers show the cause
    explains: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} not in {SEVERITIES}")

    def __str__(self) -> str:
        """One readable line for a print() in a script: ``WARNING overfitting: Overfitting since epoch 7``."""
        return f"{self.severity.upper()} {self.rule}: {self.title}"

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "title": self.title, "summary": self.summary,
                "evidence": self.evidence.to_dict(), "fixes": [f.to_dict() for f in self.fixes]}
