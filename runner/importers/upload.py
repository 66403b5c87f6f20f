"""What the upload page does with a dropped file, in one call each: import it, or tag runs as a sweep.

Every failure becomes a message (file name first, line when known) instead of an
exception, so the page shows an ``st.error`` and never a traceback. A file whose bytes were
imported before is not imported again (issue 20): its content hash is kept in each run's meta
(``upload_sha256``) and the runs it made are offered instead of a copy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.importers.base import ImportFailed, Limits
from runner.importers.registry import read_upload
from runner.importers.save import remap, save
from runner.store import Store, StoreError

Progress = Callable[[float, str], None]
# An upload is read in the dashboard's memory whole; past this it is refused between steps (reading a
# member, writing a chunk) and the database is left as it was.
MAX_UPLOAD_SECONDS = float(os.environ.get("TRAINDOC_MAX_UPLOAD_SECONDS", "300"))


def upload_limits(limits: Limits | None = None) -> Limits:
    """An upload's zip may inflate, in total, to what one uploaded file may be: not to the folder limit.

    Why: 8 MB of zip holding 5 x 199 MiB members passed every per-member check and took 6.8 GB.
    """
    limits = limits or Limits()
    return dataclasses.replace(limits, max_total_bytes=min(limits.max_total_bytes, limits.max_file_bytes))


@dataclass(frozen=True)
class Outcome:
    """What became of one uploaded file: the runs it made (ids, names) and notes, or the error."""

    file: str
    run_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    existing: bool = False  # run_ids are the runs an earlier upload of the same bytes made: nothing new


HASH_KEY = "upload_sha256"  # the run meta key holding the uploaded file's content hash


def content_hash(data: bytes) -> str:
    """The SHA-256 of an uploaded file's bytes: the same file under any name is the same upload."""
    return hashlib.sha256(data).hexdigest()


def imported_before(store: Store, digest: str) -> list[int]:
    """Ids of the runs an earlier upload with this content hash made (oldest first); empty when none."""
    runs = store.runs(reconcile=False)
    found = []
    for run_id, meta in zip(runs["id"], runs["meta"].fillna(""), strict=True):
        if digest in meta and json.loads(meta).get(HASH_KEY) == digest:  # the text test skips most parses
            found.append(int(run_id))
    return sorted(found)


def import_upload(store: Store, name: str, data: bytes, progress: Progress | None = None,
                  limits: Limits | None = None, again: bool = False) -> Outcome:
    """Read, then write in one transaction: a file that fails leaves the database as it was.

    Bounded: a zip's members together inflate to at most one upload's size, and the whole import
    to ``MAX_UPLOAD_SECONDS``. The same bytes uploaded again return the runs they made the first
    time (``Outcome.existing``), unless ``again`` asks for a second copy.
    """
    digest = content_hash(data)
    deadline = time.monotonic() + MAX_UPLOAD_SECONDS

    def tell(fraction: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise ImportFailed(name, f"took over {MAX_UPLOAD_SECONDS:.0f} s and was stopped (nothing saved); "
                                     "read a file this big from the command line: `python -m diagnostics PATH`")
        if progress is not None:
            progress(fraction, what)

    try:
        earlier = [] if again else imported_before(store, digest)
        if earlier:
            ids = ", ".join(f"#{i}" for i in earlier)
            return Outcome(name, run_ids=earlier, existing=True,
                           notes=[f"{name}: the same file was imported before (run {ids}); showing "
                                  f"{'it' if len(earlier) == 1 else 'them'} instead of importing a copy"])
        runs = read_upload(name, data, upload_limits(limits), stream=True,
                           progress=lambda f, what: tell(0.3 * f, f"reading {what}"))
        runs = [dataclasses.replace(run, meta={**run.meta, HASH_KEY: digest}) for run in runs]
        ids = save(store, runs, progress=lambda done, total: tell(0.3 + 0.7 * done / max(total, 1),
                                                                   f"writing {done:,} of {total:,} points"))
    except ImportFailed as exc:
        return Outcome(name, error=str(exc))
    except (StoreError, OSError, MemoryError) as exc:
        return Outcome(name, error=f"{name}: could not be saved ({type(exc).__name__}: {exc})")
    except Exception as exc:  # noqa: BLE001 - an unforeseen input: a message, never a traceback
        return Outcome(name, error=f"{name}: could not be read ({type(exc).__name__}: {exc})")
    notes = [f"{run.name}: {note}" for run in runs for note in run.warnings]
    return Outcome(name, run_ids=ids, notes=notes)


def correct_mapping(store: Store, run_id: int, corrected: Mapping[str, str]) -> str | None:
    """Apply an edited mapping; the error message when it cannot be applied (e.g. a name used twice)."""
    try:
        remap(store, run_id, {o: n for o, n in corrected.items() if isinstance(n, str) and n.strip()})
    except (ValueError, StoreError) as exc:
        return str(exc)
    return None


def parse_value(text: Any) -> Any:
    """A tag typed in a table cell: a number when it reads as one (``1e-8``), else the text."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text.strip())
    except ValueError:
        return text.strip()


def tag_as_sweep(store: Store, name: str, key: str, values: Mapping[int, Any]) -> int:
    """Group uploaded runs like a sweep over ``key`` (each run's value goes into its config)."""
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise ValueError(f"hyper-parameter {key!r}: use a dotted key without spaces, e.g. optim.eps")
    parsed = {run_id: parse_value(v) for run_id, v in values.items() if str(v).strip() not in ("", "None", "nan")}
    if len(parsed) < 2:
        raise ValueError("give a value to at least two runs to compare them")
    grid = {key: sorted({json.dumps(v) for v in parsed.values()})}
    group = store.create_group(name, kind="sweep", spec={"grid": {key: [json.loads(v) for v in grid[key]]},
                                                          "source": "upload"})
    store.tag_runs(group, {run_id: {key: value} for run_id, value in parsed.items()})
    return group
