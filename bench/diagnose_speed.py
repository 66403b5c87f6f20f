"""Time of one diagnosis on a million logged points (the figure the tests no longer assert).

    python bench/diagnose_speed.py [--reps 5]

The run is the tests' own (``tests/diag_curves.million_point_run``: three per-step curves of
330k steps plus epoch-level curves, an overfitting the diagnosis must name). One untimed
warm-up pays imports and first-call allocation; the median of ``--reps`` is printed.
Target: well under a second on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from diagnostics import diagnose  # noqa: E402
from tests.diag_curves import million_point_run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Print the median wall time of ``diagnose`` on the million-point run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (median reported)")
    args = parser.parse_args(argv)
    run = million_point_run()
    findings = diagnose(run)  # warm-up
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        diagnose(run)
        times.append(time.perf_counter() - start)
    rules = sorted({f.rule for f in findings})
    print(f"diagnose on 1,000,000 points: median {statistics.median(times):.3f} s over {args.reps} runs "
          f"(min {min(times):.3f} s); findings: {', '.join(rules)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
