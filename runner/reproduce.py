"""Which runs traindoc can run again, and how a fix is tried on each kind: the honest fix loop.

A fix verdict compares a run with its own re-run under the fix's config patch. That only
means something when traindoc can re-run *that* training: a preset/runner config, or a
registered script with its config. An uploaded log or a logging-API run has no recipe
here: launching traindoc's default model with the patch and comparing it with the user's
run would compare two unrelated models. For those the fix is worded as a code change, and
the user's own re-upload can be tagged as the "after" run, so the verdict compares the
user's before with the user's after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.store import Store
from traindoc.core.statuses import ACTIVE


def why_not_reproducible(store: Store, run: Mapping[str, Any]) -> str | None:
    """None when traindoc can re-run ``run`` with a patch; else one line saying why not."""
    source = run.get("source")
    if source == "runner":
        return None  # its config is the runner's own (keys unknown today are dropped by plan.base_config)
    if source == "script":
        name = run.get("meta", {}).get("script")
        try:
            store.script(name)
        except KeyError:
            return f"its script {name!r} is no longer registered"
        return None
    if source == "upload":
        return "it was uploaded from a log: traindoc has the curves, not the training code"
    return "it was logged by your own code through the logging API, with no registered script to re-run"


def reproducible(store: Store, run: Mapping[str, Any]) -> bool:
    return why_not_reproducible(store, run) is None


def submit_fix(store: Store, run: Mapping[str, Any], rule: str, severity: str,
               fixes: list[tuple[str, dict[str, Any]]], seeds: int = 1) -> int:
    """Queue the run's own config plus each fix's patch (a preset run or a script run); the group id."""
    why = why_not_reproducible(store, run)
    if why is not None:
        raise ValueError(f"run #{run['id']} cannot be re-run: {why}")
    if run["source"] == "script":
        from runner import scripts

        variants = [(text, dict(patch)) for text, patch in fixes]
        if seeds > 1:
            from runner.plan import BASELINE

            variants.append((BASELINE, {}))
        plan = scripts.ScriptPlan(run["meta"]["script"], f"fix #{run['id']}: {rule}", overrides=dict(run["config"]),
                                  variants=tuple(variants), seeds=seeds, kind="fix", parent_run_id=int(run["id"]),
                                  extra_spec={"rule": rule, "severity": severity})
        return scripts.submit(store, plan)[0]
    from runner.plan import fix_plan, submit

    return submit(store, fix_plan(dict(run), rule, severity, fixes, seeds=seeds))[0]


def code_change(fix_text: str, patch: Mapping[str, Any] | None) -> str:
    """A fix worded for the user's own code: what to change, with the config values spelled out."""
    if not patch:
        return fix_text
    values = ", ".join(f"{k} = {v!r}" for k, v in patch.items())
    return f"{fix_text} — in your training code, set {values}; then re-train and upload the new log."


def tag_after(store: Store, before_id: int, after_id: int, rule: str, severity: str, fix_text: str) -> int:
    """Record run ``after_id`` (a re-upload) as the "after" of ``fix_text`` on run ``before_id``; the group id.

    The group is an ordinary fix group, so the page shows the same verdict as for a launched fix,
    computed from the user's own two runs.
    """
    if before_id == after_id:
        raise ValueError("pick the run trained after the change, not the run itself")
    after = store.run(after_id)
    if after["status"] in ACTIVE:
        raise ValueError(f"run #{after_id} is still {after['status']}: tag it when it has ended")
    group_id = store.create_group(f"fix #{before_id}: {rule} (your re-run #{after_id})", kind="fix",
                                  spec={"rule": rule, "severity": severity, "tagged": True,
                                        "variants": [{"label": fix_text, "patch": {}}]},
                                  parent_run_id=before_id)
    store.join_group(after_id, group_id, {"variant": fix_text, "label": fix_text, "tagged_after": before_id})
    return group_id


def launchable_from(runs: Any) -> Any:
    """The finished runs a launch form may start from: the runner's own (a script run is re-launched
    from its registered script, an upload or API run has no config traindoc can train)."""
    return runs[(runs.status == "finished") & (runs.source == "runner")]
