"""Coverage-guided fuzzing of every importer with atheris (libFuzzer), seeded with the real fixtures.

    pip install atheris
    python bench/fuzz_atheris.py [-max_total_time=120] [-rss_limit_mb=2048]

The contract under fuzz is the same as tests/test_fuzz.py: an upload either imports or
raises ``ImportFailed`` naming the file. Any other exception, a hang past libFuzzer's
timeout or memory past its limit is a crash, saved by libFuzzer as ``crash-*`` to replay.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import runner  # noqa: E402,F401 - torch, pandas & co. load uninstrumented: only our parsers are traced

with atheris.instrument_imports(include=["runner.importers"]):
    from runner.importers import ImportFailed, Limits, read_upload

NAMES = ["metrics.csv", "training.log", "history.json", "trainer_state.json", "results.csv", "scalars.json",
         "run.jsonl", "run.tsv", "events.out.tfevents.1.host", "upload.zip", "console.txt"]
LIMITS = Limits(max_file_bytes=2 << 20, max_total_bytes=8 << 20, max_json_bytes=2 << 20)


def one_input(data: bytes) -> None:
    if not data:
        return
    name = NAMES[data[0] % len(NAMES)]
    with contextlib.suppress(ImportFailed):  # a clean refusal is a pass
        read_upload(name, data[1:], LIMITS)


def main() -> None:
    corpus = Path(tempfile.mkdtemp(prefix="traindoc-fuzz-"))
    for i, fixture in enumerate(sorted((ROOT / "tests" / "fixtures_import").rglob("*"))):
        if fixture.is_file() and fixture.suffix != ".py":
            name_byte = next((j for j, n in enumerate(NAMES) if n.split(".")[-1] == fixture.suffix[1:]), 0)
            (corpus / f"seed{i}").write_bytes(bytes([name_byte]) + fixture.read_bytes())
    try:
        atheris.Setup([sys.argv[0], str(corpus), *sys.argv[1:]], one_input)
        atheris.Fuzz()
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


if __name__ == "__main__":
    main()
