"""traindoc and four public peers side by side: the same labelled files, the same run, the same scoring.

    python bench/peers.py                                   # test split of every labelled set
    python bench/peers.py --split all --sets corpus         # the whole corpus only
    python bench/peers.py --reallogs DIR --population DIR   # labelled sets kept elsewhere
    python bench/peers.py --peers runmedic,losslint -v      # some peers, with per-file misses

The labelled sets, their split, the labels and the scoring are ``bench/calibrate.py``'s
(imported, not copied), so a figure here is comparable with its test-split table. traindoc
is judged in-process exactly as there. Each peer (pinned in ``requirements-bench.txt``)
runs as its own CLI on every file of the item, in a subprocess (two at a time at most,
``--timeout`` seconds each), with JSON output; its findings are mapped onto our six labels
by the explicit table ``MAPPINGS`` below, written from each peer's ``--help`` and the
finding ids in its source. What counts, the same for every tool:

- a finding fires at the tool's warning-or-worse severity (runmedic warning/critical,
  trainproof WARN/FAIL, losslint warning/error, trainspotter warning/error); a peer id the
  table maps to a label fires that label; a peer whose matching finding is info-only by
  design (runmedic's val_below_train, losslint's overfit_onset and stagnation,
  trainspotter's plateau) can never fire it, and the table says so;
- a file the peer refuses (non-zero exit without a report, no JSON, a timeout, no loss
  found) is unreadable: it has no findings, so its positives are misses;
- a healthy file alarms on any warning-or-worse finding, mapped or not, as score.py counts
  traindoc's (``early_stop_point`` aside); the "mapped only" row counts only findings the
  table maps to a label, for peers whose other warnings are about throughput or config.

Formats: trainspotter and trainproof read a file by their own guess first, and when they
refuse it, again with the format its extension suggests (``FORCED``); runmedic and losslint
have no format switch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.calibrate import (  # noqa: E402
    CORPUS,
    LABEL_RULES,
    POPULATION,
    REALLOGS,
    Fired,
    Item,
    Score,
    corpus_items,
    fmt,
    judge,
    population_items,
    read_runs,
    reallog_items,
    score,
)

TIMEOUT_S = 120  # per file and peer, as score.py gives traindoc
MAX_JOBS = 2  # the machine is shared: never more than two peer processes at once
RULES = {label: rule for label, rule in LABEL_RULES}

# Peer finding key → traindoc rule id (and so a label, through LABEL_RULES). A key is the
# peer's own finding id, refined by the metric it is about where the id alone claims more
# than the label means (``KEY:metric-kind``). Keys not here are unmapped: they fire no label
# but still count as alarms on healthy files. Comments say why each mapping is what it is.
MAPPINGS: dict[str, dict[str, str]] = {
    "runmedic": {
        "overfitting": "overfitting",  # val loss >= 5 % above its best while train falls; warning from +15 %
        "no_learning": "underfitting",  # train loss improved < 2 % over the run
        "loss_spikes": "loss_oscillation",  # repeated jumps >= 1.5x the trend (robust z > 8): swings, not a blow-up
        "val_below_train": "val_above_train",  # val > 10 % below train in >= 70 % of evals; info only: never fires
        "divergence": "divergence",  # smoothed train loss lost >= 50 % of its progress
        "non_finite:loss": "divergence",  # NaN/inf in the train or val loss
        "log:anomaly_nan": "divergence",  # autograd anomaly mode reported a NaN in the console log
    },
    "trainproof": {
        "TP-OVERFIT": "overfitting",  # eval loss median of last 3 > ratio x its best while train falls
        "TP-DEAD-RUN": "underfitting",  # median of the last losses not below the first ones by the minimum
        "TP-FLAT": "underfitting",  # loss variation ~0: a dead run
        "TP-NAN": "divergence",  # NaN/inf in the (train) loss
        "TP-DIVERGE": "divergence",  # last loss > ratio x the minimum
    },
    "losslint": {
        "overfit_onset": "overfitting",  # info only: never fires
        "stagnation": "underfitting",  # plateau over the last quarter; info only: never fires
        "nan_inf:loss": "divergence",  # NaN/inf in a series named *loss*
        "divergence": "divergence",  # last-decile median > 1.25x the first decile's
        "loss_spike": "divergence",  # train loss > 10x its local median: the label's ">= ~10x blow-up"
    },
    "trainspotter": {
        # eval loss trends up after its best (OLS p < 0.1, >= 1 % rise); trainspotter itself
        # downgrades it to info where it overlaps a divergence or error-level spike finding
        "overfitting": "overfitting",
        "plateau": "underfitting",  # flat train-loss window; info only: never fires
        "spikes:train": "loss_oscillation",  # train-loss points at robust z > 6 over a rolling median: swings
        "divergence": "divergence",  # NaN/inf, or the tail of train/eval loss grows >= 1.5x its minimum
    },
}
# Mapped ids the peer only ever emits at info severity: the mapping is written down for the
# record, but they can never fire their label (a finding fires at warning or worse).
INFO_ONLY: dict[str, frozenset[str]] = {
    "runmedic": frozenset({"val_below_train"}),
    "trainproof": frozenset(),
    "losslint": frozenset({"overfit_onset", "stagnation"}),
    "trainspotter": frozenset({"plateau"}),
}
# Not mappable onto the six labels, by peer: nothing in any peer claims a negative loss
# (the negative_loss label), and trainproof and losslint have nothing about oscillation or
# validation better than training. Their other ids (grad-norm spikes, lr, throughput, step
# time, GPU use, memory, parse warnings, eval noise, loss floor) describe no label.

SEVERITY = {  # each peer's levels → ours (FIRING is warning/critical)
    "critical": "critical", "error": "critical", "FAIL": "critical",
    "warning": "warning", "WARN": "warning",
}
FORCED = {".csv": "csv", ".log": "csv", ".txt": "jsonl", ".jsonl": "jsonl", ".json": "hf"}


class Unreadable(RuntimeError):
    """The peer could not read the file: the item counts as unread, its positives as misses."""


def _exe(name: str) -> str:
    """The peer's console script beside this interpreter (its own environment), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if found is None:
        raise Unreadable(f"{name} is not installed (pip install -r requirements-bench.txt)")
    return found


