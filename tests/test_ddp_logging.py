"""Under ``torchrun --nproc_per_node 2`` (gloo, CPU) both ranks open one fresh store at the same instant,
log every step of a tiny DDP model, and neither crashes (issue 25: 3 of 16 jobs died at the open).

One launch runs several rounds, each on a new database with the ranks released together by a
barrier, so the test sees many simultaneous opens for the price of one torch start-up. Strict
mode: a failed open would raise and end the job, not hide in a warning. Each rank is its own
run for now (one run per job is another issue's change).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANKS = 2
ROUNDS = 10  # fresh stores opened by both ranks at once, in one launch
STEPS = 30

SCRIPT = f"""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import traindoc

pytestmark = pytest.mark.slow  # torchrun with two ranks

dist.init_process_group("gloo")
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(64, 8), torch.randn(64, 1)
for round_ in range({ROUNDS}):
    dist.barrier()  # both ranks open the new store at the same instant
    with traindoc.start_run("ddp", db=Path(sys.argv[1]) / f"round{{round_}}.db", strict=True) as run:
        for step in range({STEPS}):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()  # the gradient all-reduce: a rank that died would hang or break it
            opt.step()
            run.log({{"train/loss": loss}}, step=step)
dist.destroy_process_group()
"""


def test_two_ddp_ranks_open_fresh_stores_together_and_both_finish(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT)
    out = subprocess.run([torchrun, "--standalone", f"--nproc_per_node={RANKS}", str(script), str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    for round_ in range(ROUNDS):
        conn = sqlite3.connect(tmp_path / f"round{round_}.db")
        try:
            runs = conn.execute("SELECT status FROM runs").fetchall()
            rows = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        finally:
            conn.close()
        assert runs == [("finished",)] * RANKS and rows == RANKS * STEPS
