"""System signals: sampled at the sink's flush cadence from a clock and host counters, never per step."""

from __future__ import annotations

from unittest import mock

import pytest
import torch

from runner.presets import PRESETS
from runner.sink import MetricSink
from runner.store import Store
from runner.sysmetrics import MB, SystemSampler, rss_mb
from runner.train import train


def test_first_sample_sets_the_reference_and_logs_the_limits():
    sampler = SystemSampler(samples_per_step=32)
    first = sampler.sample(10, now=100.0)
    assert "sys/step_time" not in first and first["sys/ram_total_mb"] > first["sys/rss_mb"] > 0
    later = sampler.sample(20, now=102.0)
    assert later["sys/step_time"] == pytest.approx(0.2)  # 2 s over 10 steps
    assert later["sys/samples_per_sec"] == pytest.approx(160.0)
    assert "sys/ram_total_mb" not in later
    assert "sys/step_time" not in sampler.sample(20, now=103.0)  # no new step: no window to time


def test_rank_suffixes_every_name_and_cuda_counters_are_read_host_side():
    with mock.patch.object(torch.cuda, "memory_allocated", return_value=3 * MB) as alloc, \
            mock.patch.object(torch.cuda, "memory_reserved", return_value=8 * MB), \
            mock.patch.object(torch.cuda, "get_device_properties") as props:
        props.return_value.total_memory = 80 * 1024 * MB
        sampler = SystemSampler(cuda_device=0, rank=1)
        sampler.sample(1, now=0.0)
        out = sampler.sample(5, now=1.0)
    alloc.assert_called_with(0)
    assert out["sys/cuda_alloc_mb@1"] == 3.0 and out["sys/cuda_reserved_mb@1"] == 8.0
    assert out["sys/step_time@1"] == pytest.approx(0.25) and all(k.endswith("@1") for k in out)


def test_rss_is_this_process_in_megabytes():
    assert 1 < rss_mb() < 1024 * 1024


def test_sink_adds_system_rows_only_at_flushes_that_log_triggers(store: Store):
    run_id = store.create_run("r", status="running")
    sink = MetricSink(store, run_id, flush_every=10, flush_seconds=10**9)
    sink.system = SystemSampler(samples_per_step=4)
    for step in range(1, 51):
        sink.log({"train/loss": 1.0 / step, "lr": 0.1}, step=step)  # 2 rows a step: a flush every 5 steps
    sink.flush()
    sink.close()
    steps, times = store.metric_series(run_id, "sys/step_time")
    assert steps.tolist() == [10, 15, 20, 25, 30, 35, 40, 45, 50]  # the first flush (step 5) is the reference
    assert (times > 0).all()
    rss_steps, _ = store.metric_series(run_id, "sys/rss_mb")
    assert rss_steps.tolist() == list(range(5, 51, 5))  # none added by the explicit flush or close
    assert sink.rows_written == sink.rows_logged


def test_training_loop_logs_step_time_throughput_and_memory(store: Store):
    cfg = PRESETS["healthy"].config({"train.epochs": 2, "train.batch_size": 16})
    run_id = store.create_run("r", cfg.to_flat())
    sink = MetricSink(store, run_id, flush_every=64, flush_seconds=10**9)
    try:
        train(cfg, sink)
    finally:
        sink.close()
    steps, step_time = store.metric_series(run_id, "sys/step_time")
    _, throughput = store.metric_series(run_id, "sys/samples_per_sec")
    assert len(steps) >= 3 and (step_time > 0).all()
    assert throughput == pytest.approx(16 / step_time)
    assert len(store.metric_series(run_id, "sys/rss_mb")[1]) == len(steps) + 1
    assert len(store.metric_series(run_id, "sys/cuda_alloc_mb")[1]) == 0  # a CPU run has no CUDA counters


def _no_cuda_call(*_args: object, **_kw: object) -> None:
    raise AssertionError("a CUDA call where CUDA is not in use")


def test_a_script_without_cuda_touches_nothing_cuda(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    for name in ("current_device", "memory_allocated", "memory_reserved", "get_device_properties", "synchronize"):
        monkeypatch.setattr(torch.cuda, name, _no_cuda_call)
    sampler = SystemSampler(follow_cuda=True)
    rows = {**sampler.sample(1, now=0.0), **sampler.sample(3, now=1.0)}
    assert not [name for name in rows if "cuda" in name] and rows["sys/step_time"] == pytest.approx(0.5)


def test_an_api_run_on_cuda_logs_the_allocators_counters_at_flushes_without_a_sync(
        tmp_path, monkeypatch: pytest.MonkeyPatch):
    """CUDA initialised by the script after ``start_run``: the counters of its current device appear from the
    next flush on, read once per flush (host-side), and nothing waits for the device."""
    import traindoc

    in_use = {"cuda": False}
    reads: list[int] = []

    def allocated(device: int) -> int:
        reads.append(device)
        return (100 + len(reads)) * MB  # grows by a MB a flush

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: in_use["cuda"])
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "memory_allocated", allocated)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 512 * MB)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: mock.Mock(total_memory=80 * 1024 * MB))
    monkeypatch.setattr(torch.cuda, "synchronize", _no_cuda_call)
    with traindoc.start_run("cuda", db=tmp_path / "t.db") as run:
        run._inner._sink.flush_every = 10  # noqa: SLF001 - a flush every 10 steps, whatever the default
        for step in range(1, 101):
            if step == 31:
                in_use["cuda"] = True  # the script moved its model to the GPU
            run.log({"train/loss": 1.0 / step}, step=step)
    store = Store(tmp_path / "t.db")
    alloc_steps, alloc = store.metric_series(run.id, "sys/cuda_alloc_mb")
    assert alloc_steps.tolist() == list(range(40, 101, 10))  # one read per flush once CUDA is in use
    assert alloc.tolist() == [101.0 + i for i in range(len(alloc))] and set(reads) == {1}
    assert store.metric_series(run.id, "sys/cuda_reserved_mb")[1].tolist() == [512.0] * len(alloc)
    assert store.metric_series(run.id, "sys/cuda_total_mb")[0].tolist() == [40]  # once, with the first counters
