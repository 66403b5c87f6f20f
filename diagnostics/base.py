"""The rule shape and the registry: one rule per module, registered by its stable id.

A rule is a frozen dataclass whose fields are its parameters (with defaults); ``check``
is pure. ``requires`` lists groups of metric names: the rule applies when every group
has at least one name present. ``explained_by`` names rules that, when they fire on
the same run, explain this symptom better (the engine then drops this finding); a
finding's ``explains`` does the same the other way round, only when its evidence shows
the cause on this run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData

REGISTRY: dict[str, type[Rule]] = {}


@dataclass(frozen=True)
class Rule:
    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[str] = "warning"
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    explained_by: ClassVar[tuple[str, ...]] = ()

    def applies(self, run: RunData) -> bool:
        """Whether the run has the metrics (or config) this rule reads."""
        return all(any(_present(run, name) for name in group) for group in self.requires)

    def check(self, run: RunData) -> list[Finding]:
        raise NotImplementedError

    def finding(
        self,
        summary: str,
        evidence: Evidence,
        fixes: list[Fix] | tuple[Fix, ...],
        severity: str | None = None,
        title: str | None = None,
        explains: tuple[str, ...] = (),
    ) -> Finding:
        return Finding(
            rule=self.id,
            severity=severity or self.severity,
            title=title or self.title,
            summary=summary,
            evidence=evidence,
            fixes=tuple(fixes),
            explains=tuple(explains),
        )


def _present(run: RunData, name: str) -> bool:
    if name.endswith("/*"):
        return bool(run.prefixed(name[:-1]))
    if name.startswith("config:"):
        return run.config.get(name[len("config:") :]) is not None
    return run.get(name) is not None


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: add a rule to the registry under its id (ids are unique and stable)."""
    if not cls.id or cls.id in REGISTRY:
        raise ValueError(f"rule id {cls.id!r} is empty or already registered")
    REGISTRY[cls.id] = cls
    return cls


def all_rules(params: dict[str, dict[str, Any]] | None = None) -> list[Rule]:
    """An instance of every registered rule, with parameter overrides by rule id."""
    import diagnostics.rules  # noqa: F401  (registers the rules)

    params = params or {}
    return [cls(**params.get(rule_id, {})) for rule_id, cls in REGISTRY.items()]
