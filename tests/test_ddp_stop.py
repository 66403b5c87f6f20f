"""Under ``torchrun --nproc_per_node 2`` (gloo, CPU) a stop reaches every rank, and the job ends cleanly.

One launch, two DDP jobs in a row (each a ``traindoc.start_run`` block over a tiny model whose
step all-reduces its gradients, so a rank that left one step early would leave the other hanging):

1. the live doctor on rank 0 stops the run (``stop_on=("divergence",)``, the logged loss turns
   NaN at ``ONSET``);
2. a user cancels it with ``python -m runner cancel`` (run by rank 0's script mid-training, as a
   user at a terminal would).

Each rank writes the last step it logged. Done means: torchrun exits 0 (no rank hung, none
killed), both ranks left after the same step (the run's ``stop_step``), the run ends ``stopped``
with the doctor's reason and ``cancelled`` by the user, and every rank's exit mark says it
stopped.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.ddp import torchrun

pytestmark = pytest.mark.slow  # a torchrun launch: two torch start-ups

RANKS = 2
ONSET = 40  # the step where the logged loss turns NaN (the doctor's case) or the user cancels
NO_STOP = 200_000  # a job that trains this far never saw its stop

SCRIPT = f"""
import json
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import traindoc

out = Path(sys.argv[1])
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(16, 4), torch.randn(16, 1)
last = {{}}
for case in ("doctor", "cancel"):
    db = out / f"{{case}}.db"
    with traindoc.start_run(case, db=db, stop_on=("divergence",) if case == "doctor" else ()) as run:
        for step in range({NO_STOP}):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()  # the gradient all-reduce: both ranks must take every step
            opt.step()
            value = float("nan") if case == "doctor" and step >= {ONSET} else loss
            run.log({{"train/loss": value}}, step=step, all_ranks=True)
            last[case] = step
            if case == "cancel" and rank == 0 and step == {ONSET}:
                subprocess.run([sys.executable, "-m", "runner", "--db", str(db), "cancel", str(run.id)], check=True)
(out / f"rank{{rank}}.json").write_text(json.dumps(last))
dist.destroy_process_group()
"""


def test_a_stop_takes_every_torchrun_rank_out_after_the_same_step(tmp_path: Path) -> None:
    script = tmp_path / "stop.py"
    script.write_text(SCRIPT)
    torchrun(script, RANKS, env={"TRAINDOC_RANK_WAIT": "120"}, timeout=400)
    last = {r: json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(RANKS)}
    for case, status, error in (("doctor", "stopped", "stopped by the doctor: divergence"),
                                ("cancel", "cancelled", "cancelled by user")):
        conn = sqlite3.connect(tmp_path / f"{case}.db")
        try:
            runs = conn.execute("SELECT status, error, meta FROM runs").fetchall()
        finally:
            conn.close()
        assert len(runs) == 1, (case, runs)
        run_status, run_error, meta = runs[0]
        meta = json.loads(meta)
        assert run_status == status and run_error.startswith(error), (case, runs)
        assert ONSET <= meta["stop_step"] < NO_STOP - 1
        # both ranks logged the stop step and left right after it: neither hung in the next all-reduce
        assert last[0][case] == last[1][case] == meta["stop_step"], (case, last, meta["stop_step"])
        assert {r: m["status"] for r, m in meta["ranks"].items()} == {"0": "stopped", "1": "stopped"}, case
