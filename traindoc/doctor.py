"""``traindoc.diagnose``: findings for a log file, a folder of logs, a stored run or a ``RunData``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from diagnostics import Finding, RunData
from diagnostics import diagnose as _diagnose


def load(path: str | os.PathLike) -> list[RunData]:
    """Every run in a log file, folder, zip or traindoc database (the importers detect the format).

    Raises ``ValueError`` with one line naming the file and the problem.
    """
    from diagnostics.cli import InputError, load_all

    try:
        return load_all([str(path)], None, [])
    except InputError as exc:
        raise ValueError(str(exc)) from None


def diagnose(source: RunData | str | os.PathLike, run_id: int | None = None, **params: Any) -> list[Finding]:
    """Findings (most severe first) for one run.

    ``source`` is a ``RunData``, a log file or folder holding one run, or a traindoc database
    with ``run_id``. A path that holds several runs is refused: use :func:`load` and diagnose each.
    ``params`` override rule thresholds by rule id, e.g. ``overfitting={"patience": 5}``.
    """
    if isinstance(source, RunData):
        run = source
    elif run_id is not None:
        from runner.store import Store
        from traindoc.handoff import load_run

        run = load_run(Store(source), int(run_id))
    else:
        runs = load(Path(source))
        if len(runs) != 1:
            raise ValueError(f"{source}: holds {len(runs)} runs; use traindoc.load() and diagnose each")
        run = runs[0]
    return _diagnose(run, params=params or None)
