"""Launch a test's script as a multi-process job (torchrun, or a launcher that forks its own ranks).

One home for what the DDP tests share: the repository on ``PYTHONPATH`` (the ranks import
traindoc from this checkout), one thread per rank (two ranks on a two-core machine), and the
job's stderr tail in the failure message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
# Two torch start-ups and a gloo rendezvous on a loaded two-core machine: minutes at worst.
LAUNCH_TIMEOUT = 300.0
_STDERR_TAIL = 3000  # characters of a failed job's stderr shown: the traceback, not the warnings


def launch(argv: list[str], env: dict[str, str] | None = None,
           timeout: float = LAUNCH_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` from the repository root and require exit 0."""
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         env={**ENV, **(env or {})})
    assert out.returncode == 0, out.stderr[-_STDERR_TAIL:]
    return out


def torchrun(script: Path, nproc: int, env: dict[str, str] | None = None,
             timeout: float = LAUNCH_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone`` (a free rendezvous port) of ``script`` with its folder as argument."""
    binary = shutil.which("torchrun")
    if binary is None:
        pytest.skip("torchrun is not installed")
    return launch([binary, "--standalone", f"--nproc_per_node={nproc}", str(script), str(script.parent)],
                  env=env, timeout=timeout)
