"""A labelled population of really trained runs, written by the real writer libraries, to calibrate on.

    python bench/population.py --n 2000 --out bench/.population --workers 2
    python bench/population.py --subset tests                # the seeded ~100-run subset (index-tests.jsonl)

Each run is drawn (bench/pop_draw.py: family, fault and strength, writer, optimizer, schedule,
cadence, length, with a healthy twin per faulty run), trained in a plain torch loop
(bench/pop_train.py) or, for a tenth, by a real framework loop (bench/fault_writers.py:
Lightning Trainer, HF Trainer, Keras fit), written through a real library's writer
(bench/pop_writers.py), and labelled by what its written numbers show (bench/pop_confirm.py):
a run whose numbers do not show its fault is relabelled or dropped and listed in
``dropped.jsonl``, never scored wrongly. Each kept run gets one line of ``index.jsonl`` (paths
relative to the cache folder, labels as in ../shared/corpus/labels.json, severity, metadata,
and the ``split`` of bench/splits.py) and records whether traindoc's reader reads the curves
back. Runs already written are skipped, so an interrupted population resumes; ``--rejudge`` labels
the cached runs again from the curves their records keep, without training.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pop_draw import population  # noqa: E402
from bench.pop_spec import RunSpec  # noqa: E402
from bench.splits import split_of  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / ".population"
SUBSET_SHARE = 20  # --subset tests keeps the runs whose id hashes to 0 modulo this (about 1 in 20)
SUBSET_OF = 2000  # ... of the first this many runs: about 100 runs
RECORD = "record.json"


def in_subset(run_id: str) -> bool:
    return int(hashlib.sha256(f"subset:{run_id}".encode()).hexdigest(), 16) % SUBSET_SHARE == 0


def specs(n: int, subset: str | None = None) -> list[RunSpec]:
    if subset == "tests":
        return [s for s in population(max(n, SUBSET_OF)) if in_subset(s.id)]
    return population(n)


# ---------------------------------------------------------------------- one run, in a worker

def _quiet() -> None:
    import logging

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "transformers", "tensorboardX"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _framework(spec: RunSpec, folder: Path) -> Any:
    """A run trained by a real framework loop (bench/fault_writers.py) from the spec's knobs."""
    from bench.fault_writers import WRITERS, Scenario
    from bench.pop_writers import Written

    opt = {"momentum": "sgd_momentum"}.get(spec.optimizer, spec.optimizer)
    sc = Scenario(spec.id, spec.label, train_n=spec.train_n, hidden=spec.width, dropout=spec.dropout, optimizer=opt,
                  lr=spec.lr, epochs=spec.n_evals, batch=spec.batch, noise=spec.label_noise,
                  lr_growth=spec.lr_growth ** (1 / spec.n_evals))
    path, tr, va = WRITERS[spec.writer.removeprefix("fw_")](sc, folder)
    names = {"fw_lightning": ("train_loss_epoch", "val_loss"), "fw_hf": ("loss", "eval_loss"),
             "fw_keras": ("loss", "val_loss")}[spec.writer]
    return Written([str(Path(path).relative_to(folder))], [float(x) for x in tr], [float(x) for x in va],
                   names={"train": names[0], "val": names[1]})


def read_back(paths: list[Path]) -> dict[str, Any]:
    """What traindoc's CLI reading path makes of the files: runs, canonical names, points per name."""
    from diagnostics.cli import load_all

    try:
        runs = load_all([str(p) for p in paths], None, [])
    except Exception as exc:  # recorded, not raised: an unreadable layout is a finding for the importers
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    series = {name: len(s) for run in runs for name, s in run.series.items()}
    return {"ok": True, "runs": len(runs), "series": series}


