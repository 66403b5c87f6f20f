"""Import speed: a TensorBoard file of 1,000,000 scalars, traindoc vs tbparse vs EventAccumulator; CSV rows/s.

    python bench/import_speed.py [--scalars 1000000] [--quick]

The event file is written once per run with TensorBoard's own protobuf classes (valid
CRCs, computed with numpy so writing takes seconds, not the minute SummaryWriter needs),
3 tags like a training log: ``train/loss`` every step, ``lr`` every 10, ``val/loss``
every 100. Every reader reads the same file in the same process; the scalar counts are
checked equal. Target (issue 6): >= 10x the official readers.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner.importers import read_path, save  # noqa: E402
from runner.importers.crc32c import TABLE as CRC_TABLE  # noqa: E402
from runner.importers.tbevents import decode  # noqa: E402
from runner.store import Store  # noqa: E402


def masked_crc32c_many(rows: np.ndarray) -> np.ndarray:
    """CRC32C of each row of an (n, L) byte matrix at once (TFRecord's masked form)."""
    crc = np.full(len(rows), 0xFFFFFFFF, dtype=np.uint32)
    for j in range(rows.shape[1]):
        crc = CRC_TABLE[(crc ^ rows[:, j]) & 0xFF] ^ (crc >> np.uint32(8))
    crc ^= np.uint32(0xFFFFFFFF)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)


def write_events(path: Path, n_scalars: int) -> int:
    """An event file of ``n_scalars`` scalar summaries, framed as TFRecords; returns the count."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    rng = np.random.default_rng(0)
    payloads = [Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()]
    step = 0
    while len(payloads) - 1 < n_scalars:
        step += 1
        tags = ["train/loss"] + (["lr"] if step % 10 == 0 else []) + (["val/loss"] if step % 100 == 0 else [])
        for tag in tags:
            value = float(1 / step + rng.normal() * 0.01)
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
            payloads.append(Event(wall_time=1.7e9 + step, step=step, summary=summary).SerializeToString())
    payloads = payloads[: n_scalars + 1]
    path.write_bytes(tfrecords(payloads))
    return n_scalars


def tfrecords(payloads: list[bytes]) -> bytes:
    """Serialized records framed as TensorBoard writes them (length, masked CRC32C of the length, data,
    masked CRC32C of the data), the checksums computed a block of equal-length records at a time."""
    lengths = np.array([len(p) for p in payloads], dtype=np.uint64)
    headers = lengths.view(np.uint8).reshape(-1, 8)
    header_crc = masked_crc32c_many(headers)
    data_crc = np.empty(len(payloads), dtype=np.uint32)
    for length in np.unique(lengths):
        idx = np.flatnonzero(lengths == length)
        block = np.frombuffer(b"".join(payloads[i] for i in idx), dtype=np.uint8).reshape(len(idx), int(length))
        data_crc[idx] = masked_crc32c_many(block)
    out = bytearray()
    for i, payload in enumerate(payloads):
        out += headers[i].tobytes() + header_crc[i].tobytes() + payload + data_crc[i].tobytes()
    return bytes(out)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def ours_full(path: Path) -> int:
    (run,) = read_path(path)
    return run.rows


def ours_decode(path: Path) -> int:
    return len(decode(path.read_bytes()).concat()["step"])


def tbparse(path: Path) -> int:
    from tbparse import SummaryReader

    return len(SummaryReader(str(path)).scalars)


def accumulator(path: Path) -> int:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    return sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])


def write_csv(path: Path, rows: int) -> int:
    steps = np.arange(1, rows + 1)
    frame = pd.DataFrame({"step": steps, "loss": 1 / steps, "acc": 1 - 1 / steps, "lr": 1e-3,
                          "grad_norm": np.sqrt(steps) % 7})
    frame.to_csv(path, index=False)
    return rows * 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scalars", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100,000 scalars (a smoke run)")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.scalars
    folder = Path(tempfile.mkdtemp(prefix="import-speed-"))
    events = folder / "events.out.tfevents.0.bench"
    t0 = time.perf_counter()
    write_events(events, n)
    print(f"wrote {n:,} scalars ({events.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s; "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}", flush=True)
    results = {}
    for label, fn in (("traindoc decode", ours_decode), ("traindoc import (tidy run)", ours_full),
                      ("tbparse 0.0.9", tbparse), ("EventAccumulator", accumulator)):
        seconds, count = timed(lambda fn=fn: fn(events))
        assert count == n, f"{label} read {count:,} scalars, expected {n:,}"
        results[label] = seconds
        print(f"  {label:<28} {seconds:7.2f} s", flush=True)
    csv = folder / "metrics.csv"
    points = write_csv(csv, n // 4)
    read_s, runs = timed(lambda: len(read_path(csv)))
    (run,) = read_path(csv)
    store = Store(folder / "bench.db")
    save_s, _ = timed(lambda: len(save(store, [run])))
    ours = results["traindoc import (tidy run)"]
    print()
    print("| reader | seconds | scalars/s | vs traindoc |")
    print("|---|---:|---:|---:|")
    for label, seconds in results.items():
        print(f"| {label} | {seconds:.2f} | {n / seconds:,.0f} | {seconds / ours:.1f}x |")
    print(f"| CSV read ({points:,} points) | {read_s:.2f} | {points / read_s:,.0f} | |")
    print(f"| CSV run into SQLite (one transaction) | {save_s:.2f} | {points / save_s:,.0f} | |")
    slowest_official = min(results["tbparse 0.0.9"], results["EventAccumulator"])
    print(f"\nsummary: TensorBoard import of {n:,} scalars {ours:.2f} s = {slowest_official / ours:.0f}x faster "
          f"than the fastest official reader ({slowest_official:.1f} s); CSV {points / read_s:,.0f} points/s read, "
          f"{points / save_s:,.0f} points/s stored")


if __name__ == "__main__":
    main()
