"""traindoc's runner: trains or ingests runs and owns the SQLite store.

Importing the package is cheap: torch loads only with training and the sink, so a CLI
that reads a CSV or lists runs starts fast. ``Store`` resolves on
first use. The logging API is ``traindoc.start_run`` (its lifecycle is ``runner.api.open_run``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.store import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from runner.store import Store

        return Store
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
