"""The lean TensorBoard decoder against TensorBoard's own EventAccumulator, value for value."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from import_golden import FIXTURES
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from runner.importers import read_path
from runner.importers.tbevents import decode


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
