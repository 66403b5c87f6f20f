"""The metric sink: buffers per-step metrics and writes them in batches off the training thread.

Why this shape: a per-step ``loss.item()`` forces the host to wait for the GPU, and a
per-step SQLite transaction costs more than a small training step. So ``log`` only
appends (device tensors stay on the device); every ``flush_every`` rows or
``flush_seconds`` the buffered tensors are stacked into one tensor and copied to
pinned host memory asynchronously, with a CUDA event recorded; a writer thread waits
on the event, turns the batch into rows and inserts them in one transaction. The
training thread never synchronises with the device for logging.

System signals ride on the same cadence: when ``system`` is set (a ``SystemSampler``), each
flush that ``log`` triggers adds step time, throughput, RSS and CUDA memory rows at the last
logged step, from a clock and host-side counters (``runner/sysmetrics.py``): no sync. An
explicit ``flush``/``close`` adds none: time spent after the last step is not a step.

A writer that fails (a full disk, a vanished file) keeps draining the queue, so the training
thread never blocks on it: the error is raised at the next ``log``, ``flush`` or ``close``.

With a ``spill`` file (the logging API's default; strict mode has none) no fault of the store
reaches the training thread: rows that cannot be written wait in memory (bounded), then in the
spill file, and are written back in order when the store answers again; a database deleted or
replaced under the run sends everything, including what the old file held, to the spill file,
from which the next open of that database puts them back (``runner.spill``). ``log`` never waits
on the writer then; the first fault is one warning on the training thread.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from runner.spill import SpillFile
from runner.store import HEARTBEAT_SECONDS, DiskFullError, Store, StoreError, StoreGone, is_disk_full
from runner.sysmetrics import SystemSampler

# Frames in these folders (and contextlib's, which runs a with-block's exit) are ours, not the user's.
OUR_FOLDERS = tuple(str(Path(__file__).resolve().parent.parent / name) + "/" for name in ("runner", "traindoc"))
# What a store can throw at a writer: its own errors, SQLite's, the file system's.
STORE_FAULTS = (StoreError, sqlite3.Error, OSError)
# Rows held in memory while the store refuses them, before they go to the spill file (~20 MB).
MAX_PENDING_ROWS = 200_000
# While rows wait, the writer tries the store again this often (seconds).
RETRY_SECONDS = 0.5
# A spilling writer waits this long for a lock per try, so it comes back to its queue soon.
SPILL_BUSY_TIMEOUT_MS = 1000


def short_reason(message: str, db: Any) -> str:
    """A store error without its file name (the line names it once) and without advice for a stopped run."""
    message = message.split(" — ", 1)[0]
    prefix = f"{db}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def user_stacklevel() -> int:
    """The ``warnings.warn`` stack level of the first frame outside traindoc's packages: the user's line."""
    frame, level = sys._getframe(1), 1  # noqa: SLF001 - the standard way to walk the caller's stack
    while frame is not None and (frame.f_code.co_filename.startswith(OUR_FOLDERS)
                                 or frame.f_code.co_filename == contextlib.__file__):
        frame, level = frame.f_back, level + 1
    return level


class StoreFaultWarning(UserWarning):
    """The store could not take a run's rows; training goes on and the rows are kept (once per run)."""


@dataclass
class _Batch:
    """One hand-off to the writer: row keys plus their values (floats and/or a host tensor)."""

    keys: list[tuple[int, float | None, str, float]]  # step, epoch, name, wall time
    floats: list[float | None]  # None where the value comes from `tensor` (a device tensor)
    tensor: torch.Tensor | None  # stacked tensor values, in order of the None slots
    ready: Any  # a torch.cuda.Event, or None when the tensor is already on the host