def _call(argv: list[str], timeout: float) -> tuple[int, Any, str]:
    """(exit code, parsed JSON or None, last stderr/stdout line) of one peer run."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, None, f"timed out after {timeout:g} s"
    try:
        doc = json.loads(out.stdout) if out.stdout.strip() else None
    except json.JSONDecodeError:
        doc = None
    tail = (out.stderr.strip() or out.stdout.strip() or "no output").splitlines()[-1][:200]
    return out.returncode, doc, tail


def _sev(level: Any) -> str:
    return SEVERITY.get(str(level), "info")


def runmedic(path: Path, timeout: float) -> list[tuple[str, str]]:
    """``runmedic diagnose PATH --json``: a list of runs, each with its roles and findings."""
    code, doc, tail = _call([_exe("runmedic"), "diagnose", str(path), "--json"], timeout)
    if code != 0 or not isinstance(doc, list):
        raise Unreadable(tail)
    found = []
    for run in doc:
        loss_series = {n for role in ("train_loss", "val_loss") for n in run.get("roles", {}).get(role, [])}
        for f in run.get("findings", []):
            key = f.get("check", "")
            if key == "non_finite":
                key += ":loss" if f.get("metric") in loss_series else ":other"
            found.append((key, _sev(f.get("severity"))))
    return found


def trainproof(path: Path, timeout: float) -> list[tuple[str, str]]:
    """``trainproof doctor PATH --json``; its exit code is the verdict, so only the report decides."""
    base = [_exe("trainproof"), "doctor", str(path), "--json"]
    reports, tail = _trainproof_reports(base, timeout)
    if not reports and path.suffix.lower() in FORCED:
        reports, tail = _trainproof_reports([*base, "--format", FORCED[path.suffix.lower()]], timeout)
    if not reports:
        raise Unreadable(tail)
    return [(f.get("id", ""), _sev(f.get("level"))) for r in reports for f in r.get("findings", [])]


NO_DATA = frozenset({"TP-NO-LOSS", "TP-NO-RECORDS"})  # trainproof read nothing it could judge


def _trainproof_reports(argv: list[str], timeout: float) -> tuple[list[dict[str, Any]], str]:
    _, doc, tail = _call(argv, timeout)
    if not isinstance(doc, dict):
        return [], tail
    reports = [r for r in doc.get("reports", [])
               if not {f.get("id") for f in r.get("findings", [])} & NO_DATA]
    if not reports:
        why = doc.get("error") or next((f.get("message") for r in doc.get("reports", [])
                                        for f in r.get("findings", []) if f.get("id") in NO_DATA), None)
        tail = str(why or "no readable log records")
    return reports, tail


def losslint(path: Path, timeout: float) -> list[tuple[str, str]]:
    """``losslint check PATH --format json``; exit 1 only means an error finding, 2 an unreadable file."""
    code, doc, tail = _call([_exe("losslint"), "check", str(path), "--format", "json", "--color", "never"], timeout)
    if code not in (0, 1) or not isinstance(doc, dict):
        raise Unreadable(tail)
    found = []
    for f in doc.get("findings", []):
        key = f.get("check", "")
        if key == "nan_inf":
            key += ":loss" if "loss" in str(f.get("details", {}).get("series", "")).lower() else ":other"
        found.append((key, _sev(f.get("severity"))))
    return found


def trainspotter(path: Path, timeout: float) -> list[tuple[str, str]]:
    """``trainspotter analyze PATH --output json``, retried with the format the extension suggests."""
    argv = [_exe("trainspotter"), "analyze", str(path), "--output", "json", "--no-color"]
    code, doc, tail = _call(argv, timeout)
    if code != 0 and path.suffix.lower() in FORCED:
        code, doc, tail = _call([*argv, "--format", FORCED[path.suffix.lower()]], timeout)
    if code != 0 or not isinstance(doc, dict):
        raise Unreadable(tail)
    found = []
    for f in doc.get("findings", []):
        key = f.get("detector", "")
        if key == "spikes":
            key += ":train" if str(f.get("metric", "")).startswith("train") else ":eval"
        found.append((key, _sev(f.get("severity"))))
    return found


PEERS: dict[str, Callable[[Path, float], list[tuple[str, str]]]] = {
    "runmedic": runmedic, "trainproof": trainproof, "losslint": losslint, "trainspotter": trainspotter,
}


def to_rules(peer: str, found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Peer findings as (traindoc rule, severity); an unmapped id stays as ``peer:id``."""
    table = MAPPINGS[peer]
    return [(table.get(key, f"{peer}:{key}"), sev) for key, sev in found]


