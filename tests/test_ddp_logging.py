"""Under ``torchrun --nproc_per_node 2`` (gloo, CPU) a job is one run, whatever the number of ranks.

One launch, two phases. Before the process group exists the ranks find rank 0's run by the job's
key (torchrun's ``TORCHELASTIC_RUN_ID``); after ``init_process_group`` rank 0 hands the id over
with a broadcast. In the second phase both ranks open a fresh store at the same instant (released
by a barrier: issue 25, where 3 of 16 jobs died at the open) and log every step of a tiny DDP
model. Every round: exactly one run, ``finished``, both ranks registered; rank 0's rows are the
run's; with ``all_ranks=True`` rank 1's loss is there too as ``train/loss@1``. Strict mode: a
failed open would raise and end the job, not hide in a warning.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.ddp import torchrun

pytestmark = pytest.mark.slow  # a torchrun launch: two torch start-ups

RANKS = 2
KEY_ROUNDS = 2  # rounds before the process group: the id goes through the job key
GROUP_ROUNDS = 4  # fresh stores opened by both ranks at once, the id broadcast
STEPS = 30

SCRIPT = f"""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import traindoc

out = Path(sys.argv[1])
for round_ in range({KEY_ROUNDS}):  # no process group yet
    with traindoc.start_run("ddp-key", db=out / f"key{{round_}}.db", strict=True) as run:
        for step in range({STEPS}):
            run.log({{"train/loss": 1.0 / (step + 1)}}, step=step, all_ranks=round_ % 2 == 1)
dist.init_process_group("gloo")
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(64, 8), torch.randn(64, 1)
for round_ in range({GROUP_ROUNDS}):
    dist.barrier()  # both ranks open the new store at the same instant
    with traindoc.start_run("ddp", db=out / f"group{{round_}}.db", strict=True) as run:
        for step in range({STEPS}):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()  # the gradient all-reduce: a rank that died would hang or break it
            opt.step()
            run.log({{"train/loss": loss}}, step=step, all_ranks=round_ % 2 == 1)
dist.destroy_process_group()
"""


def _read(db: Path) -> tuple[list[tuple], dict[str, int]]:
    conn = sqlite3.connect(db)
    try:
        runs = conn.execute("SELECT status, meta, job_key FROM runs").fetchall()
        # the training rows; system rows (sys/…) ride on the sink's flushes and their count is the clock's
        counts = dict(conn.execute("SELECT name, COUNT(*) FROM metrics WHERE name NOT LIKE 'sys/%' "
                                   "GROUP BY name").fetchall())
    finally:
        conn.close()
    return runs, counts


def test_a_torchrun_job_is_one_finished_run_with_rank_zero_rows(tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT)
    torchrun(script, RANKS)
    dbs = [f"key{r}.db" for r in range(KEY_ROUNDS)] + [f"group{r}.db" for r in range(GROUP_ROUNDS)]
    for index, name in enumerate(dbs):
        runs, counts = _read(tmp_path / name)
        assert len(runs) == 1, (name, runs)  # one run per job, never one per rank
        status, meta, key = runs[0]
        meta = json.loads(meta)
        assert status == "finished", (name, runs)
        assert meta["world_size"] == RANKS and len(meta["hosts"]) == 1
        assert {r: m["status"] for r, m in meta["ranks"].items()} == {"0": "finished", "1": "finished"}
        assert key.startswith("torchelastic:")  # torchrun --standalone's rendezvous id
        all_ranks = (index if name.startswith("key") else index - KEY_ROUNDS) % 2 == 1
        assert counts == ({"train/loss": STEPS, "train/loss@1": STEPS} if all_ranks else {"train/loss": STEPS})
