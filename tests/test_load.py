"""Load: 8 runs writing at full speed while the dashboard's reads loop; every row comes back."""

from __future__ import annotations

from pathlib import Path

from bench.loadgen import run_load


def test_eight_writers_and_a_reader_lose_nothing_and_reads_stay_bounded(db_path: Path) -> None:
    result = run_load(db_path, writers=8, seconds=2.0)
    print(f"\nload: {result}")
    assert result.errors == []
    assert result.rows_written > 8 * 4 * 100  # each writer logged at least a few hundred steps
    assert result.rows_read == result.rows_written
    assert result.p99_ms < 5000  # bounded: no read waited out a writer's lock (WAL readers never block)
