"""``traindoc.start_run``: the logging API with the run's config and a doctor that can stop it (or alert).

The one public logging API (``traindoc.start_run``, ``traindoc.Run``). Built on ``runner.api.open_run``
(the run's lifecycle): this adds ``run.config`` (the
queued values when traindoc launched the script, else what the script passed), the live
doctor (``stop_on``), and a clean cancel for a launched script (SIGTERM flushes and ends
the run ``cancelled`` instead of killing it mid-batch).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from runner import alerts, api
from runner.scripts import ENV_RUN_ID
from runner.sink import STORE_FAULTS
from runner.stop_on import check_stop_on, requested
from traindoc.live_doctor import DEFAULT_INTERVAL, LiveDoctor


class RunStopped(Exception):
    """Raised by ``run.log`` after the doctor stopped the run; ``start_run`` swallows it."""


class Run:
    """What ``start_run`` yields: ``log``, ``config``, and whether the doctor stopped the run."""

    def __init__(self, inner: api.LeadRun | api.FollowerRun, config: Mapping[str, Any], doctor: LiveDoctor | None,
                 raise_on_stop: bool) -> None:
        self._inner = inner
        self.id = inner.id
        self.store = inner.store
        self.config = MappingProxyType(dict(config))
        self.doctor = doctor
        self._raise_on_stop = raise_on_stop

    @property
    def leads(self) -> bool:
        """This process holds the run: a lone process or rank 0 (another rank only attaches to it)."""
        return isinstance(self._inner, api.LeadRun)

    @property
    def stop_requested(self) -> bool:
        """True once the doctor stopped the run: the loop (or an integration) should leave. In a
        many-process job, once the run was stopped (by the doctor, a cancel, another rank's failure)
        and this rank has logged the step where every rank leaves (``runner.job.JobStop``)."""
        if getattr(self._inner, "stop", None) is not None:
            return self._inner.stop_requested
        return self.doctor is not None and self.doctor.stop_requested

    @property
    def stopped_by(self) -> dict[str, Any] | None:
        if self.doctor is not None and self.doctor.stopped_by is not None:
            return self.doctor.stopped_by
        stop = getattr(self._inner, "stop", None)
        return None if stop is None or stop.reason is None else {"reason": stop.reason, "stop_step": stop.stop_step}

    def log(self, metrics: Mapping[str, Any], step: int, epoch: float | None = None, all_ranks: bool = False) -> None:
        """Buffer metrics (tensors stay tensors until the sink's batch); raises RunStopped once stopped.

        In a many-process job rank 0's metrics are the run's; another rank's ``log`` does nothing
        unless ``all_ranks=True``, which stores its series in the same run as ``name@rank``."""
        if self._raise_on_stop and self.stop_requested:
            raise RunStopped(self.stopped_by)
        self._inner.log(metrics, step=step, epoch=epoch, all_ranks=all_ranks)

    def set_progress(self, fraction: float) -> None:
        self._inner.set_progress(fraction)

    def flush(self) -> None:
        self._inner.flush()


@contextmanager
def start_run(name: str = "run", config: Mapping[str, Any] | None = None, *, db: str | os.PathLike | None = None,
              group_id: int | None = None, stop_on: Iterable[str] | str = (), raise_on_stop: bool = True,
              doctor_interval: float = DEFAULT_INTERVAL, strict: bool | None = None,
              rank_zero_only: bool = False) -> Iterator[Run]:
    """Start (or, inside a script traindoc launched, join) a run; finish or fail it on the way out.

    ``stop_on=("divergence",)`` watches the run and stops it on that critical finding: the run
    ends ``stopped`` with the finding in its meta, the next ``run.log`` raises ``RunStopped`` and
    the block is left quietly (``raise_on_stop=False`` leaves it to you: check
    ``run.stop_requested``). A launched script also inherits the launch form's stop toggle.

    No fault of the store stops the block: it is one warning and the rows are kept (docs/reliability.md,
    "Reliability"); ``strict=True`` (or ``TRAINDOC_STRICT=1``) raises instead.

    Under ``torchrun``/``srun`` (docs/multi-process.md) the job is one run: rank 0 creates it,
    the other ranks attach, and it ends ``finished`` once every rank left the block (``failed``
    when one raised). Call it on every rank (with a process group it is a collective);
    ``rank_zero_only=True`` when only rank 0 ever calls it. The doctor watches from rank 0.
    """
    stop_on = check_stop_on(stop_on)
    launched = bool(os.environ.get(ENV_RUN_ID))
    strict = api.strict_mode(strict)
    doctor: LiveDoctor | None = None
    try:
        with api.open_run(name, config, db=db, group_id=group_id, strict=strict,
                           rank_zero_only=rank_zero_only) as inner:
            stored = {"config": dict(config or {})}
            try:
                if inner.store is not None and inner.id is not None:
                    stored = inner.store.run(inner.id)
                    stop_on = stop_on or requested(inner.store, stored)
                    alert = alerts.enabled(inner.store)  # a webhook is set: every live run is watched
                    leads = isinstance(inner, api.LeadRun)  # rank 0 or a lone process: the one that may stop the run
                    doctor = LiveDoctor(inner.store, inner.id, stop_on, interval=doctor_interval, alert=alert) \
                        if (stop_on or alert) and leads else None
            except STORE_FAULTS:
                if strict:
                    raise  # else: no doctor for this run; its rows are kept all the same
            restore = _cancel_on_sigterm() if launched else None
            try:
                yield Run(inner, stored["config"], doctor, raise_on_stop)
            except RunStopped:
                pass  # the doctor already ended the run `stopped`; what was logged is kept
            finally:
                if doctor is not None:
                    doctor.close()
                if restore is not None:
                    restore()
    finally:
        if doctor is not None:
            doctor.last_look()  # the run has ended and its last rows are stored: alert on what they show


def _cancel_on_sigterm() -> Any:
    """A cancel (SIGTERM from the runner) becomes KeyboardInterrupt: the run flushes and ends cancelled."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt("cancelled by user (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)
