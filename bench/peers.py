"""traindoc and the peer ``trainspotter`` side by side on the labelled corpus of real logs.

    python bench/peers.py

Both tools are scored with score.py's own logic (loaded by bench/corpus.py) on the labels
both cover (overfitting, divergence), plus files read and false alarms on healthy files.
traindoc runs in-process; trainspotter (pinned in requirements-bench.txt) runs as its CLI,
``trainspotter analyze FILE --output json``, with its format auto-detected and, when it
cannot guess one, forced by the file's extension (csv for .csv/.log, jsonl for .txt/.jsonl,
hf for .json). A trainspotter finding counts as fired at severity warning or error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

SHARED = [("overfitting", "overfitting"), ("divergence", "divergence")]
FORCED = {".csv": "csv", ".log": "csv", ".txt": "jsonl", ".jsonl": "jsonl", ".json": "hf"}
SEVERITY = {"error": "critical", "warning": "warning", "info": "info"}


def trainspotter_findings(path: Path) -> list[tuple[str, str]]:
    """(detector, severity) of trainspotter's findings; RuntimeError when it cannot read the file."""
    exe = shutil.which("trainspotter")
    if exe is None:
        raise RuntimeError("trainspotter is not installed (pip install -r requirements-bench.txt)")
    argv = [exe, "analyze", str(path), "--output", "json", "--no-color"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if out.returncode != 0 and path.suffix.lower() in FORCED:
        out = subprocess.run([*argv, "--format", FORCED[path.suffix.lower()]], capture_output=True, text=True,
                             timeout=120)
    if out.returncode != 0:
        raise RuntimeError((out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"])
    doc = json.loads(out.stdout)
    return [(f.get("detector", ""), SEVERITY.get(f.get("severity", ""), "info")) for f in doc.get("findings", [])]


def table(ours: corpus.Score, peer: corpus.Score) -> str:
    rows = ["| measure | traindoc | trainspotter |", "|---|---|---|"]
    for label, _ in SHARED:
        a, b = ours.labels[label], peer.labels[label]
        rows.append(f"| {label} F1 (tp/fp/fn) | {corpus.fmt(a['f1']).strip()} ({a['tp']}/{a['fp']}/{a['fn']}) | "
                    f"{corpus.fmt(b['f1']).strip()} ({b['tp']}/{b['fp']}/{b['fn']}) |")
    rows.append(f"| files read | {ours.read}/{ours.files} | {peer.read}/{peer.files} |")
    rows.append(f"| healthy files with a false alarm | {len(ours.alarms)}/{ours.healthy} | "
                f"{len(peer.alarms)}/{peer.healthy} |")
    return "\n".join(rows)


def main() -> int:
    ours = corpus.run_tool(corpus.traindoc_findings, label_rules=SHARED)
    peer = corpus.run_tool(trainspotter_findings, label_rules=SHARED)
    print(table(ours, peer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
