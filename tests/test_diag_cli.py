"""``python -m diagnostics`` end to end: JSON contract, text output, one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runner.store import Store

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture
def keras_csv(tmp_path: Path) -> Path:
    """A Keras CSVLogger file of an overfitting run: val_loss turns up at epoch 15."""
    epochs = np.arange(40)
    loss = 2.0 * np.exp(-epochs / 6) + 0.01
    val = np.where(epochs < 15, 2.0 * np.exp(-epochs / 5) + 0.5, 0.5 + 0.02 * (epochs - 15) + 2 * np.exp(-3))
    acc = np.linspace(0.5, 1.0, 40)
    path = tmp_path / "keras_log.csv"
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    rows = zip(epochs, acc, loss, val, strict=True)
    lines += [f"{e},{a:.4f},{tl:.5f},{a - 0.1:.4f},{v:.5f}" for e, a, tl, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow  # `python -m diagnostics` subprocesses
def test_json_document_follows_the_contract(keras_csv: Path):
    out = cli(str(keras_csv), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"runs", "comparisons"}
    [run] = doc["runs"]
    assert {"source", "format", "metrics", "findings"} <= set(run)
    assert run["format"] == "keras_csv" and run["source"] == str(keras_csv)  # detected by the importers
    assert {"train/loss_epoch", "val/loss", "train/acc", "val/acc"} <= set(run["metrics"])
    rules = [f["rule"] for f in run["findings"]]
    assert "overfitting" in rules
    for f in run["findings"]:
        assert {"rule", "severity", "summary", "evidence", "fixes"} <= set(f)
        assert {"metric", "start_step", "end_step", "values", "marks"} <= set(f["evidence"])
        assert all({"text", "config_patch"} <= set(fix) for fix in f["fixes"])


@pytest.mark.slow  # `python -m diagnostics` subprocesses
def test_text_output_is_per_run_and_severity_marked(keras_csv: Path):
    out = cli(str(keras_csv))
    assert out.returncode == 0
    assert out.stdout.startswith(f"== {keras_csv}")
    assert "▲ WARNING  [overfitting]" in out.stdout


@pytest.mark.slow  # `python -m diagnostics` subprocesses
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x00\x01\x02garbage\xff\xfe", "binary data, not a training log"),
        (b"step,comment\nfirst,hello\n", "no numeric metric columns"),
        (b"", "is empty (0 bytes)"),
    ],
    ids=["binary", "no-step-column", "empty"],
)
def test_unreadable_file_exits_2_with_one_line(tmp_path: Path, content: bytes, problem: str):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    out = cli(str(bad), "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and problem in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.slow  # `python -m diagnostics` subprocesses
def test_missing_file_and_unknown_run_are_one_line_errors(tmp_path: Path):
    out = cli(str(tmp_path / "nope.csv"))
    missing = tmp_path / "nope.csv"
    assert (out.returncode, out.stderr.strip()) == (2, f"error: {missing}: no such file or folder")
    db = tmp_path / "t.db"
    Store(db).create_run("r", {})
    out = cli("--db", str(db), "--run", "99")
    assert (out.returncode, out.stderr.strip()) == (2, f"error: {db}: no run with id 99")


@pytest.mark.slow  # `python -m diagnostics` subprocesses
def test_db_runs_are_diagnosed_and_compared(tmp_path: Path):
    db = tmp_path / "t.db"
    store = Store(db)
    ids = []
    for eps, auc in ((0.1, 0.6), (1e-6, 0.9)):
        run_id = store.create_run(f"eps {eps}", {"optim.name": "adam", "optim.eps": eps, "optim.lr": 1e-3})
        store.write_metrics([(run_id, s, s / 10, "val/auc", auc * s / 20, 0.0) for s in range(1, 21)])
        store.write_metrics([(run_id, s, s / 10, "train/loss", 1.0 / s, 0.0) for s in range(1, 21)])
        ids.append(run_id)
    out = cli("--db", str(db), "--run", str(ids[0]), "--run", str(ids[1]), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [r["run_id"] for r in doc["runs"]] == ids
    [comp] = [c for c in doc["comparisons"] if c["rule"] == "epsilon_sensitivity"]
    assert comp["evidence"]["values"]["best_value"] == 1e-6
    assert comp["fixes"][0]["config_patch"] == {"optim.eps": 1e-6}


@pytest.mark.slow  # `python -m diagnostics` subprocesses
def test_fail_on_levels_and_unreadable_input(keras_csv: Path, tmp_path: Path):
    """The CI gate: 1 when a finding at or above the level is present, 0 below it, 2 on input it cannot read."""
    out = cli(str(keras_csv), "--json")
    severities = {f["severity"] for r in json.loads(out.stdout)["runs"] for f in r["findings"]}
    assert "warning" in severities and "critical" not in severities  # the overfitting file: a warning
    assert cli(str(keras_csv), "--fail-on", "warning").returncode == 1
    assert cli(str(keras_csv), "--fail-on", "info").returncode == 1
    assert cli(str(keras_csv), "--fail-on", "critical").returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02")
    assert cli(str(bad), "--fail-on", "warning").returncode == 2
    assert cli(str(keras_csv), "--fail-on", "loud").returncode == 2  # argparse names the allowed levels


def test_a_finding_prints_as_one_readable_line():
    from diagnostics.findings import Evidence, Finding

    f = Finding("overfitting", "warning", "Overfitting since epoch 7", "s", Evidence("val/loss", 0, 1))
    assert str(f) == "WARNING overfitting: Overfitting since epoch 7"


def test_how_a_file_was_read_is_said_in_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """A guess the reader made (columns named only by their split, read as the loss) reaches the user: a
    ``note:`` line under the run in the text, a ``notes`` list in the JSON document."""
    from diagnostics.cli import main

    path = tmp_path / "history.csv"
    path.write_text(",Training,Validation\n" + "".join(f"{i},{1 / (i + 1):.4f},{1.1 / (i + 1):.4f}\n"
                                                       for i in range(12)))
    assert main([str(path), "--json"]) == 0
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert any("named only by their split" in n for n in run["notes"])
    assert main([str(path)]) == 0
    assert "   note: columns named only by their split" in capsys.readouterr().out
