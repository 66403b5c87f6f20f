"""Load: 8 runs writing at full speed while the dashboard's reads loop; every row comes back.

Read latency (p50/p99) is a wall-clock figure: bench/load.py prints it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.loadgen import run_load

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop


def test_eight_writers_and_a_reader_lose_nothing_and_reads_stay_bounded(db_path: Path) -> None:
    result = run_load(db_path, writers=8, seconds=2.0)
    print(f"\nload: {result}")
    assert result.errors == []
    assert result.rows_written > 8 * 4 * 100  # each writer logged at least a few hundred steps
    assert result.rows_read == result.rows_written
