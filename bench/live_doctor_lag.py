"""How soon the live doctor stops a diverging run (the figure tests/test_live_doctor.py no longer bounds).

    python bench/live_doctor_lag.py [--reps 3]

A logging-API run (``traindoc.start_run(..., stop_on=("divergence",))``) logs a falling loss
that turns NaN at ``ONSET``, about 2,000 steps a second; the doctor must stop it. Printed per
repetition: the detection lag in steps and in seconds at the measured step rate. Target: about
one sink flush interval (1 s) after the onset.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import traindoc  # noqa: E402
from runner.store import Store  # noqa: E402

ONSET = 1500  # the step from which the loss is NaN
MAX_STEPS = 200_000  # the loop's end if the doctor never stops it
STEP_PAUSE_S = 0.0005  # a training step's worth of time between logs


def one_run(db: Path) -> tuple[int, float]:
    """Lag in steps from the onset to the detection, and the loop's steps per second."""
    last, started = 0, time.monotonic()
    with traindoc.start_run("diverging", db=db, stop_on=("divergence",)) as run:
        for step in range(1, MAX_STEPS):
            run.log({"train/loss": 1.0 / math.sqrt(step) if step < ONSET else float("nan")}, step=step)
            last = step
            time.sleep(STEP_PAUSE_S)
    rate = last / (time.monotonic() - started)
    stopped_by = Store(db).run(run.id)["meta"]["stopped_by"]
    return stopped_by["detected_at_step"] - ONSET, rate


def main(argv: list[str] | None = None) -> int:
    """Print the detection lag of each repetition."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions, each a fresh database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for rep in range(args.reps):
            lag, rate = one_run(Path(folder) / f"lag{rep}.db")
            print(f"run {rep + 1}: detected {lag} steps after the onset = {lag / rate:.2f} s at {rate:.0f} steps/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
