"""The labelled corpus of real logs (../shared/corpus), scored in-process with score.py's own logic.

    python bench/corpus.py [--verbose]

``score.py`` runs ``python -m diagnostics FILE --json`` once per file (about a minute for
63 files); this module loads score.py as a module (its label → rule mapping, ``truth``,
``prf``, what counts as fired and as a false alarm) and diagnoses every file in this
process instead, in a few seconds, with the same reading path as the CLI
(``diagnostics.cli.load_all``). The floor test uses it; nothing of score.py is copied here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def load_scorer(corpus: Path = CORPUS) -> ModuleType:
    """score.py as a module (ImportError when the corpus is not beside this checkout)."""
    path = corpus / "score.py"
    if not path.is_file():
        raise ImportError(f"no corpus scorer at {path}")
    spec = importlib.util.spec_from_file_location("corpus_score", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entries(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    return json.loads((corpus / "labels.json").read_text(encoding="utf-8"))


def traindoc_findings(path: Path) -> list[tuple[str, str]]:
    """(rule, severity) of every finding on every run of one file, as the CLI would give them."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from diagnostics.cli import load_all
    from diagnostics.engine import diagnose

    return [(f.rule, f.severity) for run in load_all([str(path)], None, []) for f in diagnose(run)]


@dataclass
class Score:
    """One tool's figures on the corpus: per label (tp, fp, fn, P, R, F1), unreadable files, false alarms."""

    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    alarms: list[tuple[str, list[str]]] = field(default_factory=list)
    healthy: int = 0
    files: int = 0
    macro_f1: float | None = None
    seconds: float = 0.0
    detail: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.files - len(self.unreadable)


def run_tool(findings: Callable[[Path], list[tuple[str, str]]], corpus: Path = CORPUS,
             only: Iterable[str] | None = None,
             label_rules: list[tuple[str, str]] | None = None) -> Score:
    """Score ``findings`` (path → (rule, severity) list; any exception = unreadable) like score.py does."""
    scorer = load_scorer(corpus)
    todo = entries(corpus)
    if only:
        keep = set(only)
        todo = [e for e in todo if e["id"] in keep]
    label_rules = label_rules or list(scorer.LABEL_RULES)
    started = time.perf_counter()
    results = {}
    for e in todo:
        res: dict[str, Any] = {"fired": set(), "all": [], "error": None}
        try:
            res["all"] = findings((corpus / e["file"]).resolve())
        except Exception as exc:  # a file the tool cannot read: its positives are misses
            res["error"] = f"{type(exc).__name__}: {scorer.one_line(str(exc))}"
        res["fired"] = {rule for rule, sev in res["all"] if sev in scorer.FIRING}
        results[e["id"]] = res
    out = Score(files=len(todo), seconds=time.perf_counter() - started)
    macro = []
    for label, rule in label_rules:
        tp = fp = fn = pos = 0
        for e in todo:
            t = scorer.truth(label, e["labels"].get(label))
            if t is None:
                continue
            fired = rule in results[e["id"]]["fired"]
            pos += t
            tp += t and fired
            fn += t and not fired
            fp += (not t) and fired
        p, r, f = scorer.prf(tp, fp, fn)
        out.labels[label] = {"rule": rule, "pos": pos, "tp": tp, "fp": fp, "fn": fn, "p": p, "r": r, "f1": f}
        if pos >= 3 and f is not None:
            macro.append(f)
    out.macro_f1 = sum(macro) / len(macro) if macro else None
    out.unreadable = [(e["id"], results[e["id"]]["error"]) for e in todo if results[e["id"]]["error"]]
    mapped = {rule for _, rule in label_rules}
    for e in todo:
        res = results[e["id"]]
        if e["labels"].get("healthy"):
            out.healthy += 1
            extra = sorted({r for r, s in res["all"] if s in scorer.FIRING and r not in scorer.IGNORED_ON_HEALTHY})
            if extra:
                out.alarms.append((e["id"], extra))
        expected = {rule for label, rule in label_rules if scorer.truth(label, e["labels"].get(label))}
        misses = sorted(expected - res["fired"])
        extra = sorted(r for r in res["fired"] - expected - scorer.IGNORED_ON_HEALTHY if r in mapped)
        if misses or extra:
            out.detail.append((e["id"], misses, extra))
    return out


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:5.2f}"


def report(score: Score, verbose: bool = False) -> str:
    lines = [f"{'label':24s} {'pos':>4s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'prec':>5s} {'rec':>5s} {'F1':>5s}"]
    for label, row in score.labels.items():
        lines.append(f"{label:24s} {row['pos']:4d} {row['tp']:4d} {row['fp']:4d} {row['fn']:4d} {fmt(row['p'])} "
                     f"{fmt(row['r'])} {fmt(row['f1'])}")
    lines.append(f"files read {score.read}/{score.files}; healthy false alarms {len(score.alarms)}/{score.healthy}; "
                 f"macro-F1 {fmt(score.macro_f1).strip()}; {score.seconds:.1f} s")
    if verbose:
        lines += [f"  unreadable {i}: {err}" for i, err in score.unreadable]
        lines += [f"  alarm {i}: {', '.join(rules)}" for i, rules in score.alarms]
        lines += [f"  {i}: miss {','.join(m) or '-'}; extra {','.join(x) or '-'}" for i, m, x in score.detail]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    print(report(run_tool(traindoc_findings, only=args.only), args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
