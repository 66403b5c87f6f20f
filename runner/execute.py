"""Run one queued run to its end in this process: the body of every background runner."""

from __future__ import annotations

import signal
import threading

import torch

from runner import live_doctor
from runner.api import describe_error
from runner.config import ConfigError, from_flat
from runner.sink import MetricSink
from runner.store import Store
from runner.train import ProgressCallback, resolve_device, train


def execute(store: Store, run_id: int, progress: ProgressCallback | None = None) -> str:
    """Train run ``run_id`` from its stored config; returns the final status.

    SIGTERM (a cancel) sets a flag the loop checks each step, so buffered metrics are
    flushed before the process exits and the run ends ``cancelled``.
    """
    cancel = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    run = store.run(run_id)
    if run["status"] not in ("queued", "running"):
        return run["status"]  # cancelled before it started
    if run["source"] == "script":  # a registered user script: it runs as a child (runner/scripts.py)
        from runner.scripts import execute_script

        return execute_script(store, run_id)
    try:
        cfg = from_flat(run["config"])
        device = resolve_device(cfg.train.device)
    except (ConfigError, RuntimeError) as exc:
        store.finish(run_id, "failed", error=f"bad config: {exc}")
        return "failed"
    store.mark_running(run_id, device=_device_label(device))
    sink = MetricSink(store, run_id)
    doctor = live_doctor.for_run(store, run_id)  # the launch form's "stop on a critical finding"
    status, error = "finished", None
    try:
        outcome = train(cfg, sink, should_stop=lambda: cancel.is_set() or bool(doctor and doctor.stop_requested),
                        progress=progress)
        if outcome.stopped_early:
            store.update_meta(run_id, stopped_early=outcome.stopped_early)
        if cancel.is_set():
            status, error = "cancelled", "cancelled by user (SIGTERM)"
    except Exception as exc:
        status, error = "failed", describe_error(exc)
    finally:
        if doctor is not None:
            doctor.close()
        try:
            sink.close()
        except Exception as exc:
            status, error = "failed", f"could not write metrics: {exc}"
    store.finish(run_id, status, error=error)
    return store.run(run_id)["status"]


def _device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"
