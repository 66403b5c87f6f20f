"""Calibrate the rules on a population and report them on runs they were never tuned on.

    python bench/calibrate.py                       # test-split figures, today's rules beside them
    python bench/calibrate.py --sweep               # + per-rule precision/recall curves on the calib split
    python bench/calibrate.py --baseline REF        # the git commit whose rules are "today's" (default below)
    python bench/calibrate.py --population DIR      # the generated runs (bench/population.py's cache)
    python bench/calibrate.py --population-index F  # another index of those runs (bench/pop_osc.py's)
    python bench/fault_index.py --out DIR           # today's fault-injected logs as such a DIR (index.jsonl)

Three labelled sets, each split once by ``bench/splits.split_of`` (a seeded hash of the file
name, fixed before any tuning):

- ``corpus``: ``../shared/corpus`` (63 real logs). Earlier rules were tuned on all of it, so
  even its test part is not clean; it is reported for continuity, never as the headline.
- ``reallogs``: ``bench/reallogs`` (real public logs labelled blind by two raters, see its
  README). Its test part is the headline: nothing was tuned on it.
- ``population``: the generated runs, trained for real and written by the real libraries.

Operating points are chosen on ``calib`` only (each set's, then every set's weighed alike: the balanced
sweep is the one the defaults follow): for each rule, its operating parameters are swept, and
the value with the best F1 whose alarm rate on healthy runs stays within
``MAX_HEALTHY_ALARMS`` is printed beside the rule's current default. The test split is
scored once, with the rules as they are, and with the rules of ``--baseline`` (run from a
``git archive`` of that commit in a subprocess, the same files, the same labels).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
REALLOGS = ROOT / "bench" / "reallogs"
POPULATION = ROOT / "bench" / ".population"
BASELINE = "e7ba4aa"  # main before the calibration work: "today's rules"

if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.splits import split_of  # noqa: E402

# label → the rule that answers it (the corpus scorer's mapping, ../shared/corpus/score.py)
LABEL_RULES: tuple[tuple[str, str], ...] = (
    ("overfitting", "overfitting"),
    ("underfitting", "underfitting"),
    ("oscillation", "loss_oscillation"),
    ("negative_loss", "negative_loss"),
    ("val_better_than_train", "val_above_train"),
    ("divergence", "divergence"),
)
FIRING = frozenset({"warning", "critical"})
IGNORED_ON_HEALTHY = frozenset({"early_stop_point"})  # informational, not an alarm
MAX_HEALTHY_ALARMS = 0.03  # the operating point's budget: alarms on healthy runs, per rule
MIN_POSITIVES_FOR_MACRO = 3  # a label with fewer positives is too thin to average in


def truth(label: str, value: Any) -> bool | None:
    """True / False / None (not applicable), as score.py reads a label."""
    if value is None:
        return None
    if label == "negative_loss":
        return value == "illegitimate"
    return bool(value)


@dataclass
class Item:
    """One labelled file (or folder) and its place in the split."""

    name: str
    paths: list[Path]
    labels: dict[str, Any]
    source: str
    split: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return bool(self.labels.get("healthy"))


# ------------------------------------------------------------------------------ the sets


def corpus_items(corpus: Path = CORPUS) -> list[Item]:
    index = corpus / "labels.json"
    if not index.is_file():
        return []
    return [Item(e["id"], [corpus / e["file"]], e["labels"], "corpus", split_of(e["file"]))
            for e in json.loads(index.read_text(encoding="utf-8"))]


def reallog_items(folder: Path = REALLOGS) -> list[Item]:
    """The adjudicated labels (``labels.json``) when present, else every rater-1 manifest."""
    final = folder / "labels.json"
    sources = [final] if final.is_file() else sorted(folder.glob("manifest_*.json"))
    items = []
    for source in sources:
        for e in json.loads(source.read_text(encoding="utf-8")):
            items.append(Item(e["id"], [folder / e["file"]], e["labels"], "reallogs", split_of(e["file"]),
                              {"format": e.get("format", ""), "domain": e.get("domain", "")}))
    return items


def population_items(folder: Path = POPULATION, index: Path | None = None) -> list[Item]:
    """The generated runs of ``folder``'s ``index.jsonl``, or of another index of the same runs (a
    re-labelled one: ``--population-index``; its run paths stay relative to ``folder``)."""
    index = index or folder / "index.jsonl"
    if not index.is_file():
        return []
    items = []
    for line in index.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        e = json.loads(line)
        raw = e.get("paths") or e.get("path")
        paths = [folder / p for p in ([raw] if isinstance(raw, str) else raw)]
        meta = {k: v for k, v in e.items() if k not in ("id", "path", "paths", "labels", "split")}
        labels = dict(e["labels"])
        if labels.get("negative_loss") is True:  # the generator's True is the guide's "illegitimate"
            labels["negative_loss"] = "illegitimate"
        elif e.get("negative_kind") == "legitimate":
            labels["negative_loss"] = "legitimate"
        items.append(Item(e["id"], paths, labels, "population", e.get("split") or split_of(e["id"]), meta))
    return items


# ------------------------------------------------------------------------------ reading and judging

Fired = dict[str, list[tuple[str, str]] | str]  # item name → (rule, severity) findings, or an error line


def read_runs(items: Sequence[Item]) -> dict[str, list[Any] | str]:
    """Each item's runs through the CLI's own reading path (RunData), or its one-line error."""
    from diagnostics.cli import load_all

    out: dict[str, list[Any] | str] = {}
    for item in items:
        try:
            out[item.name] = load_all([str(p) for p in item.paths], None, [])
        except Exception as exc:  # an unreadable file counts as silent: its positives are misses
            out[item.name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return out


def judge(runs: dict[str, list[Any] | str], params: dict[str, dict[str, Any]] | None = None) -> Fired:
    from diagnostics.engine import diagnose

    out: Fired = {}
    for name, loaded in runs.items():
        if isinstance(loaded, str):
            out[name] = loaded
            continue
        out[name] = [(f.rule, f.severity) for run in loaded for f in diagnose(run, params=params)]
    return out


_BASELINE_SCRIPT = """
import json, sys
sys.path.insert(0, '.')
from diagnostics.cli import load_all
from diagnostics.engine import diagnose
out = {}
for name, paths in json.load(sys.stdin).items():
    try:
        out[name] = [(f.rule, f.severity) for run in load_all(paths, None, []) for f in diagnose(run)]
    except Exception as exc:
        out[name] = type(exc).__name__ + ': ' + str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
