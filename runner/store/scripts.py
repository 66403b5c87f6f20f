"""Registered user scripts, and the few run updates the honest fix loop needs (SQL only here)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from runner.store.base import StoreError, row_dict


class ScriptsMixin:
    def add_script(self, name: str, path: str, interpreter: str, cwd: str, args: list[str],
                   config: dict[str, Any]) -> int:
        """Register a script under a unique name; a second ``add`` of a name is refused."""
        try:
            return self._write(
                "INSERT INTO scripts (name, path, interpreter, cwd, args, config, created_at) VALUES (?,?,?,?,?,?,?)",
                (name, path, interpreter, cwd, json.dumps(args), json.dumps(config, default=str), time.time()),
            ).lastrowid
        except StoreError as exc:
            if not isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise
            raise StoreError(f"a script named {name!r} is already registered; pick another name or remove it"
                             ) from None

    def script(self, name: str) -> dict[str, Any]:
        cur = self.conn.execute("SELECT * FROM scripts WHERE name=?", (name,))
        row = cur.fetchone()
        if row is None:
            raise KeyError(f"no registered script named {name!r}")
        return row_dict(cur, row, ("args", "config"))

    def scripts(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM scripts ORDER BY name")
        return [row_dict(cur, row, ("args", "config")) for row in cur.fetchall()]

    def remove_script(self, name: str) -> bool:
        return self._write("DELETE FROM scripts WHERE name=?", (name,)).rowcount == 1

    def set_run_config(self, run_id: int, config: dict[str, Any]) -> None:
        """A script run's config as the script saw it (its defaults under the queued values)."""
        self._write("UPDATE runs SET config=? WHERE id=?", (json.dumps(config, default=str), run_id))

    def join_group(self, run_id: int, group_id: int, meta: dict[str, Any]) -> None:
        """Make an existing run (a re-upload) a member of a fix group, as its "after" run."""
        old = self.run(run_id)["meta"]
        self._write("UPDATE runs SET group_id=?, meta=? WHERE id=?",
                    (group_id, json.dumps({**old, **meta}, default=str), run_id))
