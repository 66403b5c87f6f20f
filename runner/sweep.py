"""Sweeps: expand a grid of config values into runs of one group, and start them in turn."""

from __future__ import annotations

import itertools
import time
from typing import Any

from runner import launcher
from runner.config import RunConfig, coerce
from runner.store import Store


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """``["optim.eps=1e-1,1e-8", "optim.lr=0.1,0.01"]`` into validated value lists."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not values.strip():
            raise ValueError(f"{spec!r}: expected key=v1,v2,..., e.g. optim.eps=1e-1,1e-8")
        grid[key.strip()] = [coerce(key.strip(), v.strip()) for v in values.split(",") if v.strip()]
    return grid


def expand(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the cartesian product), in a stable order."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def create_sweep(store: Store, base: RunConfig, grid: dict[str, list[Any]], name: str,
                 concurrency: int = 2, parent_run_id: int | None = None) -> tuple[int, list[int]]:
    """Create a group and one queued run per grid point; returns (group id, run ids)."""
    group_id = store.create_group(name, kind="sweep", parent_run_id=parent_run_id,
                                  spec={"grid": grid, "concurrency": concurrency})
    run_ids = []
    for point in expand(grid):
        label = ", ".join(f"{k}={v}" for k, v in point.items())
        cfg = base.replace(point)
        run_ids.append(store.create_run(f"{name} [{label}]", cfg.to_flat(), group_id=group_id,
                                        parent_id=parent_run_id, meta={"swept": point}))
    return group_id, run_ids


def schedule(store: Store, group_id: int, concurrency: int, poll_seconds: float = 0.5) -> None:
    """Start the group's queued runs, at most ``concurrency`` at a time, until none is left."""
    while True:
        runs = store.runs(group_id=group_id)
        queued = runs[runs.status == "queued"].id.tolist()
        running = int((runs.status == "running").sum())
        if not queued:
            return
        for run_id in sorted(queued)[: max(concurrency - running, 0)]:
            try:
                launcher.launch(store, int(run_id))
            except RuntimeError:
                continue  # cancelled or claimed by another scheduler meanwhile
        time.sleep(poll_seconds)
