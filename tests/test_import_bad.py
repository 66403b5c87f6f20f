"""Bad input: each case gets one clear message naming the file (and line), or a note, never a traceback."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from import_golden import FIXTURES

from runner.importers import ImportFailed, Limits, read_upload
from runner.importers.base import Parsed
from runner.importers.tidy import finish


def _fails(name: str, data: bytes, limits: Limits | None = None) -> ImportFailed:
    with pytest.raises(ImportFailed) as info:
        read_upload(name, data, limits)
    assert str(info.value).startswith(name)  # the message names the file first
    return info.value


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _event_bytes() -> bytes:
    return next(FIXTURES.glob("tensorboard/overfit/events.out.tfevents.*")).read_bytes()


def test_empty_file() -> None:
    assert str(_fails("metrics.csv", b"")) == "metrics.csv: is empty (0 bytes)"


def test_binary_junk() -> None:
    junk = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert "binary data, not a training log (supported: TensorBoard event files" in str(_fails("junk.bin", junk))


def test_truncated_event_file_keeps_complete_records_and_says_where() -> None:
    data = _event_bytes()
    (run,) = read_upload("events.out.tfevents.1.host", data[: len(data) - 10])
    (note,) = run.warnings
    assert note.startswith("events.out.tfevents.1.host: truncated: the file ends inside record ")
    assert f"of {len(data) - 10})" in note
    (full,) = read_upload("events.out.tfevents.1.host", data)
    assert run.rows == full.rows - 1  # only the cut record is missing


def test_event_file_cut_inside_its_header() -> None:
    assert "no valid TFRecord header" in str(_fails("events.out.tfevents.2.host", _event_bytes()[:6]))


def test_csv_without_numeric_columns() -> None:
    error = _fails("notes.csv", b"step,comment\nfirst,hello\nsecond,world\n")
    assert str(error) == "notes.csv: no numeric metric columns (columns: step, comment)"


def test_csv_without_step_or_epoch_column_takes_the_row_as_the_epoch() -> None:
    # Changed in issue 11: hand-written histories often have no x column; the row is the epoch.
    (run,) = read_upload("x.csv", b"loss,acc\n0.5,0.7\n0.4,0.8\n")
    assert run.axis == "epoch"
    assert run.frame[run.frame["name"] == "loss"]["step"].tolist() == [0, 1]
    assert any("each row is taken as one epoch" in n for n in run.warnings)


def test_non_utf8_text_is_decoded_with_a_note_naming_the_line() -> None:
    # Changed in issue 11: a cp1252/latin-1 log is still a log; decode it, and say so.
    (run,) = read_upload("train.log", "step=1 loss=0.5\nstep=2 loss=0.4 caf\xe9\n".encode("latin-1"))
    assert run.frame["value"].tolist() == [0.5, 0.4]
    assert any("not UTF-8 (byte 0xe9 at line 2); read as cp1252" in n for n in run.warnings)


def test_utf16_with_bom_is_read() -> None:
    (run,) = read_upload("ps.log", "step=1 loss=0.5\r\nstep=2 loss=0.4\r\n".encode("utf-16"))
    assert run.frame["value"].tolist() == [0.5, 0.4]


def test_deeply_nested_json() -> None:
    error = _fails("trainer_state.json", b"[" * 100_000 + b"]" * 100_000)
    assert "JSON nested too deeply to read" in str(error)


def test_huge_json_over_its_limit() -> None:
    data = b'{"log_history": [' + b",".join(b'{"step": %d, "loss": 0.5}' % i for i in range(40_000)) + b"]}"
    error = _fails("trainer_state.json", data, Limits(max_json_bytes=1024 * 1024))
    assert "JSON document of 1 MB is over the 1 MB limit" in str(error)


def test_invalid_json_names_the_line() -> None:
    error = _fails("history.json", b'{"loss": [0.5,\n 0.4,\n oops]}')
    assert error.line == 3 and "not valid JSON" in str(error)


def test_file_over_the_size_limit() -> None:
    error = _fails("big.csv", b"step,loss\n" + b"1,0.5\n" * 400_000, Limits(max_file_bytes=1024 * 1024))
    assert str(error) == ("big.csv: is 2.3 MB, over the import limit of 1.0 MB "
                          "(raise TRAINDOC_MAX_IMPORT_MB to allow it)")


@pytest.mark.parametrize("member", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv", "C:/evil.csv"])
def test_zip_with_escaping_paths_is_refused(member: str) -> None:
    data = _zip({"ok.csv": b"step,loss\n1,0.5\n", member: b"step,loss\n1,0.5\n"})
    assert "points outside the archive (absolute or '..' path); the whole zip is refused" in str(
        _fails("logs.zip", data))


def test_zip_bomb_is_refused_before_expanding() -> None:
    data = _zip({"metrics.csv": b"0" * (50 * 1024 * 1024)})
    assert len(data) < 100_000
    assert "looks like a zip bomb; refused" in str(_fails("bomb.zip", data))
    small = Limits(max_total_bytes=10 * 1024 * 1024)
    assert "over the 10.0 MB limit (a zip bomb?)" in str(_fails("bomb.zip", data, small))


def test_zip_holding_nothing_importable() -> None:
    assert "zip holds no log files" in str(_fails("pics.zip", _zip({"a.png": b"\x89PNG"})))


def test_duplicate_steps_keep_the_last_value_with_a_note() -> None:
    (run,) = read_upload("dup.csv", b"step,loss\n1,0.9\n2,0.8\n2,0.7\n3,0.6\n")
    assert run.frame[["step", "value"]].values.tolist() == [[1, 0.9], [2, 0.7], [3, 0.6]]
    assert run.warnings == ("'loss': 2 rows share a step (first step 2, line 3); the last value of each step "
                            "was kept",)


def test_steps_that_go_back_are_appended_segments_read_in_file_order() -> None:
    (run,) = read_upload("restart.csv", b"step,loss\n1,0.9\n2,0.8\n3,0.7\n2,0.75\n3,0.65\n")
    assert run.frame["step"].tolist() == [1, 2, 3, 4, 5]
    assert run.frame["value"].tolist() == [0.9, 0.8, 0.7, 0.75, 0.65]  # both segments, as written
    assert run.meta["restarts"] == [4]
    assert any(w.startswith("2 appended segments (the step column restarts at lines 5)") for w in run.warnings)


def test_tensorboard_restarts_are_still_sorted_by_step() -> None:
    frame = pd.DataFrame({"step": [1, 2, 3, 2, 3], "name": "loss", "value": [0.9, 0.8, 0.7, 0.75, 0.65],
                          "line": range(1, 6)})
    run = finish("tb", "tensorboard", "tb", Parsed(frame), {})
    assert run.frame["step"].tolist() == [1, 2, 3]
    assert run.frame["value"].tolist() == [0.9, 0.75, 0.65]  # a resumed run re-logs steps: the rerun wins


def test_nan_and_inf_are_kept_as_logged_values() -> None:
    (run,) = read_upload("div.csv", b"step,loss,val_loss\n1,0.5,0.6\n2,nan,\n3,inf,-inf\n")
    assert run.frame["value"].tolist()[:3] == [0.5, pytest.approx(np.nan, nan_ok=True), np.inf]
    by_name = {n: g["value"].tolist() for n, g in run.frame.groupby("name")}
    assert by_name["val_loss"] == [0.6, -np.inf]  # the empty cell is "not logged", not NaN
    assert "'loss': 1 NaN value(s), first at step 2; kept as logged" in run.warnings


def test_text_without_metrics() -> None:
    error = _fails("readme.txt", b"This folder holds my experiments.\nNothing else.\n")
    assert "no metric values found in this text" in str(error)


def test_hparams_alone_is_not_a_run() -> None:
    assert "holds hyper-parameters only" in str(_fails("hparams.json", b'{"lr": 0.1}'))


def test_malformed_csv_names_the_line() -> None:
    error = _fails("bad.csv", b"step,loss\n1,0.5\n2,0.4,9,9\n")
    assert error.line == 3 and "not a well-formed table" in str(error)


def test_folder_path_errors_name_the_file(tmp_path: Path) -> None:
    from runner.importers import read_path

    (tmp_path / "good.csv").write_text("step,loss\n1,0.5\n")
    (tmp_path / "bad.csv").write_bytes(b"")
    with pytest.raises(ImportFailed, match=r"bad\.csv: is empty"):
        read_path(tmp_path)


def test_a_log_truncated_in_place_reads_past_its_nul_padding_with_a_note() -> None:
    """logrotate's copytruncate (or ``> log`` while the writer keeps its offset) leaves NUL bytes first."""
    from runner.importers import read_upload

    text = b"\x00" * 4096 + b"epoch 1 loss: 0.9\r\nepoch 2 loss: 0.7\r\nepoch 3 loss: 0.6\r\n"
    (run,) = read_upload("train.log", text)
    assert run.frame[run.frame.name == "loss"].value.tolist() == [0.9, 0.7, 0.6]
    assert any("4096 NUL bytes" in w for w in run.warnings)


def test_nul_bytes_throughout_are_still_binary() -> None:
    from runner.importers import read_upload
    from runner.importers.base import ImportFailed

    with pytest.raises(ImportFailed, match="binary"):
        read_upload("train.log", b"\x00" * 64 + b"l\x00o\x00s\x00s\x00" * 400)