def judge_peer(peer: str, items: Sequence[Item], timeout: float, jobs: int) -> Fired:
    """Every item's findings by ``peer`` (the union over its paths), or the error of its first path."""
    check = PEERS[peer]

    def one(path: Path) -> list[tuple[str, str]] | str:
        try:
            return to_rules(peer, check(path, timeout))
        except Unreadable as exc:
            return str(exc) or "unreadable"
        except Exception as exc:  # a report shaped unlike the peer's documented JSON: judged as unread
            return f"unexpected report: {type(exc).__name__}: {exc}"[:200]

    paths = sorted({p for item in items for p in item.paths})
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, MAX_JOBS))) as pool:
        done = dict(zip(paths, pool.map(one, paths), strict=True))
    out: Fired = {}
    for item in items:
        results = [done[p] for p in item.paths]
        read = [f for r in results if not isinstance(r, str) for f in r]
        errors = [r for r in results if isinstance(r, str)]
        out[item.name] = read if len(errors) < len(results) else errors[0]
    return out


# ------------------------------------------------------------------------------ the table


def mapped_alarms(s: Score) -> int:
    """Healthy files whose alarms include a finding the mapping gives a label."""
    rules = set(RULES.values())
    return sum(1 for _, fired in s.alarms if set(fired) & rules)


def fired_labels(peer: str | None) -> int:
    """How many of the six labels the tool can fire at all (a mapping to a warning-capable id)."""
    if peer is None:
        return len(LABEL_RULES)
    return len({rule for key, rule in MAPPINGS[peer].items() if key not in INFO_ONLY[peer]})


def _cell(row: dict[str, Any]) -> str:
    return "/".join(fmt(row[k]).strip() for k in ("p", "r", "f1"))


