"""Where a queued run executes: the scheduler decides *when*, an executor decides *where*.

The local process pool (one detached ``python -m runner _exec ID`` per run) is the
default. A group's spec may name another executor (``{"executor": "ray", "address":
...}``); it is built on demand, so Ray is only imported by a scheduler that needs it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Protocol

from runner import launcher
from runner.store import Store

if TYPE_CHECKING:
    from runner.lifecycle import WatchFactory

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Starts claimed-or-queued runs somewhere and keeps track of the ones it must babysit."""

    name: str

    def start(self, store: Store, run_id: int) -> bool:
        """Start a queued run; False when it was no longer queued (cancelled, claimed elsewhere)."""

    def poll(self, store: Store) -> None:
        """Housekeeping each scheduler tick: collect results, pass cancellations on."""

    def busy(self) -> bool:
        """True while runs depend on this scheduler process staying alive (e.g. Ray tasks it owns)."""

    def close(self) -> None:
        """Release what the executor holds (a Ray connection)."""


class LocalExecutor:
    """Each run is a detached background process on this machine; it needs nobody once started."""

    name = "local"

    def start(self, store: Store, run_id: int) -> bool:
        try:
            launcher.launch(store, run_id)
        except RuntimeError:
            return False  # cancelled or claimed meanwhile
        return True

    def poll(self, store: Store) -> None:
        _reap_children()

    def busy(self) -> bool:
        return False

    def close(self) -> None:
        _reap_children()


def _reap_children() -> None:
    """Collect exited run processes so a long-lived scheduler does not pile up zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def executor_key(spec: dict[str, Any]) -> tuple[str, str | None]:
    """``(name, address)`` of the executor a group asked for (local when unspecified)."""
    name = spec.get("executor") or "local"
    if name not in EXECUTORS:
        raise ValueError(f"executor {name!r}: allowed values are {', '.join(EXECUTORS)}")
    return name, (spec.get("address") or None) if name == "ray" else None


def build(name: str, address: str | None = None, watch: WatchFactory | None = None) -> Executor:
    """An executor by name; Ray is imported here and only here. ``watch``: the live doctor a Ray run gets
    at the head (a local run's process is watched by its own entry point, ``python -m runner``)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from runner.ray_executor import RayExecutor  # optional extra: requirements-ray.txt

        return RayExecutor(address, watch=watch)
    raise ValueError(f"executor {name!r}: allowed values are {', '.join(EXECUTORS)}")
