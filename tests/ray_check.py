"""The Ray executor on a local Ray instance (one CPU): not collected by default, since Ray is an
optional extra. Run it after `pip install -r requirements-ray.txt`:

    python -m pytest -q tests/ray_check.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from runner import plan
from runner.presets import PRESETS
from runner.store import ACTIVE, Store

os.environ.setdefault("TRAINDOC_RAY_CPUS", "1")
os.environ.setdefault("TRAINDOC_SCHEDULER_IDLE", "0.5")


def test_sweep_runs_as_ray_tasks_and_metrics_reach_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "ray.db")
    base = PRESETS["adam_eps_small"].config({"train.epochs": 2}).to_flat()
    group_id, ids = plan.submit(store, plan.Plan("eps", base, {"optim.eps": [0.1, 1e-8]}, executor="ray"))
    deadline = time.time() + 240
    while store.runs(group_id=group_id).status.isin(ACTIVE).any():
        assert time.time() < deadline, store.runs(group_id=group_id)[["id", "status", "error"]]
        time.sleep(0.5)
    for run_id in ids:
        run = store.run(run_id)
        assert run["status"] == "finished", run["error"]
        assert run["meta"]["executor"] == "ray" and run["meta"]["ray_worker_pid"] != run["meta"]["scheduler_pid"]
        assert store.metric_series(run_id, "val/auc")[0].size == 2  # written by the actor, batched
        assert run["progress"] == 1.0
