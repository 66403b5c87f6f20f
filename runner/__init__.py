"""traindoc's runner: trains or ingests runs and owns the SQLite store."""

from runner.api import Run, start_run
from runner.store import Store

__all__ = ["Run", "Store", "start_run"]
