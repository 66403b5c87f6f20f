"""The metric path: batched transactions, no per-step host sync, heartbeat and progress."""

from __future__ import annotations

import sys
import time
from unittest import mock

import pytest
import torch

from runner.execute import execute
from runner.presets import PRESETS
from runner.sink import MetricSink
from runner.store import Store


def test_many_steps_are_written_in_few_transactions(store: Store) -> None:
    run_id = store.create_run("r", status="running")
    sink = MetricSink(store, run_id, flush_every=1000, flush_seconds=60)
    for step in range(5000):
        sink.log({"train/loss": torch.tensor(float(step)), "lr": 0.1}, step=step)
    sink.close()
    assert sink.rows_written == 10_000
    assert sink.transactions == 10  # one per 1000 buffered rows, never one per step
    steps, values = store.metric_series(run_id, "train/loss")
    assert values.tolist() == [float(s) for s in range(5000)]


def test_device_tensors_are_never_read_when_logged(store: Store) -> None:
    """``meta`` tensors have no values: any read on the training thread would raise.

    The sink reads CPU tensors at once (no device to wait for) but must hold any other
    device's tensors until the batched, asynchronous copy.
    """
    run_id = store.create_run("r", status="running")
    sink = MetricSink(store, run_id, flush_every=10**9, flush_seconds=10**9)
    loss = torch.empty((), device="meta")
    for step in range(1000):
        sink.log({"train/loss": loss, "grad_norm": loss, "lr": 0.1}, step=step)
    assert len(sink._tensors) == 2000 and sink.transactions == 0
    sink._keys.clear(), sink._floats.clear(), sink._tensors.clear()
    sink.close()


@pytest.mark.slow
def test_training_loop_never_reads_a_tensor_value_per_step(store: Store) -> None:
    """A per-step ``.item()``/``float(tensor)`` in the loop would force a GPU sync; count them."""
    cfg = PRESETS["healthy"].config({"train.epochs": 2, "train.batch_size": 8})
    run_id = store.create_run("r", cfg.to_flat())
    calls = {"item": 0}
    real_item = torch.Tensor.item

    def counting_item(self: torch.Tensor, depth: int = 1) -> float:
        if sys._getframe(depth).f_code.co_filename.endswith("runner/train.py"):  # the loop itself
            calls["item"] += 1
        return real_item(self)

    def counting_float(self: torch.Tensor) -> float:
        return float(counting_item(self, depth=2))

    with mock.patch.object(torch.Tensor, "item", counting_item), \
            mock.patch.object(torch.Tensor, "__float__", counting_float):
        assert execute(store, run_id) == "finished"
    steps = int(store.run(run_id)["last_step"])
    evaluations = 2
    assert steps == 188
    # each evaluation reads a few dozen values (one sync per evaluation); a step reads none
    assert 0 < calls["item"] <= evaluations * 40


def test_heartbeat_and_progress_reach_the_store(store: Store) -> None:
    run_id = store.create_run("r", status="running")
    before = time.time()  # a beat written by the sink from here on, however busy the machine
    sink = MetricSink(store, run_id)
    sink.progress = 0.5
    sink.log({"x": 1.0}, step=1)
    sink.close()
    run = store.run(run_id)
    assert run["progress"] == 0.5 and run["heartbeat"] >= before


def test_a_failing_writer_surfaces_on_the_training_thread(store: Store) -> None:
    run_id = store.create_run("r", status="running")
    sink = MetricSink(store, run_id, flush_every=1)
    with mock.patch.object(store, "write_metrics", side_effect=RuntimeError("disk full")):
        sink.log({"x": 1.0}, step=1)
        sink._writer.join(timeout=5)
    try:
        sink.log({"x": 2.0}, step=2)
    except RuntimeError as exc:
        assert "disk full" in str(exc)
    else:
        raise AssertionError("the writer's error was swallowed")
