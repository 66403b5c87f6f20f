"""Imported runs in the store: one transaction per import, NaN kept, mapping corrections, tagging as a sweep."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from import_golden import FIXTURES

from diagnostics.engine import diagnose
from runner.importers import read_path, read_upload, remap, save
from runner.store import Store
from traindoc.handoff import from_imported, load_run


def _counts(store: Store) -> tuple[int, int]:
    return (store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0],
            store.conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])


def test_save_writes_finished_upload_runs_with_mapped_names(store: Store) -> None:
    (run,) = read_path(FIXTURES / "lightning")
    (run_id,) = save(store, [run])
    info = store.run(run_id)
    assert (info["status"], info["source"], info["name"]) == ("finished", "upload", "version_0")
    assert info["meta"]["mapping"]["val_loss"] == "val/loss" and info["config"]["optim.lr"] == 3e-4
    assert store.metric_names(run_id) == ["lr-Adam", "train/loss", "train/loss_epoch", "val/acc", "val/loss"]
    assert len(store.metrics(run_id)) == run.rows and info["last_step"] == 300


def test_import_is_all_or_nothing(store: Store) -> None:
    good = read_upload("a.csv", b"step,loss\n1,0.5\n2,0.4\n")[0]
    before = _counts(store)
    payload = [("a", {}, {}, [(1, None, "loss", 0.5, 1.0)]), ("b", {}, {}, [(1, None, "loss", 0.4, 1.0)])]

    def fail_on_second_run(done: int, total: int) -> None:
        if done == 2:
            raise RuntimeError("disk full")  # anything failing after the first run is already written

    with pytest.raises(RuntimeError, match="disk full"):
        store.import_runs(payload, progress=fail_on_second_run)
    assert _counts(store) == before
    save(store, [good])
    assert _counts(store) == (before[0] + 1, before[1] + 2)


def test_nan_and_inf_round_trip_through_the_store(store: Store) -> None:
    (run,) = read_upload("div.csv", b"step,loss\n1,0.5\n2,nan\n3,inf\n")
    (run_id,) = save(store, [run])
    steps, values = store.metric_series(run_id, "train/loss")
    assert steps.tolist() == [1, 2, 3] and values[0] == 0.5 and math.isnan(values[1]) and values[2] == math.inf


def test_remap_renames_stored_metrics_and_keeps_originals(store: Store) -> None:
    (run,) = read_upload("m.csv", b"step,loss,test_loss\n1,0.5,0.6\n2,0.4,\n3,0.3,0.7\n4,0.2,\n")
    (run_id,) = save(store, [run])
    assert store.metric_names(run_id) == ["train/loss", "val/loss"]
    mapping = remap(store, run_id, {"test_loss": "test/loss"})
    assert mapping == {"loss": "train/loss", "test_loss": "test/loss"}
    assert store.metric_names(run_id) == ["test/loss", "train/loss"]
    assert store.run(run_id)["meta"]["mapping"] == mapping
    with pytest.raises(ValueError, match="would be used twice"):
        remap(store, run_id, {"test_loss": "train/loss"})
    assert store.metric_names(run_id) == ["test/loss", "train/loss"]  # refused: nothing changed


def test_tag_uploaded_runs_as_a_sweep(store: Store) -> None:
    ids = save(store, [read_upload(f"{eps}.csv", b"step,loss\n1,0.5\n2,0.4\n")[0] for eps in ("a", "b")])
    group = store.create_group("eps from uploads", kind="sweep", spec={"grid": {"optim.eps": [0.1, 1e-8]}})
    store.tag_runs(group, {ids[0]: {"optim.eps": 0.1}, ids[1]: {"optim.eps": 1e-8}})
    runs = store.runs(group_id=group)
    assert sorted(runs["id"]) == sorted(ids)
    assert store.run(ids[0])["config"]["optim.eps"] == 0.1 and store.run(ids[1])["meta"]["swept"] == {
        "optim.eps": 1e-8}


def test_overfitting_upload_is_diagnosed_like_a_runner_run(store: Store) -> None:
    (run,) = read_path(FIXTURES / "lightning")
    direct = {f.rule for f in diagnose(from_imported(run))}
    (run_id,) = save(store, [run])
    stored = {f.rule for f in diagnose(load_run(store, run_id))}
    assert "overfitting" in direct and "overfitting" in stored


def test_stored_upload_keeps_its_corrected_names_and_originals_for_the_rules(store: Store) -> None:
    (run,) = read_upload("m.csv", b"step,loss,test_loss\n1,0.5,0.6\n2,0.4,\n3,0.3,0.7\n4,0.2,\n")
    (run_id,) = save(store, [run])
    remap(store, run_id, {"test_loss": "test/loss"})
    data = load_run(store, run_id)
    assert data.names == ["test/loss", "train/loss"]  # not folded back into val/loss
    assert data.original("test/loss") == "test_loss" and data.original("train/loss") == "loss"


def test_the_same_file_uploaded_again_offers_its_run_instead_of_a_copy(store: Store) -> None:
    """Issue 20: the content hash is kept in the run's meta; the same bytes under any name are that run."""
    from runner.importers.upload import HASH_KEY, content_hash, import_upload

    data = b"step,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n"
    first = import_upload(store, "a.csv", data)
    assert not first.existing and store.run(first.run_ids[0])["meta"][HASH_KEY] == content_hash(data)
    before = _counts(store)
    again = import_upload(store, "renamed.csv", data)
    assert again.existing and again.run_ids == first.run_ids and _counts(store) == before
    (note,) = again.notes
    assert f"run #{first.run_ids[0]}" in note and "instead of importing a copy" in note
    other = import_upload(store, "a.csv", data + b"3,0.3,0.45\n")  # other bytes: a new run
    assert not other.existing and other.run_ids != first.run_ids
    forced = import_upload(store, "a.csv", data, again=True)
    assert not forced.existing and forced.run_ids[0] not in first.run_ids


