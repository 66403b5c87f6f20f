"""Which process of a many-process job this is, and the job's key: one run per job, not per rank.

Why: under ``torchrun`` or ``srun`` every rank runs the same script, so every rank called
``start_run`` and each made its own run with the same steps. Here a rank reads the launcher's
environment (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, else SLURM's ``SLURM_PROCID``/
``SLURM_NTASKS``/``SLURM_LOCALID``); rank 0 creates the run and the others attach to it.

How the others learn the run id without a race:

- when ``torch.distributed`` is initialised, through the process group (rank 0 creates, then
  ``broadcast_object_list``): ``start_run`` is then a collective, called on every rank;
- else by the job's key, stored on the run (``runs.job_key``, a unique index): rank 0 creates the
  run with it, the others wait a bounded time for the run holding it. The key is what every
  rank of one job sees alike and the next job does not:

  1. ``TORCHELASTIC_RUN_ID`` (torchrun's rendezvous id: a fresh uuid under ``--standalone`` and
     single-node runs, the user's ``--rdzv-id`` otherwise; torchrun's default ``"none"`` is no id),
  2. ``SLURM_JOB_ID`` + ``SLURM_STEP_ID`` (one ``srun`` step),
  3. ``MASTER_ADDR:MASTER_PORT`` (the rendezvous every rank dials), plus the launcher's pid when
     all ranks are on this node (``LOCAL_WORLD_SIZE == WORLD_SIZE``: they share one parent) —
     the port alone can be reused by a later job.

  torchrun's ``TORCHELASTIC_RESTART_COUNT`` is added to the first and third: a restarted
  worker group is a new attempt, and gets a new run. A later job that reuses a key (the same
  ``--rdzv-id``) takes the key over from the older run, which keeps its rows.

Standard library only: torch is asked only when the caller already loaded ``torch.distributed``.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# torchrun's default rendezvous id: not an id of this job
NO_RUN_ID = "none"


@dataclass(frozen=True)
class Ranks:
    """This process's place in its job; ``world_size == 1`` for an ordinary script."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launcher: str = ""  # "torchrun" (or any launcher setting RANK/WORLD_SIZE), "slurm", "" alone

    @property
    def many(self) -> bool:
        """More than one process logs this job."""
        return self.world_size > 1

    @property
    def is_zero(self) -> bool:
        return self.rank == 0


def _int(env: Mapping[str, str], key: str) -> int | None:
    try:
        return int(env[key])
    except (KeyError, ValueError):
        return None


def from_env(env: Mapping[str, str] | None = None) -> Ranks:
    """The launcher's view of this process: torchrun-style variables first, then SLURM's, else alone.

    A rank outside ``0..world_size-1`` (a broken environment) is read as a lone process rather
    than guessed at."""
    env = os.environ if env is None else env
    for launcher, (rank_key, size_key, local_key) in (("torchrun", ("RANK", "WORLD_SIZE", "LOCAL_RANK")),
                                                      ("slurm", ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"))):
        rank, size = _int(env, rank_key), _int(env, size_key)
        if rank is None or size is None:
            continue
        if size < 1 or not 0 <= rank < size:
            return Ranks()
        local = _int(env, local_key)
        return Ranks(rank, size, rank if local is None else local, launcher)
    return Ranks()


def job_key(env: Mapping[str, str] | None = None, parent_pid: int | None = None) -> str | None:
    """The key every rank of this job computes alike (see the module), or None when there is none."""
    env = os.environ if env is None else env
    attempt = env.get("TORCHELASTIC_RESTART_COUNT", "")
    suffix = f"#{attempt}" if attempt not in ("", "0") else ""
    run_id = env.get("TORCHELASTIC_RUN_ID", "").strip()
    if run_id and run_id != NO_RUN_ID:
        return f"torchelastic:{run_id}{suffix}"
    if env.get("SLURM_JOB_ID"):
        return f"slurm:{env['SLURM_JOB_ID']}.{env.get('SLURM_STEP_ID', '')}"
    if env.get("MASTER_ADDR") and env.get("MASTER_PORT"):
        key = f"master:{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
        local, world = _int(env, "LOCAL_WORLD_SIZE"), _int(env, "WORLD_SIZE")
        if local is not None and local == world:  # one node: the ranks share their launcher
            key += f"/{os.getppid() if parent_pid is None else parent_pid}"
        return key + suffix
    return None


def process_group() -> Any:
    """``torch.distributed`` when the caller initialised a process group, else None (torch is not loaded here)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def share(value: Any, dist: Any) -> Any:
    """Rank 0's ``value`` on every rank (a collective: every rank must call it)."""
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def describe(ranks: Ranks) -> dict[str, Any]:
    """This rank's entry in the run's meta: where it runs."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "local_rank": ranks.local_rank}
