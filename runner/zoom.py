"""Coarse to fine: the next round of a finished search, around its best runs, in a linked group.

The CLI (``python -m runner zoom GROUP``) and the compare page's "Zoom in" both call :func:`plan`:
it proposes new ranges (``runner.search.zoom_space``), takes any the user edited instead, and
builds the next round's plan with the same base config, sampler, seeds, concurrency and pruning.
The new group's spec records ``parent`` (the group zoomed into) and ``round``, so the compare
page can draw the rounds together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from runner import search
from runner.config import ConfigError
from runner.plan import Plan
from runner.scripts import ScriptPlan, parse_value
from runner.store import Store

_ROUND = re.compile(r" · round \d+$")


def proposal(store: Store, group_id: int, top: int = search.ZOOM_TOP,
             widen: float = search.ZOOM_WIDEN) -> tuple[search.Search, dict[str, search.Dist]]:
    """The group's search and the proposed ranges of its next round."""
    group = store.group(group_id)
    spec = group["spec"].get("search")
    if not spec:
        raise ConfigError(f"group {group_id} is not a search (made with --sample): nothing to zoom in on")
    found = search.Search.from_spec(spec)
    monitor, trials = search.history(store, group_id)
    if monitor is None:
        raise ConfigError(f"group {group_id}: no finished run with a score yet: nothing to zoom in on")
    return found, search.zoom_space(found, trials, monitor.higher_is_better, top=top, widen=widen)


def plan(store: Store, group_id: int, top: int = search.ZOOM_TOP, widen: float = search.ZOOM_WIDEN,
         trials: int | None = None, edited: Mapping[str, str] | None = None,
         seed: int | None = None) -> tuple[Any, dict[str, tuple[str, str]]]:
    """The next round's plan (a Plan, or a ScriptPlan for a registered script) and, per key, the
    (old, new) range texts. ``edited`` maps a key to a range the user typed instead of the proposal."""
    old, space = proposal(store, group_id, top, widen)
    group = store.group(group_id)
    runs = store.runs(group_id=group_id, reconcile=False).sort_values("id")
    first = runs.iloc[0]
    config = json.loads(first.config) if isinstance(first.config, str) else dict(first.config)
    script = group["spec"].get("script")
    coerce = _script_coerce(config) if script else _config_coerce()
    for key, text in (edited or {}).items():
        space[key] = search.parse_dist(key, text, coerce)
    new = search.Search(space, trials=trials or old.trials, sampler=old.sampler,
                        seed=old.seed + 1 if seed is None else seed, prune=old.prune, round=old.round + 1,
                        parent=group_id, extra=old.extra)
    name = f"{_ROUND.sub('', group['name'])} · round {new.round}"
    spec = group["spec"]
    seeds, concurrency = int(spec.get("seeds") or 1), int(spec.get("concurrency") or 2)
    base = {k: v for k, v in config.items() if k not in space}
    if seeds > 1:
        base.pop("train.seed", None)
    extra = {"search": new.to_spec()}
    if script:
        next_plan: Any = ScriptPlan(script, name, overrides=base, variants=search.trial_variants(new), seeds=seeds,
                                    concurrency=concurrency, extra_spec=extra)
    else:
        from runner.plan import base_config

        flat = base_config(run_config=config).to_flat()
        if seeds > 1:
            flat["train.seed"] = min(int(r.get("train.seed", 0)) for r in _configs(runs))
        next_plan = Plan(name, flat, variants=search.trial_variants(new), seeds=seeds, concurrency=concurrency,
                         executor=spec.get("executor") or "local", address=spec.get("address"), kind="sweep",
                         extra_spec=extra)
    return next_plan, {k: (old.space[k].text, space[k].text) for k in space}


def rounds(store: Store, group_id: int) -> list[int]:
    """The ids of every round linked to this group (its parents and its children), oldest first."""
    groups = store.groups()
    parent_of = {}
    for row in groups.itertuples():
        try:
            spec = json.loads(row.spec) if isinstance(row.spec, str) else {}
        except ValueError:
            continue
        parent = (spec.get("search") or {}).get("parent") if isinstance(spec, dict) else None
        if parent is not None:
            parent_of[int(row.id)] = int(parent)
    root = group_id
    while root in parent_of:
        root = parent_of[root]
    out, frontier = [root], [root]
    while frontier:
        kids = sorted(g for g, p in parent_of.items() if p in frontier)
        out += kids
        frontier = kids
    return out


def _configs(runs: Any) -> list[dict[str, Any]]:
    return [json.loads(c) if isinstance(c, str) else dict(c) for c in runs.config]


def _config_coerce() -> Any:
    from runner.config import coerce

    return coerce


def _script_coerce(defaults: Mapping[str, Any]) -> Any:
    return lambda key, value: parse_value(defaults, key, str(value))
