"""What a run may be stopped on by the live doctor, and what a launched run asked for.

Plain data and validation, so the runner, the CLI and the pages can check a request without
loading the diagnostics (the doctor itself is ``traindoc.live_doctor``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runner.store import Store

# What can stop a run: the rules that mean "the rest of this run is wasted".
STOPPABLE = ("divergence", "exploding_gradients", "negative_loss")


def check_stop_on(stop_on: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validated rule ids (a single id is accepted as a string); refuses a rule that cannot stop a run."""
    rules = (stop_on,) if isinstance(stop_on, str) else tuple(stop_on or ())
    bad = [r for r in rules if r not in STOPPABLE]
    if bad:
        raise ValueError(f"stop_on {bad}: a run can be stopped on {', '.join(STOPPABLE)}")
    return rules


def requested(store: Store, run: dict[str, Any]) -> tuple[str, ...]:
    """What a launched run asked to be stopped on: its meta, else its group's spec (the launch form's toggle)."""
    stop_on = run["meta"].get("stop_on")
    if not stop_on and run.get("group_id") is not None:
        stop_on = store.group(int(run["group_id"]))["spec"].get("stop_on")
    return check_stop_on(stop_on)