def table(title: str, scores: dict[str, Score], seconds: dict[str, float]) -> str:
    """One markdown table: rows = labels (P/R/F1) and the summary lines, columns = the tools."""
    names = list(scores)
    first = next(iter(scores.values()))
    lines = [f"== {title}: {first.items} files, {first.healthy} healthy; cells are P/R/F1", "",
             "| label (positives) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, _ in LABEL_RULES:
        pos = first.labels[label]["pos"]
        lines.append(f"| {label} ({pos}) | " + " | ".join(_cell(scores[n].labels[label]) for n in names) + " |")
    lines.append("| **macro-F1** | " + " | ".join(f"**{fmt(scores[n].macro_f1).strip()}**" for n in names) + " |")
    lines.append("| healthy-alarm rate | " + " | ".join(
        f"{fmt(s.alarm_rate).strip()} ({len(s.alarms)}/{s.healthy})" for s in scores.values()) + " |")
    lines.append("| healthy alarms, mapped findings only | " + " | ".join(
        f"{mapped_alarms(s)}/{s.healthy}" for s in scores.values()) + " |")
    lines.append("| files read | " + " | ".join(f"{s.items - len(s.unreadable)}/{s.items}" for s in scores.values())
                 + " |")
    lines.append("| labels it can fire | " + " | ".join(
        f"{fired_labels(None if n == 'traindoc' else n)}/{len(LABEL_RULES)}" for n in names) + " |")
    lines.append("| seconds | " + " | ".join(f"{seconds[n]:.1f}" for n in names) + " |")
    return "\n".join(lines)


def details(name: str, s: Score, limit: int) -> str:
    lines = [f"  {name} miss {item}: {label}" for item, label in s.misses[:limit]]
    lines += [f"  {name} extra {item}: {label}" for item, label in s.extras[:limit]]
    lines += [f"  {name} alarm {item}: {', '.join(rules)}" for item, rules in s.alarms[:limit]]
    lines += [f"  {name} unreadable {item}: {err}" for item, err in s.unreadable[:limit]]
    return "\n".join(lines)


def bench(items: Sequence[Item], peers: Sequence[str], timeout: float, jobs: int) -> tuple[dict[str, Score],
                                                                                            dict[str, float]]:
    """traindoc in-process (as calibrate.py judges it), then each peer's CLI, on the same items."""
    scores: dict[str, Score] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    scores["traindoc"] = score(items, judge(read_runs(items)))
    seconds["traindoc"] = time.perf_counter() - started
    for peer in peers:
        started = time.perf_counter()
        scores[peer] = score(items, judge_peer(peer, items, timeout, jobs))
        seconds[peer] = time.perf_counter() - started
    return scores, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("test", "calib", "all"), default="test")
    ap.add_argument("--sets", default="corpus,reallogs,population",
                    help="comma-separated labelled sets, in order (corpus, reallogs, population)")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--reallogs", type=Path, default=REALLOGS)
    ap.add_argument("--population", type=Path, default=POPULATION)
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers, in column order")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per file and peer")
    ap.add_argument("--jobs", type=int, default=MAX_JOBS, help=f"peer processes at once (at most {MAX_JOBS})")
    ap.add_argument("--verbose", "-v", type=int, nargs="?", const=40, default=0, help="list misses/alarms")
    ap.add_argument("--batches", default="", help="real logs only from these collection batches (a,b,c,d)")
    args = ap.parse_args(argv)
    batches = {b.strip() for b in args.batches.split(",") if b.strip()}

    def real() -> list[Item]:
        every = reallog_items(args.reallogs) if args.reallogs.is_dir() else []
        return [i for i in every if not batches or i.name.rsplit("_", 1)[-1] in batches]

    loaders: dict[str, Callable[[], list[Item]]] = {
        "corpus": lambda: corpus_items(args.corpus),
        "reallogs": real,
        "population": lambda: population_items(args.population),
    }
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [s for s in sets if s not in loaders] + [p for p in peers if p not in PEERS]
    if unknown:
        ap.error(f"unknown set or peer: {', '.join(unknown)} (sets: {', '.join(loaders)}; peers: {', '.join(PEERS)})")

    for name in sets:
        every = loaders[name]()
        part = every if args.split == "all" else [i for i in every if i.split == args.split]
        if not part:
            print(f"== {name}, {args.split} split: no labelled files found"
                  f"{'' if every else ' (see bench/calibrate.py for where each set lives)'}\n")
            continue
        scores, seconds = bench(part, peers, args.timeout, args.jobs)
        print(table(f"{name}, {args.split} split", scores, seconds))
        if args.verbose:
            for tool, s in scores.items():
                text = details(tool, s, args.verbose)
                if text:
                    print(text)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
