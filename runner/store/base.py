"""Connections, transactions with bounded retries, migrations, and the errors users see."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from runner.store.schema import MIGRATIONS

DEFAULT_DB = "traindoc.db"
SOURCES = ("runner", "upload", "api", "script")
# A live writer beats every HEARTBEAT_SECONDS; twenty missed beats means it is gone.
HEARTBEAT_SECONDS = 2.0
STALE_AFTER_SECONDS = float(os.environ.get("TRAINDOC_STALE_SECONDS", "40"))
BUSY_TIMEOUT_MS = 30_000

MetricRow = tuple[int, int, "float | None", str, "float | None", float]
# (name, config, meta, rows) of one imported run; rows are MetricRow without the run id
ImportedRunRows = tuple[str, "dict[str, Any]", "dict[str, Any]", Sequence[tuple]]
# A scheduler beats every poll (sub-second); this long without a beat and it is gone.
SCHEDULER_STALE_SECONDS = float(os.environ.get("TRAINDOC_SCHEDULER_STALE_SECONDS", "15"))
# On its own host a scheduler whose process still runs is not replaced for a late beat alone: a
# beat waits on the database's write lock (up to BUSY_TIMEOUT_MS) and on a starved CPU, and a
# takeover while the old one still schedules would run two. Only a living scheduler silent this
# many times the stale limit is taken as hung and replaced (it stops at its next beat).
SCHEDULER_HUNG_FACTOR = 10


class StoreError(RuntimeError):
    """A store operation that failed after retries; the message says what and why."""


class StoreGone(StoreError):
    """The database file was deleted or replaced under an open store: nothing more can go into it."""


class DiskFullError(StoreError):
    """A write the disk (or the database's size limit) had no room for. Nothing of it was written and
    the file is intact: free space on that disk, then log or run again."""


# How the error of a run that met a full disk begins.
DISK_FULL = "disk full"
# What SQLite (SQLITE_FULL) and the file system (ENOSPC) say when there is no room left.
_DISK_FULL_TEXTS = ("disk is full", "no space left on device")


def is_disk_full(exc: BaseException | None) -> bool:
    """``exc``, or an error it was raised from, is a full disk."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
            return True
        if isinstance(exc, sqlite3.Error) and any(text in str(exc).lower() for text in _DISK_FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_reason(exc: BaseException) -> str:
    """``disk full: <what the store said, with its fix>``: the error a run that met a full disk ends with."""
    found: BaseException | None = exc
    seen: set[int] = set()
    while found is not None and id(found) not in seen and not isinstance(found, DiskFullError):
        seen.add(id(found))
        found = found.__cause__ or found.__context__
    return f"{DISK_FULL}: {found if found is not None else exc}"


def _store_error(message: str, exc: BaseException) -> StoreError:
    """The error to raise for a failed SQLite call: a ``DiskFullError`` when the disk was full."""
    return DiskFullError(message) if is_disk_full(exc) else StoreError(message)


_HINTS = {
    "disk is full": "free disk space (nothing was written by this transaction; the file is intact)",
    "readonly": "the file or its folder is read-only; fix its permissions or pass another --db",
    "locked": "another process held the write lock throughout; retry later or check for a stuck process",
    "not a database": "this file is not a traindoc SQLite database; pass another --db",
    "malformed": "the file is corrupt; restore it from a copy or start a new --db",
}


def _explain(path: Path, exc: sqlite3.DatabaseError, attempts: int = 1, action: str = "write failed",
             hint: str | None = None) -> str:
    """One line: which file, what SQLite said, what to do about it (``hint`` overrides the usual one)."""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    if hint is None:
        hint = next((h for key, h in _HINTS.items() if key in str(exc)), "")
    return f"{path}: {action}{tried}: {exc}" + (f" — {hint}" if hint else "")


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


# Opening backs off from OPEN_FIRST_DELAY up to OPEN_MAX_DELAY between tries, for at most the busy timeout.
OPEN_FIRST_DELAY = 0.005
OPEN_MAX_DELAY = 0.25


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """``--db`` beats ``TRAINDOC_DB`` beats ``./traindoc.db``."""
    return Path(db or os.environ.get("TRAINDOC_DB") or DEFAULT_DB)


class StoreBase:
    """Thread-safe handle on one database file (one connection per thread)."""

    def __init__(self, db: str | os.PathLike | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                 pragmas: dict[str, Any] | None = None) -> None:
        """``pragmas`` are applied to every connection (e.g. ``cache_size``; tests use
        ``max_page_count`` to simulate a full disk and ``query_only`` a read-only file)."""
        self.path = resolve_db_path(db)
        self.busy_timeout_ms = busy_timeout_ms
        self.pragmas = dict(pragmas or {})
        self._local = threading.local()
        # a file we cannot write is opened read-only and says so, instead of failing to open
        self.read_only = self.path.exists() and not (os.access(self.path, os.W_OK)
                                                     and os.access(self.path.parent, os.W_OK))
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file we opened
        self._migrate()

    # -- connections -------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._while_locked(self._connect, "cannot open")
            self._local.conn = conn
        return conn

    def _while_locked(self, action: Any, what: str) -> Any:
        """``action()``, tried again with bounded backoff while SQLite answers "locked" at once.

        Why: switching a fresh file to WAL and creating its schema take locks that SQLite's busy
        timeout does not always wait for, so processes opening one new store at the same instant
        (DDP ranks, sweep workers) saw an immediate ``database is locked``. The tries stop after
        the busy timeout; the error then says how many tries over how long.
        """
        started = time.monotonic()
        delay, attempts = OPEN_FIRST_DELAY, 0
        while True:
            attempts += 1
            try:
                return action()
            except sqlite3.OperationalError as exc:
                waited = time.monotonic() - started
                if not _is_locked(exc) or waited >= self.busy_timeout_ms / 1000:
                    hint = (f"other processes kept the file locked for {waited:.1f} s while it was opened"
                            if _is_locked(exc) else None)
                    raise _store_error(_explain(self.path, exc, attempts, action=what, hint=hint), exc) from exc
                time.sleep(min(delay, max(self.busy_timeout_ms / 1000 - waited, 0.0)))
                delay = min(delay * 2, OPEN_MAX_DELAY)
            except sqlite3.DatabaseError as exc:
                raise _store_error(_explain(self.path, exc, attempts, action=what), exc) from exc

    def _connect(self) -> sqlite3.Connection:
        if self._identity is not None:  # another thread's connection: never create a file that vanished
            self._check_same_file()
        conn = self._open_connection()
        try:
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        stat = os.stat(self.path)
        if self._identity is None:
            self._identity = (stat.st_dev, stat.st_ino)
        return conn

    def _open_connection(self) -> sqlite3.Connection:
        if self.read_only:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:  # WAL without a writable folder for its -shm: read it as a snapshot
                conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
        else:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        return conn

    def set_thread_busy_timeout(self, ms: int) -> None:
        """This thread's connection waits at most ``ms`` for a lock (a writer that must come back soon)."""
        self._local.busy_ms = int(ms)
        self.conn.execute(f"PRAGMA busy_timeout={int(ms)}")

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout={getattr(self._local, 'busy_ms', int(self.busy_timeout_ms))}")
        if not self.read_only:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        conn.execute("PRAGMA foreign_keys=ON")
        for name, value in self.pragmas.items():
            conn.execute(f"PRAGMA {name}={int(value)}")

    def _check_same_file(self) -> None:
        """Refuse to commit into a file that was deleted or replaced since we opened it: SQLite would
        write on into the unlinked inode and the rows would vanish with it, without a word."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            stat = None
        if stat is None or (stat.st_dev, stat.st_ino) != self._identity:
            what = "deleted" if stat is None else "replaced by another file"
            raise StoreGone(f"{self.path}: write refused: the database file was {what} while this process had"
                            " it open — restore the file or start again with a new --db")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of a read; a damaged file is a ``StoreError`` naming it, so a page shows one cell
        as unreadable instead of failing whole."""
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc, action="read failed")) from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._transaction(lambda conn: conn.execute(sql, params))

    def _write_many(self, batches: Sequence[tuple[str, Iterable[Sequence[Any]]]]) -> None:
        def body(conn: sqlite3.Connection) -> None:
            for sql, rows in batches:
                conn.executemany(sql, rows)

        self._transaction(body)

    def _transaction(self, body: Any) -> Any:
        """Run ``body(conn)`` in one write transaction, retried with bounded backoff while locked.

        The busy timeout already waits; the retries cover SQLite's immediate
        ``database is locked`` answers. After the last try the error is raised, never dropped.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: write refused: the database is open read-only — {_HINTS['readonly']}")
        delay = 0.05
        for attempt in range(6):
            try:
                conn = self.conn
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = body(conn)
                    self._check_same_file()
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == 5:
                    raise _store_error(_explain(self.path, exc, attempts=attempt + 1), exc) from exc
                time.sleep(delay)
                delay *= 2
            except sqlite3.DatabaseError as exc:
                raise _store_error(_explain(self.path, exc), exc) from exc
        raise AssertionError("unreachable")

    def _migrate(self) -> None:
        """Bring the schema to the latest version; safe with any number of processes at once."""
        self._while_locked(self._migrate_once, "cannot open")

    def _migrate_once(self) -> None:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if self.read_only:
            if version < len(MIGRATIONS):
                raise StoreError(f"{self.path}: cannot open: the file is read-only and at schema version {version}"
                                 f" of {len(MIGRATIONS)} — {_HINTS['readonly']} (once, to upgrade it)")
            return
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:  # another process may have migrated while we waited for the lock
                if conn.execute("PRAGMA user_version").fetchone()[0] < target:
                    for statement in filter(str.strip, script.split(";")):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={target}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise


def row_dict(cur: sqlite3.Cursor, row: Sequence[Any], json_columns: Sequence[str] = ()) -> dict[str, Any]:
    """One result row as a dict by column name, its JSON columns parsed."""
    out = dict(zip([c[0] for c in cur.description], row, strict=True))
    for column in json_columns:
        out[column] = json.loads(out[column])
    return out
