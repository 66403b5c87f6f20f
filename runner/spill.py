"""Spill files: where a run's metric rows go while the store cannot take them, and how they come back.

Why: a logging library must never stop training because its database is locked, full, read-only,
deleted or replaced. The logging API's sink keeps rows it could not write in memory (bounded),
then appends them here; when the store comes back the sink writes them itself, in order. When
the process ends first (or the file it wrote to is gone), the next open of that database
(``Store(...)``) or ``python -m runner recover-spill`` puts them back, into the same run when
it is still there, else into a new run that names where it came from.

A spill file is append-only JSON lines, flushed at each write (a crash loses at most the line
being written): ``{"kind": "run", ...}`` (the run's identity and the database it belongs to),
``{"kind": "rows", "rows": [[step, epoch, name, value, wall_time], ...]}``, ``{"kind": "fault",
"at": ..., "error": ...}``, ``{"kind": "end", "status": ..., "error": ...}``. Its writer holds an
exclusive ``flock`` on it for as long as it writes, so recovery never takes a file still in use.
It lives beside the database (``<db>.spill-<pid>-<time>.jsonl``), or in the user's cache folder
(``$TRAINDOC_SPILL_DIR``, else ``$XDG_CACHE_HOME/traindoc/spill``) when that folder is gone or
read-only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from traindoc.core.statuses import ACTIVE

SPILL_INFIX = ".spill-"
SPILL_SUFFIX = ".jsonl"
# Rows written back per transaction when replaying a spill file.
REPLAY_CHUNK = 20_000
Row = tuple[int, "float | None", str, "float | None", float]  # step, epoch, name, value, wall time


def spill_dir() -> Path:
    """The cache folder for spill files whose database folder cannot take them."""
    explicit = os.environ.get("TRAINDOC_SPILL_DIR")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "traindoc" / "spill"


def _db_key(db_path: Path) -> str:
    """A short, stable tag of a database's absolute path, for naming its files in the cache folder."""
    return hashlib.sha1(str(db_path).encode()).hexdigest()[:12]


class SpillFile:
    """One process's spill file for one run, created on first use."""

    def __init__(self, db_path: str | os.PathLike, header: dict[str, Any]) -> None:
        self.db_path = Path(os.path.abspath(db_path))
        self.header = {"kind": "run", "db": str(self.db_path), "pid": os.getpid(), **header}
        self.path: Path | None = None
        self.rows = 0  # rows in the file that were not written back by this process
        self._fd: int | None = None

    def candidates(self) -> list[Path]:
        """Where the file would go: beside the database, else the cache folder."""
        stamp = f"{os.getpid()}-{time.time_ns()}"
        beside = self.db_path.parent / f"{self.db_path.name}{SPILL_INFIX}{stamp}{SPILL_SUFFIX}"
        cached = spill_dir() / f"{self.db_path.name}-{_db_key(self.db_path)}{SPILL_INFIX}{stamp}{SPILL_SUFFIX}"
        return [beside, cached]

    def where(self) -> str:
        """The file, or where it will be, for the one line the user reads."""
        return str(self.path or self.candidates()[0])

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        errors = []
        for path in self.candidates():
            try:
                self._start(path)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
                continue
            return self._fd
        raise OSError("no place to spill metric rows: " + "; ".join(errors))

    def _start(self, path: Path, content: bytes = b"") -> None:
        """Create ``path``, lock it, and write the header (or ``content``, a file moved here) in full."""
        if path.parent == spill_dir():  # the cache folder may be made; the database's folder never is
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours alone until close: recovery skips a locked file
        self._fd, self.path = fd, path
        try:
            if content:
                self._write_bytes(content)
            else:
                self._write_line(self.header)
        except OSError:
            self.close()
            with contextlib.suppress(OSError):
                path.unlink()
            raise

    def _move_to_cache(self) -> bool:
        """The disk beside the database is full: the file (all of it) moves to the cache folder."""
        old = self.path
        if old is None or old.parent == spill_dir():
            return False
        content = old.read_bytes()
        previous_fd = self._fd
        self._fd = None
        try:
            self._start(self.candidates()[1], content)
        except OSError:
            self._fd, self.path = previous_fd, old
            return False
        os.close(previous_fd)
        with contextlib.suppress(OSError):
            old.unlink()
        return True

    def _write_line(self, record: dict[str, Any]) -> None:
        self._write_bytes((json.dumps(record, default=str) + "\n").encode())

    def _write_bytes(self, data: bytes) -> None:
        """Whole lines or nothing: a write cut short (a full disk) is cut back off the file."""
        fd = self._fd
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(28, "No space left on device (short write)")
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise

    def append(self, record: dict[str, Any]) -> None:
        self._open()
        try:
            self._write_line(record)
        except OSError:
            if not self._move_to_cache():
                raise
            self._write_line(record)

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append metric rows ``(run_id, step, epoch, name, value, wall_time)``; the run id is the header's."""
        if rows:
            self.append({"kind": "rows", "rows": [list(row[1:]) for row in rows]})
            self.rows += len(rows)

    def fault(self, error: str) -> None:
        self.append({"kind": "fault", "at": time.time(), "error": error})

    def end(self, status: str, error: str | None) -> None:
        self.append({"kind": "end", "status": status, "error": error, "at": time.time()})

    def read_rows(self) -> list[Row]:
        """The rows this file holds, in the order they were spilled."""
        if self.path is None:
            return []
        return read_spill(self.path).rows

    def discard(self) -> None:
        """The rows were written back: the file goes."""
        path = self.path
        self.close()
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()
        self.rows = 0

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing releases the flock
        self._fd, self.path = None, None


