"""Re-label a generated population's oscillation, intent-free, into a separate index.

    python bench/pop_osc.py                          # bench/.population/index.jsonl -> index.osc.jsonl
    python bench/calibrate.py --population-index bench/.population/index.osc.jsonl ...

The population's first labels counted a mild oscillation only when it was the fault a run was
meant to show, against a per-family floor a rule cannot know. ``bench/pop_confirm.oscillation``
reads the numbers alone, as a rater applies the corpus guide; this script applies it to every
kept run from the curves its record stored (no retraining) and writes a new index beside the old
one, which it leaves alone (others measure against it). Only ``oscillation`` changes, and
``healthy`` with it: a run is healthy when it was, or when an oscillation was its only label and
its curves pass the population's healthy test; a borderline oscillation (None) is no healthy probe.
The run set (kept/dropped) is unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.pop_confirm import _healthy_or_why, _shift, osc_label  # noqa: E402

POPULATION = ROOT / "bench" / ".population"
OTHER_FAULTS = ("overfitting", "underfitting", "negative_loss", "val_better_than_train", "divergence")


def relabel(entry: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """``entry`` (an index line) with its oscillation judged again from ``record``'s curves."""
    labels = dict(entry["labels"])
    spec, curves = record.get("spec") or {}, record.get("curves") or {}
    if spec.get("softmax_nll") or not curves.get("train"):
        return entry  # a Softmax + NLLLoss curve is -p(correct): its label is negative_loss alone
    tr = _shift(entry["family"], curves["train"])  # the healthy test judges above the family's floor
    va = _shift(entry["family"], curves["val"])
    osc = osc_label(np.asarray(curves["train"], dtype=float), bool(labels.get("divergence")))  # as written
    others = any(labels.get(k) is True for k in OTHER_FAULTS)
    if osc is not False or others:
        healthy = False
    elif labels.get("healthy"):
        healthy = True
    else:  # an oscillation was its only label and it shows none now: healthy if its curves are
        healthy = bool(labels.get("oscillation")) and _healthy_or_why(tr, va) is None
    return {**entry, "labels": {**labels, "oscillation": osc, "healthy": healthy}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--population", type=Path, default=POPULATION)
    ap.add_argument("--out", type=Path, default=None, help="default: index.osc.jsonl beside the index")
    args = ap.parse_args(argv)
    src = args.population / "index.jsonl"
    out = args.out or args.population / "index.osc.jsonl"
    changed: Counter[tuple[str, str, str]] = Counter()
    lines = []
    for line in src.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        record = json.loads((args.population / "runs" / entry["id"] / "record.json").read_text(encoding="utf-8"))
        new = relabel(entry, record)
        for key in ("oscillation", "healthy"):
            before, after = entry["labels"].get(key), new["labels"].get(key)
            if before != after:
                changed[(entry.get("split", "?"), key, f"{before}->{after}")] += 1
        lines.append(json.dumps(new))
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"{len(lines)} runs -> {out}")
    for (split, key, how), n in sorted(changed.items()):
        print(f"  {split:6s} {key:12s} {how:14s} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
