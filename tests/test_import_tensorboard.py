"""The lean TensorBoard decoder against TensorBoard's own EventAccumulator, value for value; damaged records."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from import_golden import FIXTURES
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tb_masked_crc32c
from torch.utils.tensorboard import SummaryWriter

from runner.importers import read_path, tbevents
from runner.importers.crc32c import LONG_RANGE, masked_crc32c_many
from runner.importers.tbevents import decode, frame_records


def _official(path: Path) -> list[tuple[str, int, float, float]]:
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    rows = [(tag, e.step, e.value, e.wall_time) for tag in acc.Tags()["scalars"] for e in acc.Scalars(tag)]
    for tag in acc.Tags()["tensors"]:  # TF2-style scalars (new_style=True) come back as tensors
        rows += [(tag, e.step, float(e.tensor_proto.float_val[0]), e.wall_time) for e in acc.Tensors(tag)
                 if e.tensor_proto.float_val]
    return sorted(rows)


def _ours(path: Path) -> list[tuple[str, int, float, float]]:
    cols = decode(path.read_bytes()).concat()
    return sorted(zip(cols["name"].tolist(), cols["step"].tolist(), cols["value"].tolist(),
                      cols["wall_time"].tolist(), strict=True))


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x[:2] == y[:2] and x[3] == y[3] and (x[2] == y[2] or (math.isnan(x[2]) and math.isnan(y[2])))
        for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def odd_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything the fast path must hand to the plain decoder: step 0, negative and huge steps, NaN/inf,
    a tag of every length, TF2 tensor scalars, text summaries and a histogram."""
    folder = tmp_path_factory.mktemp("tb-odd")
    writer = SummaryWriter(str(folder))
    rng = np.random.default_rng(0)
    for step in range(0, 400):
        writer.add_scalar("loss", float(rng.normal()), step)
        writer.add_scalar(f"t{'x' * (step % 7)}", float(rng.normal()), step)
    writer.add_scalar("big", 1.5, 2**40)
    writer.add_scalar("neg", 2.5, -7)
    writer.add_scalar("weird", float("nan"), 3)
    writer.add_scalar("weird", float("inf"), 4)
    writer.add_scalar("weird", float("-inf"), 5)
    for step in range(20):
        writer.add_scalar("tf2", step / 3, step, new_style=True)
    writer.add_text("note", "hello", 1)
    writer.add_histogram("w", rng.normal(size=100), 1)
    writer.close()
    return next(folder.glob("events.out.tfevents.*"))


def test_fixture_matches_event_accumulator() -> None:
    for path in sorted(FIXTURES.glob("tensorboard/**/events.out.tfevents.*")):
        ours, official = _ours(path), _official(path)
        assert official and _same(ours, official), path


def test_odd_records_match_event_accumulator(odd_file: Path) -> None:
    ours, official = _ours(odd_file), _official(odd_file)
    assert len(ours) == 400 * 2 + 5 + 20
    assert _same(ours, official)


def test_folder_of_runs_and_merged_writers(tmp_path: Path) -> None:
    for run in ("a", "b"):
        writer = SummaryWriter(str(tmp_path / run))
        for step in range(1, 11):  # add_scalars writes Loss_train/ and Loss_val/ sub-folders
            writer.add_scalars("Loss", {"train": 1.0 / step, **({"val": 2.0 / step} if step % 5 == 0 else {})}, step)
        writer.add_hparams({"optim.eps": 0.1 if run == "a" else 1e-8}, {"hparam/x": 1.0}, run_name="hp")
        writer.close()
    runs = read_path(tmp_path)
    assert [r.name for r in runs] == ["a", "b"]
    assert runs[0].mapping == {"Loss/train": "train/loss", "Loss/val": "val/loss", "hparam/x": "hparam/x"}
    assert [r.config["optim.eps"] for r in runs] == [0.1, 1e-8]


def test_keras_train_and_validation_folders_are_one_run(tmp_path: Path) -> None:
    for split, value in (("train", 0.5), ("validation", 0.7)):
        writer = SummaryWriter(str(tmp_path / "logs" / split))
        for epoch in range(3):
            writer.add_scalar("epoch_loss", value / (epoch + 1), epoch)
        writer.close()
    (run,) = read_path(tmp_path)
    assert run.name == "logs"
    assert run.mapping == {"train/epoch_loss": "train/loss_epoch", "validation/epoch_loss": "val/loss"}


