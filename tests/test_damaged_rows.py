"""A damaged queued row fails that run alone, as ``bad config: ...``, whatever the damage; the queue goes on.

The fuzz writes one damaged value into one column of a queued run (deep JSON, megabytes,
the wrong storage type, text that is not UTF-8, JSON of the wrong shape), then lets the
scheduler start it beside an intact run: the tick must not raise, the damaged run ends
``finished`` (the damage was harmless) or ``failed`` with a one-line ``bad config`` reason,
and the intact run finishes. Training itself is replaced by a no-op: what is under test is
everything before it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runner import scheduler
from runner.config import schema
from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store
from runner.train import Outcome

DEPTH = 200_000  # the depth from the issue: far past Python's recursion limit
HUGE = 3_000_000  # characters: a column of megabytes
# A reason longer than this is not one line of the run list (the store clips what it quotes).
MAX_REASON = 600


class BadText(bytes):
    """Bytes to be stored as TEXT (``CAST(? AS TEXT)``): a column whose text is not UTF-8."""


def _no_training(cfg: Any, sink: Any, **_: Any) -> Outcome:
    return Outcome(steps=0, epochs=0.0, stopped_early=None)


class _InProcess:
    """An executor that claims the run and executes it here, as the child process would."""

    name = "local"

    def start(self, store: Store, run_id: int) -> bool:
        if not store.claim_queued(run_id, pid=os.getpid()):
            return False
        execute(store, run_id)
        return True

    def poll(self, store: Store) -> None:
        pass

    def busy(self) -> bool:
        return False

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fast_runs() -> Iterator[None]:
    with mock.patch("runner.train.train", _no_training), \
            mock.patch.object(scheduler.executors, "build", lambda *_, **__: _InProcess()):
        yield


def _damage(store: Store, run_id: int, column: str, value: Any) -> None:
    sql = f"UPDATE runs SET {column}=CAST(? AS TEXT) WHERE id=?" if isinstance(value, BadText) else \
        f"UPDATE runs SET {column}=? WHERE id=?"
    store.conn.execute(sql, (bytes(value) if isinstance(value, BadText) else value, run_id))


def _status(store: Store, run_id: int) -> tuple[str, str | None]:
    row = store.conn.execute("SELECT status, CAST(error AS BLOB) FROM runs WHERE id=?", (run_id,)).fetchone()
    return row[0], None if row[1] is None else bytes(row[1]).decode("utf-8", "replace")


def _queue_one_damaged(folder: Path, column: str, value: Any) -> tuple[Store, int, int]:
    store = Store(folder / "traindoc.db")
    flat = PRESETS["healthy"].config().to_flat()
    damaged, intact = store.create_run("damaged", flat), store.create_run("intact", flat)
    try:
        _damage(store, damaged, column, value)
    except (sqlite3.IntegrityError, OverflowError):  # the schema refuses this damage: it cannot happen
        assume(False)
    return store, damaged, intact


def _check(store: Store, damaged: int, intact: int) -> tuple[str, str | None]:
    scheduler.Scheduler(store).tick()  # must not raise
    status, error = _status(store, damaged)
    assert status == "finished" or (status == "failed" and error.startswith("bad config: ")), (status, error[:200])
    assert status == "finished" or len(error) <= MAX_REASON
    assert _status(store, intact) == ("finished", None)
    return status, error


DEEP = ["[" * DEPTH + "]" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH,
        json.dumps({"optim.lr": 0.1}).replace("0.1", "[" * DEPTH + "]" * DEPTH)]
FIXED = [*DEEP, "x" * HUGE, json.dumps({"optim.lr": "9" * HUGE}), json.dumps({"model.head": "x" * HUGE}),
         "[1,2]", '"text"', "null", "1e999", "NaN", "{}", "", b"\x00\xff", BadText(b'{"a": "\xff"}'),
         BadText(b"\xc3\x28"), 7, 2.5, float("nan"), None]
CONFIG_KEYS = sorted(schema())
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=3), max_leaves=8)
json_objects = st.dictionaries(st.sampled_from([*CONFIG_KEYS, "stop_on", "preset", "x.y", ""]), json_values,
                               max_size=4).map(lambda d: json.dumps(d, allow_nan=True))
damages = (st.integers(0, len(FIXED) - 1).map(lambda i: ("FIXED", i)) | json_objects
           | st.integers(-2**63, 2**63 - 1) | st.floats() | st.binary(max_size=32) | st.text(max_size=32)
           | st.binary(min_size=1, max_size=16).map(lambda b: BadText(b + b"\xff")))
COLUMNS = ["config", "meta", "name", "status", "source", "group_id", "parent_id", "created_at", "started_at",
           "ended_at", "pid", "host", "heartbeat", "device", "progress", "last_step", "error"]


@pytest.mark.slow  # a hundred fuzzed stores
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(column=st.sampled_from(COLUMNS), value=damages)
def test_fuzz_a_damaged_column_fails_that_run_alone(column: str, value: Any) -> None:
    if isinstance(value, tuple):  # drawn by index, so a failing example prints short
        value = FIXED[value[1]]
    with tempfile.TemporaryDirectory() as folder:
        store, damaged, intact = _queue_one_damaged(Path(folder), column, value)
        _check(store, damaged, intact)
        store.close()


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("config", DEEP[0], "bad config: the stored row is not JSON: its config column: RecursionError: maximum recursion"),
    ("config", DEEP[2], "bad config: the stored row is not JSON: its config column: RecursionError"),
    ("config", 7, "bad config: the stored config is a int, not an object"),
    ("config", b"\x00\xff", "bad config: the stored row is not JSON: its config column: JSONDecodeError"),
    ("config", json.dumps({"model.head": "x" * HUGE}), "bad config: model.head='xxx"),
    ("config", BadText(b"\xc3\x28"), "bad config: the stored row's config column is not UTF-8 text"),
    ("name", BadText(b"\xff"), "bad config: the stored row's name column is not UTF-8 text"),
], ids=["config-200k-deep-list", "value-200k-deep", "config-an-integer", "config-a-blob", "value-of-megabytes",
        "config-not-utf8", "name-not-utf8"])
def test_each_kind_of_damage_names_itself(tmp_path: Path, column: str, value: Any, reason: str) -> None:
    store, damaged, intact = _queue_one_damaged(tmp_path, column, value)
    status, error = _check(store, damaged, intact)
    assert status == "failed" and error.startswith(reason), error


@pytest.mark.parametrize(("value", "reason"), [
    (DEEP[1], "bad config: the stored row is not JSON: its meta column: RecursionError"),
    ("[1]", "bad config: the stored row's meta is a list, not an object of key: value"),
], ids=["meta-200k-deep-object", "meta-a-list"])
def test_a_damaged_meta_fails_the_run_when_executed_directly(store: Store, value: str, reason: str) -> None:
    """Through the scheduler a damaged meta is replaced when the scheduler records itself in it (the run
    then trains); ``python -m runner _exec`` alone meets it as it is, and fails the run instead of crashing."""
    run_id = store.create_run("damaged meta", PRESETS["healthy"].config().to_flat())
    _damage(store, run_id, "meta", value)
    assert execute(store, run_id) == "failed"
    assert _status(store, run_id)[1].startswith(reason)


def test_execute_alone_fails_a_200k_deep_config_instead_of_crashing(store: Store) -> None:
    """The issue's case, through ``python -m runner _exec``'s body: it ended ``crashed`` before."""
    run_id = store.create_run("deep", PRESETS["healthy"].config().to_flat())
    _damage(store, run_id, "config", DEEP[0])
    assert execute(store, run_id) == "failed"
    assert _status(store, run_id)[1].startswith("bad config: the stored row is not JSON")


def test_a_group_spec_nested_too_deep_fails_its_runs_not_the_queue(store: Store) -> None:
    group = store.create_group("deep")
    store.conn.execute("UPDATE groups SET spec=? WHERE id=?", (DEEP[1], group))
    store.create_run("in a deep group", PRESETS["healthy"].config().to_flat(), group_id=group)
    [row] = [r for r in store.active_queue() if r["group_id"] == group]
    assert row["spec"] == {"_bad_spec": "group spec is nested too deep to read"}
