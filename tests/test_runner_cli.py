"""``python -m runner``: real subprocesses, one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.store import Store

pytestmark = pytest.mark.slow  # each test starts `python -m runner` (a Python start-up and imports)


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runner", *args, "--db", str(db)], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)


def test_presets_lists_every_pathology(db_path: Path) -> None:
    out = _cli("presets", db=db_path).stdout
    assert "softmax_nll" in out and "shows: negative_loss" in out


def test_run_trains_in_the_foreground_and_list_shows_it(db_path: Path) -> None:
    done = _cli("run", "--preset", "healthy", "--set", "train.epochs=2", "--name", "smoke", db=db_path)
    assert done.returncode == 0, done.stderr
    run_id = int(done.stdout.strip())
    assert "100% step 24" in done.stderr  # the progress line
    assert Store(db_path).run(run_id)["config"]["train.epochs"] == 2
    listed = _cli("list", db=db_path).stdout.splitlines()
    assert listed[1].split()[:3] == [str(run_id), "finished", "100%"] and listed[1].endswith("smoke")


def test_bad_value_is_one_line_and_exit_2(db_path: Path) -> None:
    done = _cli("run", "--set", "optim.lr=-3", db=db_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: optim.lr=-3.0: allowed range is 1e-08 to 100"
    assert Store(db_path).runs().empty  # nothing was created


def test_unknown_preset_and_run_are_one_line_errors(db_path: Path) -> None:
    assert _cli("launch", "--preset", "nope", db=db_path).stderr.startswith("error: unknown preset 'nope'")
    done = _cli("cancel", "7", db=db_path)
    assert (done.returncode, done.stderr.strip()) == (2, f"error: no run with id 7 in {db_path}")


def test_empty_list_says_what_to_do(db_path: Path) -> None:
    assert "python -m runner run --preset healthy" in _cli("list", db=db_path).stderr
