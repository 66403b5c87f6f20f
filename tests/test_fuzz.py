"""Hostile input: every importer and the diagnostics CLI fed random and mutated files.

The contract: an import either returns runs or raises ``ImportFailed`` (one line naming
the file); never another exception, never a hang. Mutations start from the real
fixtures of every supported format, so the fuzzer reaches deep into each parser.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.importers import ImportedRun, ImportFailed, Limits, read_upload

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p for p in (ROOT / "tests" / "fixtures_import").rglob("*") if p.is_file() and p.suffix != ".py")
LIMITS = Limits(max_file_bytes=2 << 20, max_total_bytes=8 << 20, max_json_bytes=2 << 20)
NAMES = ["metrics.csv", "training.log", "history.json", "trainer_state.json", "results.csv", "scalars.json",
         "run.jsonl", "run.tsv", "events.out.tfevents.1.host", "upload.zip", "console.txt", "noext"]


def _import(name: str, data: bytes) -> list[ImportedRun] | None:
    """The contract under test; anything but runs or ImportFailed fails the test.

    No wall-clock limit here (a hang still fails the run; speed belongs in bench/).
    """
    try:
        return read_upload(name, data, LIMITS)
    except ImportFailed as exc:
        assert name in str(exc) and "\n" not in str(exc)
        return None


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]], cut: float) -> bytes:
    out = bytearray(data[: max(1, int(len(data) * cut))])
    for kind, pos, blob in edits:
        if not out:
            break
        i = pos % len(out)
        if kind == 0:
            out[i:i + len(blob)] = blob  # overwrite
        elif kind == 1:
            out[i:i] = blob  # insert
        else:
            del out[i:i + len(blob) + 1]  # delete
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), max_size=6)
fuzz_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                         derandomize=True)


@pytest.mark.slow  # forty mutations of every import fixture
@pytest.mark.parametrize("fixture", FIXTURES, ids=[str(p.relative_to(ROOT / "tests" / "fixtures_import"))
                                                    for p in FIXTURES])
@fuzz_settings
@given(edits=edits, cut=st.floats(0.0, 1.0))
def test_mutated_real_logs_import_or_fail_cleanly(fixture: Path, edits: list, cut: float) -> None:
    _import(fixture.name, _mutate(fixture.read_bytes(), edits, cut))


@fuzz_settings
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=4096))
def test_random_bytes_under_any_name_fail_cleanly(name: str, data: bytes) -> None:
    _import(name, data)


@fuzz_settings
@given(name=st.sampled_from(NAMES), text=st.text(max_size=2000))
def test_random_text_under_any_name_fails_cleanly(name: str, text: str) -> None:
    _import(name, text.encode("utf-8", "surrogatepass"))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(members=st.lists(st.tuples(st.sampled_from(NAMES + ["../evil.csv", "/abs.csv", "a/../../b.csv"]),
                                  st.binary(max_size=512)), max_size=4, unique_by=lambda m: m[0]))
def test_random_zips_fail_cleanly(members: list[tuple[str, bytes]]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    runs = _import("upload.zip", buffer.getvalue())
    for run in runs or []:
        assert ".." not in run.source and not run.source.startswith("/")


def test_mutations_reach_both_outcomes() -> None:
    """The mutator is not degenerate: some mutated real logs still import, some are refused.

    Self-contained (its own tally), so it holds whatever order the tests run in.
    """
    tally = {"tried": 0, "imported": 0, "refused": 0}

    @fuzz_settings
    @given(fixture=st.sampled_from(FIXTURES), edits=edits, cut=st.floats(0.0, 1.0))
    def mutate_one(fixture: Path, edits: list, cut: float) -> None:
        tally["tried"] += 1
        imported = _import(fixture.name, _mutate(fixture.read_bytes(), edits, cut)) is not None
        tally["imported" if imported else "refused"] += 1

    mutate_one()
    print(f"\nfuzz cases: {tally}")
    assert tally["refused"] > 0 and tally["imported"] > 0


@pytest.mark.slow  # a `python -m diagnostics` subprocess per file
@pytest.mark.parametrize("blob", [b"", b"\x00\xff" * 300, b"step,loss\n1,\xff\xfe\n", b"{" * 5000,
                                  b"Epoch 1/3\n" + b"\x1b[31m" * 100], ids=["empty", "binary", "bad-utf8",
                                                                           "deep-json", "ansi-junk"])
def test_the_cli_answers_hostile_files_with_one_line_and_exit_2(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "run.log"
    path.write_bytes(blob)
    done = subprocess.run([sys.executable, "-m", "diagnostics", str(path)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stdout
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "run.log" in done.stderr


@pytest.mark.parametrize("crash", sorted((ROOT / "tests" / "fuzz_regressions").iterdir()), ids=lambda p: p.name)
def test_inputs_atheris_once_crashed_on_now_import_or_fail_cleanly(crash: Path) -> None:
    """Found by bench/fuzz_atheris.py (e.g. a Summary field 1 that was a varint, not a Value)."""
    for name in (crash.name, "metrics.csv", "events.out.tfevents.1.host"):
        _import(name, crash.read_bytes())
