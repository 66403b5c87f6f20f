"""Run management in the store and the CLI: delete with every row, rename, note, tags, archive, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main
from runner.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "m.db")
    for name, status in (("alpha", "finished"), ("beta", "failed"), ("gamma", "running")):
        run_id = store.create_run(name, {"optim.lr": 0.1}, status=status)
        store.write_metrics([(run_id, s, None, "train/loss", 1.0 / (s + 1), 0.0) for s in range(300)])
    return store


def _count(store: Store, table: str, run_id: int) -> int:
    return store.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id=?", (run_id,)).fetchone()[0]


def test_delete_removes_metrics_rollups_stats_and_tags_and_refuses_a_live_run(store: Store) -> None:
    child = store.create_run("fix of alpha", {}, status="finished", parent_id=1)
    store.tag([1], add=["keep"])
    assert all(_count(store, t, 1) for t in ("metrics", "metric_rollups", "metric_stats", "run_tags"))
    assert store.delete_runs([1]) == 1
    assert not any(_count(store, t, 1) for t in ("metrics", "metric_rollups", "metric_stats", "run_tags"))
    assert store.run(child)["parent_id"] is None and _count(store, "metrics", 2) == 300
    with pytest.raises(ValueError, match="run 3 is still running: cancel it"):
        store.delete_runs([3])
    with pytest.raises(KeyError):
        store.delete_runs([99])


def test_rename_note_tags_archive_and_filters(store: Store) -> None:
    store.rename_run(2, "  beta   two ")
    store.set_note(2, "lr too high")
    store.tag([1, 2], add=["baseline", "baseline", "cifar"])
    store.tag([1], remove=["cifar"])
    assert store.tags() == {1: ["baseline"], 2: ["baseline", "cifar"]}
    assert store.run(2)["name"] == "beta two"
    with pytest.raises(ValueError, match="empty"):
        store.rename_run(2, "   ")
    assert store.find_runs(tag=["cifar"]).name.tolist() == ["beta two"]
    assert store.find_runs(text="TOO HIGH").id.tolist() == [2]
    assert store.find_runs(status=["finished", "failed"]).id.tolist() == [2, 1]
    before = store.change_token()
    store.set_archived([1])
    assert store.change_token() != before
    assert 1 not in store.find_runs().id.tolist() and store.find_runs(archived=True).id.tolist() == [1]


def test_cli_list_filters_tag_rename_delete(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(store.path)
    assert main(["tag", "1", "2", "--add", "best", "--db", db]) == 0
    assert main(["rename", "1", "alpha v2", "--db", db]) == 0
    capsys.readouterr()
    assert main(["list", "--tag", "best", "--status", "finished", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].split()[:2] == ["1", "finished"] and out[1].endswith("alpha v2")
    assert main(["delete", "1", "--db", db]) == 2  # no tty, no --yes: refuses
    assert "pass --yes" in capsys.readouterr().err
    assert main(["delete", "1", "--yes", "--db", db]) == 0
    assert main(["list", "--tag", "best", "--db", db]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]] == ["2"]


def test_a_baseline_per_group_or_per_database_one_at_a_time(store: Store) -> None:
    group = store.create_group("sweep")
    a, b = (store.create_run(n, {}, status="finished", group_id=group) for n in ("a", "b"))
    loose = store.create_run("loose", {}, status="finished")
    assert store.baseline_for(a) is None
    store.set_baseline(a)
    assert (store.baseline_for(b), store.baseline_for(a), store.baseline_for(loose)) == (a, None, None)
    store.set_baseline(b)  # the group's baseline moves: a is measured against b now
    assert (store.baseline_for(a), store.baseline_for(b)) == (b, None)
    store.set_baseline(loose, "database")
    assert (store.baseline_for(a), store.baseline_for(loose)) == (b, None)  # the group's wins in its group
    store.clear_baseline(b)
    assert store.baseline_for(a) == loose
    with pytest.raises(ValueError, match="belongs to no group"):
        store.set_baseline(loose, "group")
    with pytest.raises(KeyError):
        store.set_baseline(999)
