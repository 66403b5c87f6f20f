"""The caller's side of the layer rule: read a run (a log file, the store), hand it to diagnostics.

diagnostics judges and reads nothing; the importers and the store read and judge
nothing. Whoever needs both (the CLIs, the pages, the benchmarks) composes them here,
so the composition is written once: a stored or imported run becomes a ``RunData``,
and the runner's config ranges become the bounds the fixes' patches are kept inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diagnostics.rundata import RunData

if TYPE_CHECKING:
    from runner.importers.base import ImportedRun
    from runner.store import Store


def load_run(store: Store, run_id: int, max_points: int | None = None) -> RunData:
    """A stored run as the diagnostics see it (KeyError for an unknown id)."""
    from runner.store.frames import MAX_POINTS_PER_METRIC, run_frame

    got = run_frame(store, run_id, max_points or MAX_POINTS_PER_METRIC)
    return RunData.from_frame(got.frame, got.config, got.meta, mapping=got.mapping, epoch_level=got.epoch_level)


def fix_group(store: Store, group_id: int) -> tuple[dict[str, Any], RunData, list[RunData]]:
    """A fix group as ``diagnostics.verify.group_verdicts`` takes it: the group, its parent, its runs."""
    group = store.group(group_id)
    members = [load_run(store, int(i)) for i in sorted(int(i) for i in store.runs(group_id=group_id).id)]
    return group, load_run(store, int(group["parent_run_id"])), members


def from_imported(run: ImportedRun) -> RunData:
    """A run read from a log file, straight from the importer's tidy rows and name mapping."""
    meta = {**run.meta, "source": run.source, "name": run.name, "format": run.format, "notes": list(run.warnings)}
    return RunData.from_frame(run.frame, run.config, meta, mapping=run.mapping)


def runner_bounds() -> dict[str, tuple[float, float]]:
    """The runner's allowed range per numeric config key, for ``diagnose(run, bounds=...)``."""
    from runner.config import bounds

    return bounds()