@dataclass
class Spilled:
    """What a spill file holds, parsed."""

    header: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None


def _records(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:  # a line cut short by a crash: the others are kept
            continue


def read_spill(path: Path | IO[str]) -> Spilled:
    """Parse a spill file (a path, or a file opened for reading)."""
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(open(path, encoding="utf-8")) if isinstance(path, Path) else path
        records = _records(iter(fh))
        header = next(records, None) or {}
        spilled = Spilled(header)
        for record in records:
            kind = record.get("kind")
            if kind == "rows":
                spilled.rows.extend(tuple(row) for row in record["rows"])
            elif kind == "fault":
                spilled.faults.append(record)
            elif kind == "end":
                spilled.end = record
        return spilled


def spill_files(db_path: str | os.PathLike) -> list[Path]:
    """The spill files that belong to a database: beside it, and those in the cache folder naming it."""
    db = Path(os.path.abspath(db_path))
    found = sorted(db.parent.glob(f"{db.name}{SPILL_INFIX}*{SPILL_SUFFIX}")) if db.parent.is_dir() else []
    cache = spill_dir()
    if cache.is_dir():
        found += sorted(cache.glob(f"{db.name}-{_db_key(db)}{SPILL_INFIX}*{SPILL_SUFFIX}"))
    return found


def recover(store: Any) -> list[dict[str, Any]]:
    """Write every finished spill file of ``store``'s database back into it; one summary per file.

    A file still held by a live writer is left alone. The rows go into the run they were logged
    for when it is still in this file (same id, name and creation time), else into a new run
    (the database was deleted or replaced) whose meta says where it came from; either way the
    run's meta ``store_gaps`` records the fault, the steps and the rows.
    """
    done = []
    for path in spill_files(store.path):
        try:
            fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, after the unlink
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is still alive: it will write the rows back itself, or end first
            if os.fstat(fh.fileno()).st_nlink == 0:
                continue  # another process recovered it while we waited
            spilled = read_spill(fh)
            done.append(_put_back(store, path, spilled))
            path.unlink()
    return done


def _put_back(store: Any, path: Path, spilled: Spilled) -> dict[str, Any]:
    header = spilled.header
    run_id, same = _target_run(store, header)
    if not same:
        run_id = store.create_run(str(header.get("name") or "recovered"), header.get("config") or {},
                                  source="api", status="running",
                                  meta={"recovered_from": str(path), "original_run_id": header.get("run_id"),
                                        "original_db": header.get("db")})
    for start in range(0, len(spilled.rows), REPLAY_CHUNK):
        store.write_metrics([(run_id, *row) for row in spilled.rows[start:start + REPLAY_CHUNK]])
    steps = [row[0] for row in spilled.rows]
    reason = spilled.faults[0]["error"] if spilled.faults else "the store could not be written"
    gap = {"reason": reason, "rows": len(spilled.rows), "first_step": min(steps, default=None),
           "last_step": max(steps, default=None), "spill_file": str(path), "recovered_at": time.time()}
    gaps = list(store.run(run_id)["meta"].get("store_gaps") or [])
    store.update_meta(run_id, store_gaps=[*gaps, gap])
    if store.run(run_id)["status"] in ACTIVE:
        end = spilled.end or {"status": "crashed",
                              "error": "the process ended before it recorded the run's end (rows recovered from"
                                       f" {path.name})"}
        store.finish(run_id, end["status"], error=end.get("error"))
    return {"run_id": run_id, "rows": len(spilled.rows), "file": str(path), "same_run": same, "reason": reason}


def _target_run(store: Any, header: dict[str, Any]) -> tuple[int | None, bool]:
    """The run the rows were logged for, when this database still holds it."""
    run_id = header.get("run_id")
    if run_id is None:
        return None, False
    try:
        run = store.run(int(run_id))
    except KeyError:
        return None, False
    created = header.get("created_at")
    same = run["name"] == header.get("name") and created is not None and abs(run["created_at"] - created) < 1e-3
    return (int(run_id), True) if same else (None, False)
