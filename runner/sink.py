"""The metric sink: buffers per-step metrics and writes them in batches off the training thread.

Why this shape: a per-step ``loss.item()`` forces the host to wait for the GPU, and a
per-step SQLite transaction costs more than a small training step. So ``log`` only
appends (device tensors stay on the device); every ``flush_every`` rows or
``flush_seconds`` the buffered tensors are stacked into one tensor and copied to
pinned host memory asynchronously, with a CUDA event recorded; a writer thread waits
on the event, turns the batch into rows and inserts them in one transaction. The
training thread never synchronises with the device for logging.

A writer that fails (a full disk, a vanished file) keeps draining the queue, so the training
thread never blocks on it: the error is raised at the next ``log``, ``flush`` or ``close``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from runner.store import HEARTBEAT_SECONDS, Store
from runner.sysmetrics import SystemSampler


@dataclass
class _Batch:
    """One hand-off to the writer: row keys plus their values (floats and/or a host tensor)."""

    keys: list[tuple[int, float | None, str, float]]  # step, epoch, name, wall time
    floats: list[float | None]  # None where the value comes from `tensor` (a device tensor)
    tensor: torch.Tensor | None  # stacked tensor values, in order of the None slots
    ready: Any  # a torch.cuda.Event, or None when the tensor is already on the host


class MetricSink:
    """Batched, threaded writer of one run's metrics into the store."""

    def __init__(self, store: Store, run_id: int, flush_every: int = 2048,
                 flush_seconds: float = 1.0, on_cancel: Callable[[], None] | None = None,
                 max_batches: int = 64) -> None:
        """``on_cancel`` is called when a heartbeat's answer says the run was cancelled."""
        self.store = store
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
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=max_batches)
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, name=f"traindoc-sink-{run_id}",
                                        daemon=True)
        self._writer.start()

    # -- training thread ---------------------------------------------------
    def log(self, metrics: Mapping[str, Any], step: int, epoch: float | None = None) -> None:
        """Buffer ``metrics`` for ``step``; floats, ints and (device) tensors are accepted."""
        self._raise_if_failed()
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
        if len(self._keys) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            if self.system is not None:
                self._sample_system(step, epoch, now)
            self.flush()

    def _sample_system(self, step: int, epoch: float | None, now: float) -> None:
        """System rows at ``step``, timed by the monotonic clock (the wall clock may jump)."""
        for name, value in self.system.sample(step, time.monotonic()).items():
            self._keys.append((step, epoch, name, now))
            self._floats.append(value)

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
        self.rows_logged += len(self._keys)
        self._keys, self._floats, self._tensors = [], [], []
        self._put(batch)

    def close(self) -> None:
        """Flush everything and wait until it is in the database; re-raise a writer error."""
        try:
            self.flush()
        finally:
            self._put(None, check=False)
            self._writer.join()
        self._raise_if_failed()

    def _put(self, item: _Batch | None, check: bool = True) -> None:
        """Hand over, waiting while the writer is busy (backpressure) but never on a dead writer."""
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
            raise RuntimeError(f"metric writer failed: {self._error}") from self._error

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

    def _write(self, batch: _Batch) -> None:
        if batch.ready is not None:
            batch.ready.synchronize()
        values = iter(batch.tensor.tolist() if batch.tensor is not None else ())
        rows = [
            (self.run_id, step, epoch, name, next(values) if value is None else value, wall)
            for (step, epoch, name, wall), value in zip(batch.keys, batch.floats, strict=True)
        ]
        self.store.write_metrics(rows)
        self.rows_written += len(rows)
        self.transactions += 1