json.dump(out, sys.stdout)
"""


def judge_at(ref: str, items: Sequence[Item]) -> Fired:
    """The findings of commit ``ref``'s rules and readers on the same files, from a ``git archive`` of it."""
    with tempfile.TemporaryDirectory(prefix="traindoc-baseline-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        request = {i.name: [str(p.resolve()) for p in i.paths] for i in items}
        env = {**os.environ, "PYTHONPATH": tmp}
        done = subprocess.run([sys.executable, "-c", _BASELINE_SCRIPT], input=json.dumps(request), cwd=tmp,
                              capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            raise RuntimeError(f"the baseline at {ref} failed: {done.stderr.strip().splitlines()[-1:]}")
        raw = json.loads(done.stdout)
    return {k: v if isinstance(v, str) else [tuple(x) for x in v] for k, v in raw.items()}


# ------------------------------------------------------------------------------ scoring


@dataclass
class Score:
    """Per-label counts and figures, unreadable items and healthy alarms, for one tool on one set."""

    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    healthy: int = 0
    alarms: list[tuple[str, list[str]]] = field(default_factory=list)
    misses: list[tuple[str, str]] = field(default_factory=list)
    extras: list[tuple[str, str]] = field(default_factory=list)

    @property
    def alarm_rate(self) -> float | None:
        return len(self.alarms) / self.healthy if self.healthy else None

    @property
    def macro_f1(self) -> float | None:
        f1s = [row["f1"] for row in self.labels.values()
               if row["pos"] >= MIN_POSITIVES_FOR_MACRO and row["f1"] is not None]
        return sum(f1s) / len(f1s) if f1s else None


def prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None
    return p, r, f


def score(items: Sequence[Item], fired: Fired) -> Score:
    out = Score(items=len(items))
    hits = {}
    for item in items:
        found = fired.get(item.name, "not judged")
        if isinstance(found, str):
            out.unreadable.append((item.name, found))
            found = []
        hits[item.name] = {rule for rule, sev in found if sev in FIRING}
        if item.healthy:
            out.healthy += 1
            extra = sorted(hits[item.name] - IGNORED_ON_HEALTHY)
            if extra:
                out.alarms.append((item.name, extra))
    for label, rule in LABEL_RULES:
        tp = fp = fn = pos = 0
        for item in items:
            t = truth(label, item.labels.get(label))
            if t is None:
                continue
            hit = rule in hits[item.name]
            pos += t
            tp += t and hit
            fn += t and not hit
            fp += (not t) and hit
            if t and not hit:
                out.misses.append((item.name, label))
            elif hit and not t:
                out.extras.append((item.name, label))
        p, r, f = prf(tp, fp, fn)
        out.labels[label] = {"rule": rule, "pos": pos, "tp": tp, "fp": fp, "fn": fn, "p": p, "r": r, "f1": f}
    return out


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:5.2f}"


def table(title: str, now: Score, before: Score | None) -> str:
    """Per label: P/R/F1 now, and the baseline's beside it."""
    head = f"{'label':22s} {'pos':>4s} {'P':>5s} {'R':>5s} {'F1':>5s}"
    if before:
        head += f" | {'P':>5s} {'R':>5s} {'F1':>5s}  (baseline)"
    lines = [f"== {title}: {now.items} files, {now.healthy} healthy", head]
    for label, row in now.labels.items():
        line = f"{label:22s} {row['pos']:4d} {fmt(row['p'])} {fmt(row['r'])} {fmt(row['f1'])}"
        if before:
            b = before.labels[label]
            line += f" | {fmt(b['p'])} {fmt(b['r'])} {fmt(b['f1'])}"
        lines.append(line)
    alarms = f"healthy alarms {len(now.alarms)}/{now.healthy} ({fmt(now.alarm_rate).strip()})"
    summary = f"{'macro-F1':22s}      {' ' * 12}{fmt(now.macro_f1)}"
    if before:
        summary += f" | {' ' * 12}{fmt(before.macro_f1)}"
        alarms += f"; baseline {len(before.alarms)}/{before.healthy} ({fmt(before.alarm_rate).strip()})"
    unread = f"unreadable {len(now.unreadable)}" + (f"; baseline {len(before.unreadable)}" if before else "")
    return "\n".join([*lines, summary, alarms, unread])


# ------------------------------------------------------------------------------ main


def details(s: Score, limit: int) -> str:
    lines = [f"  miss {name}: {label}" for name, label in s.misses[:limit]]
    lines += [f"  extra {name}: {label}" for name, label in s.extras[:limit]]
    lines += [f"  alarm {name}: {', '.join(rules)}" for name, rules in s.alarms[:limit]]
    lines += [f"  unreadable {name}: {err}" for name, err in s.unreadable[:limit]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=BASELINE, help="git commit of today's rules ('' to skip)")
    ap.add_argument("--population", type=Path, default=POPULATION)
    ap.add_argument("--population-index", type=Path, default=os.environ.get("TRAINDOC_POP_INDEX") or None,
                    help="another index of the population's runs (a re-labelled one, bench/pop_osc.py); "
                         "default $TRAINDOC_POP_INDEX, else index.jsonl")
    ap.add_argument("--sweep", action="store_true", help="print operating-point curves on the calib split")
    ap.add_argument("--split", choices=("test", "calib", "all"), default="test")
    ap.add_argument("--verbose", "-v", type=int, nargs="?", const=40, default=0, help="list misses/alarms")
    ap.add_argument("--sets", default="reallogs,population,corpus",
                    help="comma-separated sets to score (reallogs, population, corpus)")
    ap.add_argument("--batches", default="",
                    help="real logs only from these collection batches (the id's last part: a,b,c,d); "
                         "a batch no rule was tuned on is a clean unseen measurement")
    args = ap.parse_args(argv)
    wanted = {s.strip() for s in args.sets.split(",") if s.strip()}

    batches = {b.strip() for b in args.batches.split(",") if b.strip()}
    real = [i for i in reallog_items() if not batches or i.name.rsplit("_", 1)[-1] in batches]
    sets = {"reallogs": real, "population": population_items(args.population, args.population_index),
            "corpus": corpus_items()}
    unknown = wanted - sets.keys()
    if unknown:
        ap.error(f"unknown set(s) {', '.join(sorted(unknown))}; choose from {', '.join(sets)}")
    sets = {name: items for name, items in sets.items() if name in wanted}
    started = time.perf_counter()
    for name, every in sets.items():
        if not every:
            print(f"== {name}: no labelled files found (see this script's docstring)\n")
            continue
        part = every if args.split == "all" else [i for i in every if i.split == args.split]
        runs = read_runs(part)
        now = score(part, judge(runs))
        before = score(part, judge_at(args.baseline, part)) if args.baseline else None
        print(table(f"{name}, {args.split} split", now, before))
        if args.verbose:
            print(details(now, args.verbose))
        print()
        if args.sweep:
            from bench.operating_points import sweep_report

            calib = [i for i in every if i.split == "calib"]
            print(sweep_report(calib, read_runs(calib)))
            print()
    if args.sweep and len([s for s in sets.values() if s]) > 1:
        from bench.operating_points import balanced_report

        print(balanced_report(sets))  # the operating points the rules' defaults follow
        print()
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