def test_crc32c_equals_tensorboards_own() -> None:
    """Every length class: empty, partial chunks only, whole 64-byte chunks, and the long-range path."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, 3 * LONG_RANGE + 500, dtype=np.uint8).tobytes()
    lengths = [*range(0, 200), 4096, LONG_RANGE - 1, LONG_RANGE, LONG_RANGE + 4096 + 63, 3 * LONG_RANGE]
    starts = [int(rng.integers(0, len(data) - length + 1)) for length in lengths]
    ours = masked_crc32c_many(np.frombuffer(data, dtype=np.uint8), np.array(starts), np.array(lengths))
    assert ours.tolist() == [tb_masked_crc32c(data[s: s + n]) for s, n in zip(starts, lengths, strict=True)]


@pytest.fixture(scope="module")
def loss_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("tb-loss")
    writer = SummaryWriter(str(folder))
    for step in range(100):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    return next(folder.glob("events.out.tfevents.*")).read_bytes()


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(data)
    return path


def _record_of_step(data: bytes, step: int) -> int:
    """Index of the record holding ``loss`` at ``step`` (record 0 is the file-version event)."""
    starts, lengths, _ = frame_records(data)
    for i, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        if tbevents._readable_step(data, start, length) == step and b"loss" in data[start: start + length]:
            return i
    raise AssertionError(step)


def test_clean_file_has_no_notes(loss_file: bytes) -> None:
    assert decode(loss_file).notes == []


def test_flipped_value_byte_skips_that_record_and_names_it(loss_file: bytes, tmp_path: Path) -> None:
    starts, lengths, _ = frame_records(loss_file)
    i = _record_of_step(loss_file, 40)
    damaged = bytearray(loss_file)
    damaged[int(starts[i] + lengths[i]) - 1] ^= 0x7F  # the float's sign/exponent byte: 0.0244 becomes huge
    out = decode(bytes(damaged))
    assert out.notes == [f"record {i + 1} at byte {int(starts[i]) - 12} (step 40) failed its data checksum; skipped"]
    expected = [row for row in _official(_write(tmp_path, loss_file)) if row[1] != 40]
    assert _same(_ours(_write(tmp_path, bytes(damaged))), expected)


@pytest.mark.parametrize("batch", [tbevents.WALK_BATCH, 3], ids=["one-walk", "walk-in-batches-of-3"])
@pytest.mark.parametrize("where", [0, 8], ids=["length-byte", "length-crc-byte"])
def test_corrupted_length_resumes_at_the_next_record(loss_file: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     batch: int, where: int) -> None:
    monkeypatch.setattr(tbevents, "WALK_BATCH", batch)
    starts, lengths, _ = frame_records(loss_file)
    i = _record_of_step(loss_file, 30)
    header = int(starts[i]) - 12
    damaged = bytearray(loss_file)
    damaged[header + where] ^= 0x04
    out = decode(bytes(damaged))
    following = header + 12 + int(lengths[i]) + 4
    assert out.notes == [f"the record length at byte {header} failed its checksum; bytes {header}-{following - 1} "
                         f"skipped, reading resumed at the next valid record (byte {following})"]
    expected = [row for row in _official(_write(tmp_path, loss_file)) if row[1] != 30]
    assert _same(_ours(_write(tmp_path, bytes(damaged))), expected)  # the 69 records after it are all read


@pytest.mark.parametrize("where", [0, 3, 8, 11], ids=["length-byte", "length-high-byte", "crc-byte", "crc-high-byte"])
def test_a_corrupted_first_header_resumes_at_the_next_record_with_a_note(loss_file: bytes, tmp_path: Path,
                                                                        where: int) -> None:
    """The first record's header used to decide whether the file was an event file at all: damaged,
    the whole file was refused, while the same damage one record later was skipped with a note."""
    _starts, lengths, _ = frame_records(loss_file)
    damaged = bytearray(loss_file)
    damaged[where] ^= 0x10
    following = 12 + int(lengths[0]) + 4
    assert tbevents.looks_like_events(bytes(damaged)) and tbevents.first_record_at(bytes(damaged)) == following
    out = decode(bytes(damaged))
    assert out.notes == [f"the record length at byte 0 failed its checksum; bytes 0-{following - 1} skipped, "
                         f"reading resumed at the next valid record (byte {following})"]
    # record 0 is the file-version event: every scalar is still there, value for value
    assert _same(_ours(_write(tmp_path, bytes(damaged))), _official(_write(tmp_path, loss_file)))


def test_a_damaged_first_header_with_no_whole_record_after_it_is_not_an_event_file(loss_file: bytes) -> None:
    damaged = bytearray(loss_file[:200])
    damaged[0] ^= 0x10
    for i in range(24, len(damaged)):  # every later record's data damaged too: nothing proves the framing
        damaged[i] ^= 0x55
    assert not tbevents.looks_like_events(bytes(damaged))
    assert not tbevents.looks_like_events(np.random.default_rng(0).bytes(1 << 17))  # random bytes are not one


def test_length_claiming_past_the_end_is_resynchronised_too(loss_file: bytes) -> None:
    """A corrupted length that points beyond the file used to read as 'truncated' and drop the rest."""
    starts, _, _ = frame_records(loss_file)
    i = _record_of_step(loss_file, 10)
    damaged = bytearray(loss_file)
    damaged[int(starts[i]) - 12 + 5] = 0x7F  # a length of about 2**47 bytes
    out = decode(bytes(damaged))
    assert len(out.notes) == 1 and "reading resumed at the next valid record" in out.notes[0]
    assert len(out.concat()["step"]) == 99


def test_garbage_after_a_bad_length_to_the_end(loss_file: bytes) -> None:
    starts, _, _ = frame_records(loss_file)
    i = _record_of_step(loss_file, 90)
    header = int(starts[i]) - 12
    damaged = loss_file[:header] + b"\xff" * (len(loss_file) - header)
    out = decode(damaged)
    assert out.notes == [f"the record length at byte {header} failed its checksum; bytes {header}-{len(damaged) - 1} "
                         "skipped, no valid record follows"]
    assert out.concat()["step"].tolist() == list(range(90))


def test_many_bad_records_are_counted_not_listed(loss_file: bytes) -> None:
    starts, lengths, _ = frame_records(loss_file)
    damaged = bytearray(loss_file)
    for i in range(1, 31):
        damaged[int(starts[i] + lengths[i]) - 1] ^= 0x01
    out = decode(bytes(damaged))
    assert len(out.notes) == tbevents.NAMED_BAD_RECORDS + 1
    assert out.notes[-1] == f"{30 - tbevents.NAMED_BAD_RECORDS} more records failed their data checksum; skipped"
    assert out.concat()["step"].tolist() == list(range(30, 100))


def test_ultralytics_loss_parts_in_tensorboard_are_summed_like_its_csv(tmp_path: Path) -> None:
    """Ultralytics writes the same box/cls/dfl parts to TensorBoard as to results.csv, and no total: the
    totals are added (derived) so the rules read the loss the trainer minimised. Two training losses with
    no val twins (a GAN's generator and discriminator) are not parts of one total."""
    writer = SummaryWriter(str(tmp_path / "yolo"))
    for epoch in range(5):
        for part, scale in (("box", 1.0), ("cls", 2.0), ("dfl", 0.5)):
            writer.add_scalar(f"train/{part}_loss", scale * (2 - epoch / 5), epoch)
            writer.add_scalar(f"val/{part}_loss", scale * (1.9 - epoch / 5), epoch)
    writer.close()
    (run,) = read_path(tmp_path / "yolo")
    totals = run.frame[run.frame["name"] == "val/loss"].sort_values("step")["value"].to_numpy()
    assert totals == pytest.approx([3.5 * (1.9 - e / 5) for e in range(5)], rel=1e-6)
    assert "sum of" in run.meta["derived"]["train/loss_epoch"]
    gan = SummaryWriter(str(tmp_path / "gan"))
    for step in range(5):
        gan.add_scalar("train/g_loss", 1.0 + step, step)
        gan.add_scalar("train/d_loss", 0.5, step)
    gan.close()
    (run,) = read_path(tmp_path / "gan")
    assert "train/loss_epoch" not in set(run.frame["name"])
