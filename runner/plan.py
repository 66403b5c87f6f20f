"""From a launch form to queued runs: overrides, sweep values, seeds, and the group that holds them.

Pure until :func:`submit`: the launch page, the CLI and the fix button build a
:class:`Plan`, every value passes ``coerce`` here (so a bad one is refused with its
allowed range before anything is queued), and ``submit`` writes one group of queued
runs and makes sure the shared scheduler is up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner import executors
from runner.config import ConfigError, RunConfig, coerce, from_flat, schema
from runner.search import trial_meta
from runner.store import ACTIVE, Store
from runner.sweep import expand

MAX_RUNS = 200  # a typo in a grid should not queue ten thousand runs


@dataclass(frozen=True)
class Plan:
    """Everything a group of runs needs; ``runs()`` expands it, ``submit`` queues it."""

    name: str
    base: dict[str, Any]  # a full flat config (validated in runs())
    grid: dict[str, list[Any]] = field(default_factory=dict)
    seeds: int = 1  # repeats: seeds base, base+1, ... for every grid point
    concurrency: int = 2
    executor: str = "local"
    address: str | None = None
    kind: str = "sweep"
    parent_run_id: int | None = None
    variants: tuple[tuple[str, dict[str, Any]], ...] = ()  # (label, patch) runs instead of a grid
    extra_spec: dict[str, Any] = field(default_factory=dict)  # e.g. the finding a fix group verifies

    @classmethod
    def search(cls, name: str, base: dict[str, Any], search: Any, **kw: Any) -> Plan:
        """A random or TPE search (``runner.search.Search``): one variant per trial, the spec recorded."""
        from runner.search import trial_variants

        extra = {**kw.pop("extra_spec", {}), "search": search.to_spec()}
        return cls(name, base, variants=trial_variants(search), kind="sweep", extra_spec=extra, **kw)

    def points(self) -> list[tuple[str, dict[str, Any], str]]:
        """(label, overrides, variant) per run: grid points (or variants) times seeds, in a stable order."""
        items = list(self.variants) or [(_label(p), p) for p in expand(self.grid)] or [("", {})]
        if self.seeds <= 1:
            return [(label, patch, label) for label, patch in items]
        first = int(self.base.get("train.seed", 0))
        return [(f"{label}, seed {seed}" if label else f"seed {seed}", {**patch, "train.seed": seed}, label)
                for label, patch in items for seed in range(first, first + self.seeds)]

    def runs(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(name, flat config, meta) for each run; raises ConfigError on any bad value or size."""
        validate(self)
        cfg = from_flat(self.base)
        out = []
        for label, patch, variant in self.points():
            meta = {"swept": {k: v for k, v in patch.items() if k != "train.seed"}, "label": label,
                    "variant": variant}
            meta.update(trial_meta(self.extra_spec.get("search"), len(out), self.seeds))
            out.append((f"{self.name} [{label}]" if label else self.name, cfg.replace(patch).to_flat(), meta))
        return out


def validate(plan: Plan) -> None:
    """Refuse a plan the scheduler could not honour, naming the bad field and what is allowed."""
    if not 1 <= plan.concurrency <= 64:
        raise ConfigError(f"concurrency {plan.concurrency}: allowed range is 1 to 64")
    if not 1 <= plan.seeds <= 20:
        raise ConfigError(f"seeds {plan.seeds}: allowed range is 1 to 20")
    executors.executor_key({"executor": plan.executor, "address": plan.address})
    for key, values in plan.grid.items():
        if not values:
            raise ConfigError(f"{key}: give at least one value to sweep")
        for value in values:
            coerce(key, value)
    n = len(plan.points())
    if n > MAX_RUNS:
        raise ConfigError(f"{n} runs: at most {MAX_RUNS} per group; sweep fewer values or seeds")


def _label(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in point.items())


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- form helpers -----------------------------------------------------------
def overrides(base: dict[str, Any], form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Validated values that differ from ``base``, and an error per key that failed (with its range)."""
    out, errors = {}, {}
    for key, raw in form.items():
        try:
            value = coerce(key, raw)
        except ConfigError as exc:
            errors[key] = str(exc)
            continue
        if value != base.get(key):
            out[key] = value
    return out, errors


def sweepable_keys() -> list[str]:
    """Keys a sweep may vary: everything but the seed (repeats cover it) and the device."""
    return [k for k in schema() if k not in ("train.seed", "train.device")]


# -- queueing ---------------------------------------------------------------
def submit(store: Store, plan: Plan, start_scheduler: bool = True) -> tuple[int, list[int]]:
    """Create the group and its queued runs, then make sure the shared scheduler is running."""
    runs = plan.runs()
    spec = {"grid": plan.grid, "seeds": plan.seeds, "concurrency": plan.concurrency,
            "executor": plan.executor, "address": plan.address,
            "variants": [{"label": label, "patch": patch} for label, patch in plan.variants], **plan.extra_spec}
    group_id = store.create_group(plan.name, kind=plan.kind, spec=spec, parent_run_id=plan.parent_run_id)
    ids = [store.create_run(name, flat, group_id=group_id, parent_id=plan.parent_run_id, meta=meta)
           for name, flat, meta in runs]
    if start_scheduler:
        from runner.scheduler import ensure_running

        ensure_running(store)
    return group_id, ids


def cancel_group(store: Store, group_id: int) -> list[int]:
    """Cancel every queued or running run of a group; returns the ids cancelled."""
    from runner import launcher

    runs = store.runs(group_id=group_id)
    active = [int(i) for i in runs[runs.status.isin(ACTIVE)].id]  # stalled runs too
    for run_id in active:
        launcher.cancel(store, run_id)
    return active


BASELINE = "baseline (no fix)"


def fix_plan(parent: dict[str, Any], rule: str, severity: str, fixes: list[tuple[str, dict[str, Any]]],
             seeds: int = 1, concurrency: int = 2) -> Plan:
    """The parent run's config with each fix's patch, one variant per fix, in a group linked to the parent.

    With ``seeds > 1`` the parent's own config is repeated over the same seeds ("baseline"),
    so the verdict can weigh the change against the seed-to-seed spread.
    """
    base = base_config(run_config=parent["config"]).to_flat()
    variants = [(text, dict(patch)) for text, patch in fixes]
    if seeds > 1:
        variants.append((BASELINE, {}))
    return Plan(f"fix #{parent['id']}: {rule}", base, seeds=seeds, concurrency=concurrency, kind="fix",
                parent_run_id=int(parent["id"]), variants=tuple(variants),
                extra_spec={"rule": rule, "severity": severity})


def base_config(preset: str | None = None, run_config: dict[str, Any] | None = None) -> RunConfig:
    """The starting point of a form: a preset's config, or a stored run's (unknown keys dropped)."""
    from runner import presets

    if run_config is not None:
        known = schema()
        return RunConfig().replace({k: v for k, v in run_config.items() if k in known})
    return presets.get(preset or "healthy").config()
