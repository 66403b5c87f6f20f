"""``python -m diagnostics PATH...`` reads every supported format and folders through the importers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_ui import ROOT
from import_golden import FIXTURES
from test_import_golden import CASES

from diagnostics.cli import main


@pytest.mark.parametrize("case", list(CASES))
def test_every_format_reads_and_follows_the_json_contract(case: str, capsys: pytest.CaptureFixture) -> None:
    path, fmt, roles = CASES[case]
    assert main([str(FIXTURES / path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (run,) = doc["runs"]
    assert set(run) >= {"source", "format", "metrics", "findings"} and run["format"] == fmt
    assert {name for name, *_ in roles.values()} <= set(run["metrics"])
    for finding in run["findings"]:
        assert set(finding) >= {"rule", "severity", "summary", "evidence", "fixes"}


def test_folder_of_every_format_with_comparisons(capsys: pytest.CaptureFixture) -> None:
    assert main([str(FIXTURES), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted({r["format"] for r in doc["runs"]}) == sorted({fmt for _, fmt, _ in CASES.values()})
    lightning = next(r for r in doc["runs"] if r["format"] == "lightning")
    assert "overfitting" in {f["rule"] for f in lightning["findings"]}
    assert "comparisons" in doc


@pytest.mark.slow  # a `python -m diagnostics` subprocess
def test_unreadable_input_is_exit_2_and_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "junk.bin"
    bad.write_bytes(bytes(range(256)) * 20)
    proc = subprocess.run([sys.executable, "-m", "diagnostics", str(bad)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"error: {bad}: binary data, not a training log")
