"""The one split of labelled runs into a calibration part and a held-out test part.

Every labelled set (the real logs, the generated population) is split by the same seeded
hash of a run's name, so the split is fixed before any tuning, does not depend on the
order files were collected in, and a file never moves between parts when others are added.
Calibration reads only ``calib``; the figures we report are ``test``'s.

A generated population's index stores each run's split when the run is written, and
``bench/calibrate.py`` reads that stored split first: the 3,000-run population calibrated on in
December 2026 was split by an earlier formula of the same seed (sha256 of
``"traindoc-split-v1:" + id`` as a 64-bit fraction below 0.4), and keeping it stored keeps the
runs that tuning read out of its test part. A population generated afresh is split here.
"""

from __future__ import annotations

import hashlib

SEED = "traindoc-split-v1"  # changing it re-draws every split: never do it after tuning started
TEST_PERCENT = 40  # the share held out: "at least a third" with room for rounding on small sets


def split_of(name: str) -> str:
    """``"test"`` or ``"calib"`` for a run or file name (a path is reduced to its last part)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    digest = hashlib.sha256(f"{SEED}:{base}".encode()).hexdigest()
    return "test" if int(digest[:8], 16) % 100 < TEST_PERCENT else "calib"
