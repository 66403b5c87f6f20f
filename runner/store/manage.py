"""Run management: delete (with every row that belongs to the run), rename, note, archive, tags, filters.

Plain SQL inside one ``_transaction`` rather than sqlite-utils' table helpers: those commit on
their own, so a delete of a run and its metrics, rollups, stats and tags could stop half-way.
sqlite-utils is used where it is the better tool, for reading the table list (which tables
hold a ``run_id`` column), so a table added by a later migration is never left with orphans.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlite_utils

from traindoc.core.statuses import ACTIVE

MAX_NAME = 200
MAX_TAG = 40
BASELINE_SCOPES = ("group", "database")  # a run is the baseline of its group, or of every run in the file


class ManageMixin:
    """The W&B/MLflow-style chores on runs; every write is one transaction."""

    def _run_tables(self, conn: sqlite3.Connection) -> list[str]:
        """Tables with a ``run_id`` column (metrics, rollups, stats, tags, and any added later)."""
        db = sqlite_utils.Database(conn)
        return [t.name for t in db.tables if "run_id" in t.columns_dict]

    def delete_runs(self, run_ids: Iterable[int]) -> int:
        """Delete runs and all their rows; refuses a queued or running run (cancel it first).

        Runs derived from a deleted run keep their data and lose only the link to it.
        """
        ids = sorted({int(i) for i in run_ids})

        def body(conn: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(ids))
            rows = conn.execute(f"SELECT id, status FROM runs WHERE id IN ({marks})", ids).fetchall()
            missing = sorted(set(ids) - {r[0] for r in rows})
            if missing:
                raise KeyError(f"no run with id {missing[0]} in {self.path}")
            live = [r[0] for r in rows if r[1] in ACTIVE]
            if live:
                raise ValueError(f"run {live[0]} is still {dict(rows)[live[0]]}: cancel it before deleting it")
            for table in self._run_tables(conn):
                conn.execute(f"DELETE FROM [{table}] WHERE run_id IN ({marks})", ids)
            conn.execute(f"UPDATE runs SET parent_id=NULL WHERE parent_id IN ({marks})", ids)
            conn.execute(f"UPDATE groups SET parent_run_id=NULL WHERE parent_run_id IN ({marks})", ids)
            return conn.execute(f"DELETE FROM runs WHERE id IN ({marks})", ids).rowcount

        return self._transaction(body) if ids else 0

    def _update_one(self, run_id: int, sql: str, params: Sequence[Any]) -> None:
        if self._write(sql, (*params, run_id)).rowcount != 1:
            raise KeyError(f"no run with id {run_id} in {self.path}")

    def rename_run(self, run_id: int, name: str) -> None:
        """A new display name (stripped; not empty, at most ``MAX_NAME`` characters)."""
        name = " ".join(str(name).split())
        if not name:
            raise ValueError("a run name cannot be empty")
        if len(name) > MAX_NAME:
            raise ValueError(f"a run name is at most {MAX_NAME} characters (got {len(name)})")
        self._update_one(run_id, "UPDATE runs SET name=? WHERE id=?", (name,))

    def set_note(self, run_id: int, note: str) -> None:
        self._update_one(run_id, "UPDATE runs SET note=? WHERE id=?", (str(note).strip(),))

    def set_archived(self, run_ids: Iterable[int], archived: bool = True) -> int:
        """Hide runs from the default overview (their data stays; unarchive brings them back)."""
        ids = [int(i) for i in run_ids]
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        return self._write(f"UPDATE runs SET archived=? WHERE id IN ({marks})", (int(archived), *ids)).rowcount

    @staticmethod
    def clean_tag(tag: str) -> str:
        """Tags are one short word-ish token: spaces squeezed, lower case kept as typed."""
        cleaned = " ".join(str(tag).split())
        if not cleaned:
            raise ValueError("a tag cannot be empty")
        if len(cleaned) > MAX_TAG:
            raise ValueError(f"a tag is at most {MAX_TAG} characters: {cleaned[:MAX_TAG]}…")
        return cleaned

    def tag(self, run_ids: Iterable[int], add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Add and remove tags on runs in one transaction (adding a tag twice is a no-op)."""
        ids = [int(i) for i in run_ids]
        added = [self.clean_tag(t) for t in add]
        removed = [self.clean_tag(t) for t in remove]

        def body(conn: sqlite3.Connection) -> None:
            for run_id in ids:
                if conn.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone() is None:
                    raise KeyError(f"no run with id {run_id} in {self.path}")
                conn.executemany("INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?,?)",
                                 [(run_id, t) for t in added])
                conn.executemany("DELETE FROM run_tags WHERE run_id=? AND tag=?", [(run_id, t) for t in removed])

        self._transaction(body)

    def tags(self, run_id: int | None = None) -> dict[int, list[str]]:
        """Run id → its sorted tags (runs without tags are absent)."""
        sql, params = "SELECT run_id, tag FROM run_tags", ()
        if run_id is not None:
            sql, params = sql + " WHERE run_id=?", (run_id,)
        out: dict[int, list[str]] = {}
        for rid, tag in self.conn.execute(sql + " ORDER BY run_id, tag", params):
            out.setdefault(rid, []).append(tag)
        return out

    def find_runs(self, *, status: Sequence[str] = (), tag: Sequence[str] = (), group_id: Sequence[int] = (),
                  source: Sequence[str] = (), since: float | None = None, until: float | None = None,
                  text: str = "", archived: bool | None = False) -> pd.DataFrame:
        """Runs newest first, filtered; each with a ``tags`` list and its ``group`` name.

        Every filter left empty matches all; ``tag`` matches runs having any of the tags;
        ``text`` is a case-insensitive substring of the name or note; ``archived=None`` keeps both.
        """
        runs = self.runs()  # reconciles stale runs first, like every other listing
        tags = self.tags()
        runs["tags"] = [tags.get(int(i), []) for i in runs.id]
        groups = dict(self.conn.execute("SELECT id, name FROM groups").fetchall())
        runs["group"] = [groups.get(int(g), "") if g == g and g is not None else "" for g in runs.group_id]
        keep = pd.Series(True, index=runs.index)
        if status:
            keep &= runs.status.isin(list(status))
        if source:
            keep &= runs.source.isin(list(source))
        if group_id:
            keep &= runs.group_id.isin([int(g) for g in group_id])
        if tag:
            wanted = set(tag)
            keep &= runs.tags.map(lambda ts: bool(wanted & set(ts)))
        if since is not None:
            keep &= runs.created_at >= since
        if until is not None:
            keep &= runs.created_at < until
        if text:
            needle = text.casefold()
            keep &= (runs.name.str.casefold().str.contains(needle, regex=False)
                     | runs.note.fillna("").str.casefold().str.contains(needle, regex=False))
        if archived is not None:
            keep &= runs.archived.astype(bool) == archived
        return runs[keep].reset_index(drop=True)

    def change_token(self) -> tuple[Any, ...]:
        """A cheap fingerprint of everything a run listing shows: new runs, status moves, progress.

        One indexed aggregate query; a page polls it and redraws only when it changed.
        """
        return tuple(self.conn.execute(
            "SELECT COUNT(*), MAX(id), SUM(status IN ('queued','running','stalled')), MAX(heartbeat),"
            " MAX(ended_at), TOTAL(progress), TOTAL(last_step), (SELECT COUNT(*) FROM run_tags),"
            " TOTAL(archived), TOTAL(length(name) + length(note)) FROM runs").fetchone())

    # ---------------------------------------------------------------- the baseline to beat

    def set_baseline(self, run_id: int, scope: str = "group") -> None:
        """Mark ``run_id`` as the baseline of its group (``scope="group"``) or of the whole database
        (``"database"``); the previous baseline of that scope stops being one. Kept in the runs'
        meta (``baseline``), one transaction."""
        if scope not in BASELINE_SCOPES:
            raise ValueError(f"baseline scope {scope!r}: use one of {', '.join(BASELINE_SCOPES)}")

        def body(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT group_id FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run with id {run_id} in {self.path}")
            if scope == "group" and row[0] is None:
                raise ValueError(f"run {run_id} belongs to no group: make it the database's baseline instead")
            same = ("group_id=?", (row[0],)) if scope == "group" else ("1=1", ())
            for other, meta in conn.execute(f"SELECT id, meta FROM runs WHERE {same[0]} AND meta LIKE ?",
                                            (*same[1], '%"baseline"%')).fetchall():
                fields = _meta(meta)
                if fields.get("baseline") == scope:
                    fields.pop("baseline")
                    conn.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps(fields), other))
            meta = _meta(conn.execute("SELECT meta FROM runs WHERE id=?", (run_id,)).fetchone()[0])
            conn.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps({**meta, "baseline": scope}), run_id))

        self._transaction(body)

    def clear_baseline(self, run_id: int) -> None:
        """``run_id`` is no baseline any more (a no-op when it was none)."""
        def body(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT meta FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run with id {run_id} in {self.path}")
            meta = _meta(row[0])
            if meta.pop("baseline", None) is not None:
                conn.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps(meta), run_id))

        self._transaction(body)

    def baselines(self) -> tuple[int | None, dict[int, int]]:
        """(the database's baseline, {group id: that group's baseline}): one read for a whole listing."""
        database, groups = None, {}
        for run_id, group, meta in self.conn.execute(
                "SELECT id, group_id, meta FROM runs WHERE meta LIKE ? ORDER BY id", ('%"baseline"%',)).fetchall():
            scope = _meta(meta).get("baseline")
            if scope == "database":
                database = int(run_id)
            elif scope == "group" and group is not None:
                groups[int(group)] = int(run_id)
        return database, groups

    @staticmethod
    def baseline_of(run_id: int, group_id: int | None, marked: tuple[int | None, dict[int, int]]) -> int | None:
        """The run ``run_id`` is measured against, from ``baselines()``: its group's, else the database's;
        None when there is none or it is the run itself."""
        database, groups = marked
        found = groups.get(int(group_id), database) if group_id is not None else database
        return None if found == run_id else found

    def baseline_for(self, run_id: int) -> int | None:
        """``baseline_of`` for one run."""
        row = self.conn.execute("SELECT group_id FROM runs WHERE id=?", (run_id,)).fetchone()
        return None if row is None else self.baseline_of(run_id, row[0], self.baselines())


def _meta(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
