"""The rule shapes and the registry: one rule per module, registered by its stable id.

A rule is a frozen dataclass whose fields are its parameters (with defaults); ``check``
is pure. Everything else about a rule is declared once, on its class: ``id``, ``title``,
``severity``, ``order`` (among findings of equal severity, causes before the symptoms they
produce: a lower order is the more explanatory rule). A ``Rule`` judges one run; a
``ComparisonRule`` judges runs side by side (a sweep over one config key).

``requires`` lists groups of metric names: the rule applies when every group
has at least one name present. ``explained_by`` names rules that, when they fire on
the same run, explain this symptom better (the engine then drops this finding); a
finding's ``explains`` does the same the other way round, only when its evidence shows
the cause on this run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData

REGISTRY: dict[str, type[Rule]] = {}  # per-run rules by id
COMPARISONS: dict[str, type[ComparisonRule]] = {}  # cross-run rules by id
UNORDERED = 10_000  # the rank of a rule that declares no order (a test rule)


@dataclass(frozen=True)
class RuleInfo:
    """What every rule declares on its class, whatever it judges."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[str] = "warning"
    order: ClassVar[int] = UNORDERED
    kind: ClassVar[str] = ""

    @classmethod
    def doc(cls) -> str:
        """The catalog text: the docstring, in its fixed sections."""
        return cls.__doc__ or ""


@dataclass(frozen=True)
class Rule(RuleInfo):
    kind: ClassVar[str] = "run"
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


@dataclass(frozen=True)
class ComparisonRule(RuleInfo):
    """A cross-run rule: ``check_runs`` sees every run given together and finds what only a comparison shows."""

    kind: ClassVar[str] = "comparison"
    key: ClassVar[str] = ""  # the config key whose values the runs differ in

    def check_runs(self, runs: Sequence[RunData]) -> list[Finding]:
        raise NotImplementedError


def register(cls: type) -> type:
    """Class decorator: add a rule to its registry under its id (ids are unique and stable per kind).

    A comparison may share its id with a run rule when both detect the same thing
    (``epsilon_sensitivity``: within a run and across an ε sweep).
    """
    registry: dict[str, Any] = COMPARISONS if issubclass(cls, ComparisonRule) else REGISTRY
    if not cls.id or cls.id in registry:
        raise ValueError(f"rule id {cls.id!r} is empty or already registered")
    registry[cls.id] = cls
    return cls


def _load() -> None:
    import diagnostics.rules  # noqa: F401  (discovers and registers the rules)


def all_rules(params: dict[str, dict[str, Any]] | None = None) -> list[Rule]:
    """An instance of every registered per-run rule, with parameter overrides by rule id."""
    _load()
    params = params or {}
    return [cls(**params.get(rule_id, {})) for rule_id, cls in REGISTRY.items()]


def all_comparisons(params: dict[str, dict[str, Any]] | None = None) -> list[ComparisonRule]:
    """An instance of every registered cross-run rule, with parameter overrides by rule id."""
    _load()
    params = params or {}
    return [cls(**params.get(rule_id, {})) for rule_id, cls in COMPARISONS.items()]


def order_of(rule_id: str) -> int:
    """The explanatory rank of a rule id (its class's ``order``): lower explains more."""
    _load()
    cls = REGISTRY.get(rule_id) or COMPARISONS.get(rule_id)
    return cls.order if cls is not None else UNORDERED