def make(spec: RunSpec, out: Path, check_read: bool = True) -> dict[str, Any]:
    """Train, write, judge and (optionally) read back one run; returns its record (also saved beside it)."""
    from bench.pop_confirm import judge
    from bench.pop_train import train
    from bench.pop_writers import WRITERS

    _quiet()
    folder = out / "runs" / spec.id
    done = folder / RECORD
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    tmp = out / "runs" / f".{spec.id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    if spec.writer.startswith("fw_"):
        written = _framework(spec, tmp)
    else:
        hist = train(spec)
        written = WRITERS[spec.writer](spec, hist, tmp)
    trained = time.perf_counter() - started
    v = judge(spec.family, spec.label, spec.softmax_nll, written.train, written.val, written.steps or None)
    finite = [x for x in written.train + written.val if x == x and abs(x) != float("inf")]
    negative = "softmax_nll" if spec.softmax_nll else ("legitimate" if finite and min(finite) < 0 else "")
    rec: dict[str, Any] = {
        "id": spec.id, "split": split_of(spec.id), "kept": v.dropped is None, "dropped": v.dropped,
        "paths": [f"runs/{spec.id}/{p}" for p in written.paths], "labels": v.labels, "severity": v.severity,
        "family": spec.family, "writer": spec.writer, "optimizer": spec.optimizer, "schedule": spec.schedule,
        "n_evals": len(written.val), "cadence": spec.cadence, "fault": spec.fault, "intended": spec.label,
        "strength": ("mild", "clear", "severe")[spec.strength] if spec.label else "", "negative_kind": negative,
        "group": spec.group, "twin_of": spec.twin_of, "names": written.names, "notes": v.notes,
        "train_seconds": round(trained, 3), "spec": spec.meta(),
        "curves": {"train": written.train, "val": written.val, "steps": written.steps},  # to re-judge without training
    }
    if check_read:  # dropped runs too: a re-judged run may be kept later
        rec["read"] = read_back([tmp / p for p in written.paths])
    rec["seconds"] = round(time.perf_counter() - started, 3)
    (tmp / RECORD).write_text(json.dumps(rec), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return rec


def rejudge(rec: dict[str, Any]) -> dict[str, Any]:
    """The record's labels judged again from the curves it wrote (after bench/pop_confirm.py changed)."""
    from bench.pop_confirm import judge

    if "curves" not in rec or "spec" not in rec:
        return rec
    s, c = rec["spec"], rec["curves"]
    v = judge(s["family"], s["label"], s["softmax_nll"], c["train"], c["val"], c["steps"] or None)
    return {**rec, "kept": v.dropped is None, "dropped": v.dropped, "labels": v.labels, "severity": v.severity,
            "notes": v.notes}


def _safe_make(spec: RunSpec, out: Path, check_read: bool) -> dict[str, Any]:
    try:
        return make(spec, out, check_read)
    except Exception as exc:  # one broken run must not stop the population; it is listed as dropped
        return {"id": spec.id, "kept": False, "dropped": f"error {type(exc).__name__}: {exc}"[:300],
                "writer": spec.writer, "family": spec.family, "fault": spec.fault,
                "trace": traceback.format_exc()[-1500:], "error": True}


# ------------------------------------------------------------------------------- driver

def write_index(out: Path, todo: list[RunSpec], records: dict[str, dict[str, Any]],
                suffix: str = "") -> tuple[int, int]:
    """index.jsonl (kept runs) and dropped.jsonl (the rest, with why), in population order.

    A subset writes ``index-<suffix>.jsonl`` beside the full index, which it leaves alone.
    """
    kept = dropped = 0
    tail = f"-{suffix}" if suffix else ""
    with open(out / f"index{tail}.jsonl", "w", encoding="utf-8") as idx, \
            open(out / f"dropped{tail}.jsonl", "w", encoding="utf-8") as dr:
        for s in todo:
            rec = records.get(s.id)
            if rec is None:
                continue
            if rec.get("kept"):
                idx.write(json.dumps({k: v for k, v in rec.items() if k not in ("spec", "curves")}) + "\n")
                kept += 1
            else:
                dr.write(json.dumps({k: rec.get(k) for k in ("id", "fault", "intended", "family", "writer",
                                                             "dropped", "paths")}) + "\n")
                dropped += 1
    return kept, dropped


def run(todo: list[RunSpec], out: Path, workers: int, check_read: bool = True, log=print,
        again: bool = False, make_new: bool = True, suffix: str = "") -> dict[str, dict[str, Any]]:
    """Make every run of ``todo`` not yet under ``out`` (``again``: re-judge the cached ones), then write the index."""
    out.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    fresh = 0
    pending = []
    for s in todo:
        path = out / "runs" / s.id / RECORD
        if path.is_file():
            records[s.id] = json.loads(path.read_text(encoding="utf-8"))
            if again:
                records[s.id] = rejudge(records[s.id])
                path.write_text(json.dumps(records[s.id]), encoding="utf-8")
        else:
            pending.append(s)
    if not make_new:
        todo, pending = [s for s in todo if s.id in records], []
    log(f"{len(records)} runs cached, {len(pending)} to make under {out}")

    def progress(rec: dict[str, Any]) -> None:
        nonlocal fresh
        fresh += 1
        records[rec["id"]] = rec
        rate = (time.perf_counter() - started) / fresh
        eta = rate * (len(pending) - fresh)
        what = ",".join(k for k, b in (rec.get("labels") or {}).items() if b) or f"DROPPED {rec.get('dropped')}"
        log(f"[{len(records)}/{len(todo)}] {rec['id']:24s} {rec.get('writer', ''):15s} {what} "
            f"{rec.get('seconds', 0):.1f}s  ({rate:.2f} s/run, ETA {eta / 60:.1f} min)", flush=True)
        if fresh % 25 == 0:
            write_index(out, todo, records, suffix)

    if workers <= 1:
        for s in pending:
            progress(_safe_make(s, out, check_read))
    else:
        with ProcessPoolExecutor(workers) as pool:
            for fut in as_completed([pool.submit(_safe_make, s, out, check_read) for s in pending]):
                progress(fut.result())
    kept, dropped = write_index(out, todo, records, suffix)
    log(f"done: {kept} kept, {dropped} dropped, {fresh} made in {time.perf_counter() - started:.0f} s")
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="runs in the population (groups of a fault and its twin)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--subset", choices=["tests"], default=None, help="the seeded ~100-run subset")
    ap.add_argument("--only", nargs="*", default=None, help="just these run ids")
    ap.add_argument("--no-read", action="store_true", help="skip reading each run back through traindoc's reader")
    ap.add_argument("--rejudge", action="store_true", help="label cached runs again from their written curves")
    ap.add_argument("--cached-only", action="store_true", help="make nothing new: index the runs already written")
    args = ap.parse_args(argv)
    todo = specs(args.n, args.subset)
    if args.only:
        todo = [s for s in todo if s.id in set(args.only)]
    run(todo, args.out, args.workers, not args.no_read, log=lambda *a, **k: print(*a, **k), again=args.rejudge,
        make_new=not args.cached_only, suffix=args.subset or "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "make", "run", "specs", "read_back", "in_subset"]