class MetricSink:
    """Batched, threaded writer of one run's metrics into the store."""

    def __init__(self, store: Store | None, run_id: int | None, flush_every: int = 2048,
                 flush_seconds: float = 1.0, on_cancel: Callable[[], None] | None = None,
                 max_batches: int = 64, spill: SpillFile | None = None) -> None:
        """``on_cancel`` is called when a heartbeat's answer says the run was cancelled. With ``spill``
        the store's faults never reach the caller; ``store=None`` (it could not even be opened) sends
        every row to the spill file."""
        self.store = store
        self.spill = spill
        self.rows_logged = 0
        self.fault: str | None = None  # the first fault of the store, for the one warning
        self._warned = False
        self._gone = store is None  # deleted/replaced (or never opened): nothing more goes into it
        self._pending: collections.deque[list[tuple]] = collections.deque()
        self._pending_rows = 0
        self._replayed = 0  # rows of the spill file this writer already wrote back
        self._streak: dict[str, Any] | None = None  # the fault under way: reason, since, rows held
        self.on_cancel = on_cancel
        self.run_id = run_id
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.progress: float | None = None
        self.system: SystemSampler | None = None  # set by a loop that wants system rows
        self.rows_logged = 0  # rows handed to the writer; rows_written is what the store acknowledged
        self.rows_written = 0
        self.transactions = 0
        self._keys: list[tuple[int, float | None, str, float]] = []
        self._floats: list[float | None] = []
        self._tensors: list[torch.Tensor] = []
        self._last_flush = time.monotonic()
        # Bounded: if the disk cannot keep up, log() waits at a flush (backpressure) instead of
        # buffering without limit; 64 batches of 2048 rows is ~10 MB at most.
        # With a spill file the queue is unbounded: the writer turns a stuck store into memory, then file.
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=0 if spill else max_batches)
        self._error: BaseException | None = None
        loop = self._spill_loop if spill is not None else self._write_loop
        self._writer = threading.Thread(target=loop, name=f"traindoc-sink-{run_id}", daemon=True)
        self._writer.start()

    # -- training thread ---------------------------------------------------
    def log(self, metrics: Mapping[str, Any], step: int, epoch: float | None = None) -> None:
        """Buffer ``metrics`` for ``step``; floats, ints and (device) tensors are accepted."""
        self._raise_if_failed()
        self._warn_once()
        now = time.time()
        step = int(step)
        keys, floats = self._keys, self._floats
        for name, value in metrics.items():
            if value is None:  # "not logged"; a NaN is logged as NaN
                continue
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise ValueError(f"metric {name!r}: expected a scalar, got a tensor of shape "
                                     f"{tuple(value.shape)}")
                if value.is_cpu:  # nothing to wait for: read it now, hold nothing
                    value = value.item()
                else:  # stays on the device until the batched copy in flush()
                    self._tensors.append(value.detach())
                    value = None
            else:
                value = float(value)
            keys.append((step, epoch, name, now))
            floats.append(value)
            self.rows_logged += 1
        if len(self._keys) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            if self.system is not None:
                self._sample_system(step, epoch, now)
            self.flush()

    def _sample_system(self, step: int, epoch: float | None, now: float) -> None:
        """System rows at ``step``, timed by the monotonic clock (the wall clock may jump)."""
        for name, value in self.system.sample(step, time.monotonic()).items():
            self._keys.append((step, epoch, name, now))
            self._floats.append(value)
            self.rows_logged += 1

    def flush(self) -> None:
        """Hand the buffer to the writer thread without waiting for the device."""
        self._last_flush = time.monotonic()
        if not self._keys:
            return
        tensor, ready = None, None
        if self._tensors:
            stacked = torch.stack([t.reshape(()).float() for t in self._tensors])
            if stacked.device.type == "cuda":
                tensor = torch.empty(stacked.shape, dtype=stacked.dtype, pin_memory=True)
                tensor.copy_(stacked, non_blocking=True)
                ready = torch.cuda.Event()
                ready.record()
            else:
                tensor = stacked
        batch = _Batch(self._keys, self._floats, tensor, ready)
        self._keys, self._floats, self._tensors = [], [], []
        self._put(batch)

    def close(self) -> None:
        """Flush everything and wait until it is in the database (or, with a spill file, in the store or the
        file); re-raise a writer error."""
        try:
            self.flush()
        finally:
            self._put(None, check=False)
            self._writer.join()
        self._raise_if_failed()
        self._warn_once()

    @property
    def rows_spilled(self) -> int:
        """Rows in the spill file, not (yet) in the store."""
        return 0 if self.spill is None else self.spill.rows

    def release(self, end: tuple[str, str | None] | None = None) -> None:
        """After close: record the run's ``(status, error)`` in the spill file when the store could not
        take it, then let the file go (removed when it holds nothing)."""
        if self.spill is None:
            return
        try:
            if end is not None:
                self.spill.end(*end)
        except OSError as exc:
            self.fault = self.fault or str(exc)
        if self.spill.rows == 0 and end is None and self.spill.path is not None and not self._gone:
            self.spill.discard()
        else:
            self.spill.close()
        self._warn_once()
        if self._pending_rows:  # neither the store nor any folder took them: the one loss, said out loud
            warnings.warn(StoreFaultWarning(
                f"traindoc: {self._pending_rows:,} rows of run {self.run_id} could be kept nowhere (the store and"
                f" every spill folder refused them: {self.fault}); they are lost"), stacklevel=user_stacklevel())

    def _warn_once(self) -> None:
        """One line, on the training thread: what failed and where the rows are."""
        if self.fault is None or self._warned or self.spill is None:
            return
        self._warned = True
        db = self.spill.db_path
        run = f"run {self.run_id}" if self.run_id is not None else "a run"
        warnings.warn(StoreFaultWarning(
            f"traindoc: {run} cannot write to {db} ({short_reason(self.fault, db)}); training goes on, its rows"
            f" are kept in memory, then in {self.spill.where()}, and go back into the store when it answers"
            " again or at its next open (`python -m runner recover-spill`)"), stacklevel=user_stacklevel())


    def _put(self, item: _Batch | None, check: bool = True) -> None:
        """Hand over, waiting while the writer is busy (backpressure) but never on a dead writer."""
        if self.spill is not None and self._writer.is_alive():  # unbounded: never waits
            self._queue.put_nowait(item)
            return
        while True:
            if check:
                self._raise_if_failed()
            if not self._writer.is_alive():
                if check:  # closed: a batch handed over now would be lost without a word
                    raise RuntimeError(f"metric sink of run {self.run_id} is closed; nothing more can be logged")
                return
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            kind = DiskFullError if is_disk_full(self._error) else RuntimeError
            raise kind(f"metric writer failed: {self._error}") from self._error

    # -- writer thread -----------------------------------------------------
    def _write_loop(self) -> None:
        last_beat = 0.0
        while True:
            try:
                batch = self._queue.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                batch = _Batch([], [], None, None)
            if batch is None:
                try:
                    self._beat()
                except BaseException as exc:  # noqa: BLE001 - reported by close()
                    self._error = exc
                return
            try:
                if batch.keys:
                    self._write(batch)
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    self._beat()
                    last_beat = time.monotonic()
            except BaseException as exc:  # surfaced on the training thread at next log/close
                self._error = exc
                self._drain()
                return

    def _drain(self) -> None:
        """After a failure: take (and drop) batches until close's sentinel, so no put waits forever."""
        while self._queue.get() is not None:
            pass

    def _beat(self) -> None:
        if self.store.heartbeat(self.run_id, self.progress) == "cancelled" and self.on_cancel is not None:
            self.on_cancel()

    def _rows(self, batch: _Batch) -> list[tuple]:
        if batch.ready is not None:
            batch.ready.synchronize()
        values = iter(batch.tensor.tolist() if batch.tensor is not None else ())
        return [
            (self.run_id, step, epoch, name, next(values) if value is None else value, wall)
            for (step, epoch, name, wall), value in zip(batch.keys, batch.floats, strict=True)
        ]

    def _write(self, batch: _Batch) -> None:
        self._store_rows(self._rows(batch))

    def _store_rows(self, rows: list[tuple]) -> None:
        self.store.write_metrics(rows)
        self.rows_written += len(rows)
        self.transactions += 1

    # -- writer thread, with a spill file ---------------------------------------
    def _spill_loop(self) -> None:
        """Like ``_write_loop``, but a fault of the store holds rows back instead of ending the writer."""
        if self.store is not None:
            try:
                self.store.set_thread_busy_timeout(SPILL_BUSY_TIMEOUT_MS)
            except STORE_FAULTS as exc:
                self._on_fault(exc)
        last_beat = 0.0
        while True:
            waiting = bool(self._pending or self.spill.rows) and not self._gone
            try:
                batch = self._queue.get(timeout=RETRY_SECONDS if waiting else HEARTBEAT_SECONDS)
            except queue.Empty:
                batch = _Batch([], [], None, None)
            if batch is not None and batch.keys:
                rows = self._rows(batch)
                self._pending.append(rows)
                self._pending_rows += len(rows)
            self._settle(final=batch is None)
            if batch is None:
                return
            if not self._gone and self.fault_free and time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                with contextlib.suppress(*STORE_FAULTS):  # a missed beat: the next write tells if the store is back
                    self._beat()
                last_beat = time.monotonic()

    @property
    def fault_free(self) -> bool:
        """No fault under way: nothing held back."""
        return self._streak is None

    def _settle(self, final: bool) -> None:
        """Write what is held back, oldest first (the spill file, then memory); on a fault keep it."""
        if self._gone:
            self._spill_pending()
            return
        try:
            if self.spill.rows:
                rows = self.spill.read_rows()
                for start in range(self._replayed, len(rows), MAX_PENDING_ROWS):
                    chunk = rows[start:start + MAX_PENDING_ROWS]
                    self._store_rows([(self.run_id, *row) for row in chunk])
                    self._replayed += len(chunk)
                self.spill.discard()
                self._replayed = 0
            while self._pending:
                self._store_rows(self._pending[0])
                self._pending_rows -= len(self._pending.popleft())
            if self._streak is not None:
                self._note_gap()
        except StoreGone as exc:
            self._on_fault(exc)
            self._gone = True
            self._salvage()
            self._spill_pending()
        except STORE_FAULTS as exc:
            self._on_fault(exc)
            if final or self._pending_rows > MAX_PENDING_ROWS:
                self._spill_pending()

    def _on_fault(self, exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        self.fault = self.fault or text
        if self._streak is None:
            self._streak = {"reason": text, "since": time.time(), "rows": self._pending_rows, "spilled": False}

    def _spill_pending(self) -> None:
        """Memory → spill file (append-only); kept in memory when no folder at all takes the file."""
        try:
            if self._pending and self._streak is not None and not self._streak["spilled"]:
                self.spill.fault(self._streak["reason"])
                self._streak["spilled"] = True
            while self._pending:
                self.spill.write_rows(self._pending[0])
                self._pending_rows -= len(self._pending.popleft())
        except OSError as exc:
            self.fault = self.fault or f"cannot spill: {exc}"

    def _salvage(self) -> None:
        """The file went away under us: what it held of this run goes to the spill file too."""
        if self.store is None or self.run_id is None:
            return
        _run, rows = self.store.salvage(self.run_id)
        if rows:
            self._pending.appendleft(list(rows))
            self._pending_rows += len(rows)
            self.rows_written -= len(rows)  # no longer stored anywhere that still exists

    def _note_gap(self) -> None:
        """The store answers again: the run's meta says when it did not, why, and how many rows waited."""
        streak, self._streak = self._streak, None
        gap = {**streak, "until": time.time()}
        try:
            gaps = list(self.store.run(self.run_id)["meta"].get("store_gaps") or [])
            self.store.update_meta(self.run_id, store_gaps=[*gaps, gap])
        except (*STORE_FAULTS, KeyError):
            pass  # the note is best effort; the rows are what matters
