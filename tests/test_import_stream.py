"""Issues 20 and 23: a big CSV/TSV upload streamed (two passes over its bytes) stores exactly what the
whole-frame path stores: the rows, the chart summaries, the notes and the name mapping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from runner.importers import stream, tabular
from runner.importers.upload import import_upload
from runner.store import Store


def _table(rows: int, sep: str = ",", *, restart_at: int | None = None, sparse: bool = False,
           odd: bool = True, step: str = "step", float_steps: bool = False) -> str:
    """A training log: a step (or epoch) column, wall time, and metrics with every kind of cell."""
    rng = np.random.default_rng(11)
    cells_odd = ["nan", "inf", "-inf", "\"tensor(0.25, grad_fn=<X>)\"", "oops", "1_000"]
    head = [step, "epoch", "wall_time", "train/loss", "val_loss", "lr", "note"]
    lines = [sep.join(head)]
    for row in range(rows):
        at = row if restart_at is None or row < restart_at else row - restart_at
        x = f"{at * 0.5:g}" if float_steps else str(at)
        cells = [x, f"{at // 10}", f"{1.7e9 + row:.3f}"]
        for name in ("train/loss", "val_loss", "lr"):
            if sparse and name == "val_loss" and row % 10:
                cells.append("")  # not logged on this row
            elif odd and rng.random() < 0.04:
                cells.append(cells_odd[int(rng.integers(len(cells_odd)))])
            else:
                cells.append(f"{rng.normal():.6g}")
        cells.append("warmup" if row < 3 else "")
        lines.append(sep.join(cells))
    return "\n".join(lines) + "\n"


def _records(rows: int, *, late_step: bool = False, cut: bool = False) -> str:
    """JSON lines: NaN logged, keys missing (not logged), junk, booleans, nested values, a key that appears
    late; optionally a last line cut mid-object, or records whose step key only appears later."""
    rng = np.random.default_rng(5)
    lines = []
    for i in range(rows):
        record: dict = {"epoch": i // 10} if late_step and i < 30 else {"step": i * 2, "epoch": i // 10}
        record["time"] = 1.7e9 + i
        for name in ("loss", "acc", "lr"):
            pick = rng.random()
            if pick < 0.05:
                continue
            record[name] = float("nan") if pick < 0.08 else "oops" if pick < 0.1 else float(rng.normal())
        record["flag"] = bool(i % 2)
        record["nested"] = {"a": 1}
        if i > rows // 2:
            record["val_loss"] = float(rng.random())
        lines.append(json.dumps(record))
    text = "\n".join(lines) + "\n"
    return text + '{"step": 99999, "loss": 0.' if cut else text


def _stored(store: Store, run_id: int) -> dict[str, list[tuple]]:
    q = store.conn.execute
    return {
        "metrics": q("SELECT name, step, epoch, value, wall_time FROM metrics WHERE run_id=? ORDER BY name, step",
                     (run_id,)).fetchall(),
        "rollups": q("SELECT * FROM metric_rollups WHERE run_id=? ORDER BY 2, 3, 4", (run_id,)).fetchall(),
        "stats": q("SELECT * FROM metric_stats WHERE run_id=? ORDER BY 2", (run_id,)).fetchall(),
        "run": q("SELECT name, status, last_step, started_at, ended_at FROM runs WHERE id=?", (run_id,)).fetchall(),
    }


def _both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, data: bytes) -> tuple[dict, dict, bool]:
    """Import ``data`` the whole-frame way and the streamed way (tiny chunks); both stores' contents,
    and whether the streamed import really streamed."""
    out = []
    streamed = []
    original = stream.read
    for label, threshold in (("whole", 10**12), ("stream", 0)):
        monkeypatch.setattr(stream, "STREAM_MIN_BYTES", threshold)
        monkeypatch.setattr(stream, "CHUNK_LINES", 7)
        monkeypatch.setattr(tabular, "READ_CHUNK_ROWS", 11)  # the first pass's chunks: stats across their ends
        monkeypatch.setattr(stream, "EDGE_BYTES", 400)  # the head and tail are judged from a few lines

        def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - records what the streamed pass returned
            run = original(*args, **kwargs)
            streamed.append(run is not None)
            return run

        monkeypatch.setattr(stream, "read", spy)
        store = Store(tmp_path / f"{label}.db")
        outcome = import_upload(store, name, data)
        assert outcome.error is None, outcome.error
        info = store.run(outcome.run_ids[0])
        out.append({**_stored(store, outcome.run_ids[0]), "notes": outcome.notes,
                    "mapping": info["meta"]["mapping"], "axis": info["meta"]["axis"]})
    return out[0], out[1], any(streamed)


@pytest.mark.parametrize("case", ["messy", "sparse", "tsv", "epochs", "float-steps", "cut-row", "bom", "jsonl",
                                  "jsonl-cut"])
def test_a_streamed_table_stores_what_the_whole_frame_path_stores(tmp_path, monkeypatch, case: str) -> None:
    text = {
        "messy": _table(300),
        "sparse": _table(200, sparse=True, odd=False, step="iteration"),  # step+epoch+sparse: Lightning
        "tsv": _table(120, sep="\t"),
        "epochs": _table(90, step="epoch_index", odd=False).replace("epoch_index,epoch,", "x,epoch,"),
        "float-steps": _table(100, float_steps=True),
        "cut-row": _table(150).rstrip("\n") + "\n123,12,1700000999.0,0.5,0.",
        "bom": "\ufeff" + _table(60),
        "jsonl": _records(200),
        "jsonl-cut": _records(120, cut=True),
    }[case]
    if case == "epochs":  # one row per whole epoch, no step column: the epoch is the step
        lines = text.splitlines()
        text = "\n".join([lines[0]] + [f"{i},{i},{line.split(',', 2)[2]}" for i, line in enumerate(lines[1:])]) + "\n"
    name = "log.tsv" if case == "tsv" else "log.jsonl" if case.startswith("jsonl") else "log.csv"
    whole, streamed, did = _both(tmp_path, monkeypatch, name, text.encode())
    assert did, "the streamed pass fell back to the whole frame"
    assert streamed == whole
    assert len(whole["metrics"]) > 50
    if case == "messy":
        assert any("not numbers" in note for note in whole["notes"]) and any("NaN" in n for n in whole["notes"])
    if case == "cut-row":
        assert any("cut off mid-row" in note for note in streamed["notes"])
    if case == "jsonl-cut":
        assert any("cut off before its end" in note for note in streamed["notes"])


@pytest.mark.parametrize("case", ["restart", "no-step", "repeated-step", "latin-1", "jsonl-late-step"])
def test_a_layout_only_the_whole_frame_judges_falls_back_to_it(tmp_path, monkeypatch, case: str) -> None:
    """A restart (appended runs), a table with no step column, a repeated step, bytes that are not UTF-8: the
    first pass hands the file to the whole-frame path, which stores what it always stored (segments, row
    axis, last value kept, the code-page note)."""
    text = {
        "restart": _table(120, restart_at=60, odd=False),
        "no-step": "time,train_loss,val_loss\n" + "".join(f"{1.7e9 + i},{1 / (i + 1):.4f},{1 / (i + 2):.4f}\n"
                                                          for i in range(80)),
        "repeated-step": _table(80, odd=False).replace("\n40,", "\n39,"),
        "latin-1": _table(80, odd=False).replace("warmup", "échauffement", 1),
        "jsonl-late-step": _records(100, late_step=True),
    }[case]
    data = text.encode("latin-1" if case == "latin-1" else "utf-8")
    whole, streamed, did = _both(tmp_path, monkeypatch, "log.jsonl" if "jsonl" in case else "log.csv", data)
    assert not did
    assert streamed == whole and whole["metrics"]


def test_the_reading_progress_follows_the_bytes_read(tmp_path, monkeypatch) -> None:
    """The upload page's bar moves while a big table is read: the reader reports the bytes it has parsed."""
    monkeypatch.setattr(stream, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(stream, "CHUNK_LINES", 50)
    monkeypatch.setattr(tabular, "READ_CHUNK_ROWS", 200)
    data = _table(3000, odd=False).encode()
    seen: list[tuple[float, str]] = []
    outcome = import_upload(Store(tmp_path / "p.db"), "log.csv", data, progress=lambda f, what: seen.append((f, what)))
    assert outcome.error is None
    reading = [(f, what) for f, what in seen if what.startswith("reading")]
    assert len(reading) >= 10 and all(what.endswith(" MB)") for _, what in reading[:-1])
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_a_streamed_run_keeps_its_points_per_name_for_the_mapping_table(tmp_path, monkeypatch) -> None:
    from runner.importers import read_upload

    monkeypatch.setattr(stream, "STREAM_MIN_BYTES", 0)
    (run,) = read_upload("log.csv", _table(50, odd=False).encode(), stream=True)
    assert run.stream is not None and run.frame.empty and run.rows == len(run.stream) == 150
    table = run.mapping_table().set_index("original")
    assert table.loc["train/loss", "points"] == 50 and table.loc["val_loss", "name"] == "val/loss"
    assert json.dumps(run.meta)  # the run's meta is stored as JSON
