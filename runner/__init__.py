"""traindoc's runner: trains or ingests runs and owns the SQLite store.

Importing the package is cheap: torch loads only with training and the sink, so a CLI
that reads a CSV or lists runs starts fast. ``Run``/``start_run``/``Store`` resolve on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.api import Run, start_run
    from runner.store import Store

__all__ = ["Run", "Store", "start_run"]


def __getattr__(name: str) -> Any:
    if name in ("Run", "start_run"):
        from runner import api

        return getattr(api, name)
    if name == "Store":
        from runner.store import Store

        return Store
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