def test_the_import_command_says_when_a_file_was_imported_before(db_path, tmp_path, capsys) -> None:
    from runner.cli import main

    log = tmp_path / "results_a.csv"
    log.write_bytes(b"step,loss\n1,0.5\n2,0.4\n")
    assert main(["import", str(log), "--db", str(db_path)]) == 0
    assert capsys.readouterr().out.startswith("run 1: results_a (imported from")
    assert main(["import", str(log), "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run 1: results_a (already imported from") and "imported before (run #1)" in out
    assert main(["import", str(tmp_path / "missing.csv"), "--db", str(db_path)]) == 2


def _messy_table(rows: int, columns: int) -> bytes:
    """A CSV whose cells exercise every reading of a cell: numbers, empty (not logged), ``nan``/``inf``
    text (logged), a number printed as a tensor, and junk (skipped with a note), scattered so that a
    column is clean in some chunks and not in others."""
    rng = np.random.default_rng(7)
    header = ["step", "epoch", "wall_time", *(f"m{i}" for i in range(columns))]
    lines = [",".join(header)]
    odd = ["", "nan", "inf", "-inf", "\"tensor(0.25, grad_fn=<X>)\"", "oops"]
    for row in range(rows):
        cells = [str(row), f"{row / 10:.1f}", f"{1.7e9 + row:.3f}"]
        for _ in range(columns):
            pick = rng.random()
            cells.append(odd[int(rng.integers(len(odd)))] if pick < 0.08 else f"{rng.normal():.6g}")
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def _text_read(source: str, text: str, sep: str) -> pd.DataFrame:
    """The reference reading of a table: the whole text at once, every cell kept as its text."""
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                        skipinitialspace=True, skip_blank_lines=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _stored(store: Store, run_id: int) -> list[tuple]:
    return store.conn.execute("SELECT name, step, epoch, value, wall_time FROM metrics WHERE run_id=?"
                              " ORDER BY name, step", (run_id,)).fetchall()


@pytest.mark.parametrize(("rows", "columns", "chunk"), [
    (400, 6, 7),
    pytest.param(30, 600, 9, marks=pytest.mark.slow),  # 600 columns read chunk by chunk: seconds
], ids=["long", "wide"])
def test_a_chunked_read_stores_the_same_rows_and_notes_as_the_whole_text_read(
        tmp_path, monkeypatch: pytest.MonkeyPatch, rows: int, columns: int, chunk: int) -> None:
    """Issue 20: a CSV read in chunks by the C parser (number columns as numbers chunk by chunk) stores
    exactly what reading the whole file as text stored: the same rows, logged NaNs kept, the same notes."""
    from runner.importers import tabular
    from runner.importers.upload import import_upload

    data = _messy_table(rows, columns)
    whole = Store(tmp_path / "whole.db")
    with monkeypatch.context() as patched:  # the reference: one read, every cell kept as text
        patched.setattr(tabular, "read_table", _text_read)
        before = import_upload(whole, "messy.csv", data)
    monkeypatch.setattr(tabular, "READ_CHUNK_ROWS", chunk)
    chunked = Store(tmp_path / "chunked.db")
    after = import_upload(chunked, "messy.csv", data)
    assert before.error is None and after.error is None
    assert after.notes == before.notes and any("not numbers" in note for note in after.notes)
    expected = _stored(whole, before.run_ids[0])
    got = _stored(chunked, after.run_ids[0])
    assert len(got) == len(expected) > rows
    assert any(value is None for *_, value, _wall in got)  # the logged NaNs are there (NULL in the store)
    assert got == expected


def test_json_lines_read_in_chunks_store_the_same_rows_as_one_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for JSON lines: ``NaN`` logged, a missing key not logged, junk skipped with a note."""
    import json

    from runner.importers import tabular
    from runner.importers.upload import import_upload

    rng = np.random.default_rng(3)
    lines = []
    for step in range(300):
        record: dict = {"step": step}
        for name in ("loss", "acc", "lr"):
            pick = rng.random()
            if pick < 0.05:
                continue  # not logged at this step
            record[name] = float("nan") if pick < 0.08 else "oops" if pick < 0.1 else float(rng.normal())
        lines.append(json.dumps(record))
    data = ("\n".join(lines) + "\n").encode()
    whole = Store(tmp_path / "whole.db")
    with monkeypatch.context() as patched:
        patched.setattr(tabular, "READ_CHUNK_ROWS", 10**9)
        patched.setattr(tabular, "compact", lambda frame: frame)
        before = import_upload(whole, "log.jsonl", data)
    monkeypatch.setattr(tabular, "READ_CHUNK_ROWS", 11)
    chunked = Store(tmp_path / "chunked.db")
    after = import_upload(chunked, "log.jsonl", data)
    assert before.error is None and after.notes == before.notes
    without_wall = [row[:4] for row in _stored(whole, before.run_ids[0])]  # no wall column: the import time
    assert [row[:4] for row in _stored(chunked, after.run_ids[0])] == without_wall
    assert any(value is None for *_, value in without_wall) and any("not numbers" in n for n in after.notes)


@pytest.mark.slow  # an 80-column table imported twice
def test_short_metrics_in_shared_chunks_store_the_same_rows_and_summaries(tmp_path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Short metrics share a write chunk (a wide table was one chunk, one chart summary, per column):
    the rows, the chart summaries and the per-metric stats are those of one chunk per few rows."""
    import importlib

    from runner.importers.upload import import_upload

    save_module = importlib.import_module("runner.importers.save")  # the package's ``save`` is the function
    data = _messy_table(60, 80)
    tables = {}
    for label, rows in (("shared", save_module.CHUNK_ROWS), ("small", 7)):
        monkeypatch.setattr(save_module, "CHUNK_ROWS", rows)
        store = Store(tmp_path / f"{label}.db")
        run_id = import_upload(store, "wide.csv", data).run_ids[0]
        tables[label] = [
            _stored(store, run_id),
            store.conn.execute("SELECT * FROM metric_rollups ORDER BY 1, 2, 3, 4").fetchall(),
            store.conn.execute("SELECT * FROM metric_stats ORDER BY 1, 2").fetchall()]
    assert tables["shared"] == tables["small"] and len(tables["shared"][1]) > 80


@pytest.mark.parametrize("chunk", [2, 10**6], ids=["chunked", "one-chunk"])
def test_a_number_written_with_underscores_is_not_a_number(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                          chunk: int) -> None:
    """``1_000`` is what Python's ``float`` accepts but no logger writes: a cell that is not a number as
    written (``pd.to_numeric``), skipped with a note, in a CSV and in JSON lines, however it is chunked."""
    from runner.importers import tabular

    monkeypatch.setattr(tabular, "READ_CHUNK_ROWS", chunk)
    table = b"step,loss\n1,0.5\n2,1_000\n3,0.25\n4,0.2\n"
    lines = b'{"step": 1, "loss": 0.5}\n{"step": 2, "loss": "1_000"}\n{"step": 3, "loss": 0.25}\n'
    for name, data in (("log.csv", table), ("log.jsonl", lines)):
        (run,) = read_upload(name, data)
        values = run.frame.set_index("step")["value"]
        assert 2 not in values.index and values[3] == 0.25, name
        assert any("'loss': 1 cell(s) are not numbers" in note and "'1_000'" in note for note in run.warnings), name


def test_json_records_become_the_table_their_text_would() -> None:
    """JSON numbers go straight to number columns; what the text way reads differently keeps the text way:
    a logged NaN, strings (``"0.5"`` is a number, ``"1_000"`` and ``"oops"`` are not), booleans as 1/0,
    nested values dropped, missing keys empty (issue 23: the text round trip was most of the read)."""
    from runner.importers import tabular

    rng = np.random.default_rng(2)
    kinds = [None, float("nan"), float("inf"), 3, 2.5, True, "0.5", "1_000", "oops", {"a": 1}, [1], 10**20]
    records = []
    for i in range(200):
        record: dict = {"step": i}
        for key in ("a", "b", "c", "d"):
            if rng.random() < 0.8:
                continue  # missing: not logged
            record[key] = kinds[int(rng.integers(len(kinds)))]
        record["clean"] = float(rng.normal())
        record["flag"] = bool(i % 3)
        records.append((i + 1, record))

    def as_text(part: list[tuple[int, dict]]) -> pd.DataFrame:  # the reference: every value through its text
        flat = [{k: tabular._cell(v) for k, v in obj.items() if not isinstance(v, dict | list)} for _, obj in part]
        return tabular.compact(pd.DataFrame(flat, dtype=object).astype("string").astype(object)
                               .where(lambda f: f.notna(), None))

    got, expected = tabular.records_frame(records), as_text(records)
    assert list(got.columns) == list(expected.columns)
    for col in got.columns:
        left, right = got[col], expected[col]
        assert (left.dtype.kind == "f") == (right.dtype.kind == "f"), col
        if left.dtype.kind == "f":
            np.testing.assert_array_equal(left.to_numpy(), right.to_numpy(dtype=float), err_msg=col)
        else:
            assert [None if pd.isna(v) else v for v in left] == [None if pd.isna(v) else v for v in right], col
