"""Counts of a written population (bench/population.py's index.jsonl and dropped.jsonl).

    python bench/pop_report.py [DIR]

Label counts by family, writer and severity, the split, drops by intended fault, seconds per
run, and which writers traindoc's reader could not read back (a finding for the importers).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / ".population"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()] if path.is_file() else []


def shown(rec: dict[str, Any]) -> list[str]:
    return [k for k, v in rec["labels"].items() if v]


TRAIN = ("train/loss", "train/loss_epoch")


def complete(rec: dict[str, Any], out: Path) -> bool:
    """Whether the reader found every written val loss and at least as many train losses as were written."""
    series = rec["read"].get("series", {})
    curves = json.loads((out / "runs" / rec["id"] / "record.json").read_text(encoding="utf-8"))["curves"]
    return series.get("val/loss") == len(curves["val"]) and any(series.get(t, 0) >= len(curves["train"]) for t in TRAIN)


def table(rows: dict[str, Counter], cols: list[str], title: str) -> str:
    head = f"| {title} | " + " | ".join(cols) + " | all |"
    out = [head, "|---" * (len(cols) + 2) + "|"]
    for key in sorted(rows):
        c = rows[key]
        out.append(f"| {key} | " + " | ".join(str(c.get(x, 0)) for x in cols) + f" | {sum(c.values())} |")
    return "\n".join(out)


def report(out: Path) -> str:
    index, dropped = _lines(out / "index.jsonl"), _lines(out / "dropped.jsonl")
    if not index:
        return f"no runs under {out}"
    labels = ["overfitting", "underfitting", "oscillation", "negative_loss", "val_better_than_train",
              "divergence", "healthy"]
    by: dict[str, dict[str, Counter]] = {"family": defaultdict(Counter), "writer": defaultdict(Counter),
                                         "severity": defaultdict(Counter), "split": defaultdict(Counter)}
    unread: Counter = Counter()
    partial: Counter = Counter()  # read, but the val or train loss curve is missing or short
    for r in index:
        for k in shown(r):
            for dim in by:
                by[dim][r[dim] or "-"][k] += 1
        read = r.get("read", {})
        if not read.get("ok", True):
            unread[r["writer"]] += 1
        elif read and not complete(r, out):
            partial[r["writer"]] += 1
    secs = [r.get("seconds", 0) for r in index]
    lines = [f"{len(index)} runs kept, {len(dropped)} dropped; {sum(secs) / len(secs):.2f} s per kept run "
             f"(train + write + read back); legitimate negative losses: "
             f"{sum(r.get('negative_kind') == 'legitimate' for r in index)}", ""]
    short = [x[:5] for x in labels]
    for dim, rows in by.items():
        lines += [table(rows, labels, dim).replace(" | ".join(labels), " | ".join(short)), ""]
    relab = Counter(n for r in index for n in r["notes"] if n.startswith("relabelled"))
    lines.append("relabelled: " + ", ".join(f"{k} x{v}" for k, v in relab.most_common()))
    drops = Counter(d.get("fault") for d in dropped)
    lines.append("dropped by fault: " + ", ".join(f"{k} {v}" for k, v in drops.most_common()))
    lines.append("not read back by traindoc's reader: " + (", ".join(f"{k} {v}" for k, v in unread.items()) or "none"))
    lines.append("read, but a labelled curve missing or short: "
                 + (", ".join(f"{k} {v}" for k, v in partial.items()) or "none"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT))
