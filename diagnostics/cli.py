"""``python -m diagnostics PATH... [--json]`` and ``--db FILE --run ID``: findings for log files and runs.

The one module of diagnostics that reads: it is the boundary a user calls, so it asks the
importers and the store for tidy frames (through ``traindoc.handoff``, imported only when
needed) and hands them to the pure core with the runner's config bounds.

Errors the user can fix (a missing file, an unreadable CSV, an unknown run id) become
one line on stderr and exit code 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diagnostics.compare import compare
from diagnostics.engine import diagnose
from diagnostics.findings import SEVERITIES, SEVERITY_RANK, Finding
from diagnostics.rundata import RunData
from runner.textsafe import terminal

EXIT_USAGE = 2
EXIT_FAILED_GATE = 1  # --fail-on: a finding at or above the level is present (a CI job fails)
MARK = {"critical": "✖ CRITICAL", "warning": "▲ WARNING ", "info": "• info    "}
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class InputError(Exception):
    """One line for the user: names the file (or run) and what is wrong."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m diagnostics",
        description=(
            "Diagnose training runs: log files in any supported format (TensorBoard event files, Lightning "
            "metrics.csv, Keras CSVLogger/History JSON, HF trainer_state.json, Ultralytics results.csv, MMEngine "
            "JSON lines, CSV/TSV/JSON lines with a step or epoch column, console logs), folders or zips of them, "
            "or runs in a traindoc database. Several runs given together are also compared."
        ),
    )
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="log files (any supported format), folders or zips of logs, "
        "or a traindoc .db"
    )
    p.add_argument("--db", metavar="FILE", help="a traindoc SQLite database (use with --run)")
    p.add_argument(
        "--run",
        metavar="ID",
        type=int,
        action="append",
        default=[],
        help="run id in --db; repeat for several runs (default: every run in the database)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--rules", action="store_true", help="list the rules (ids, kind, severity, parameters) and exit")
    p.add_argument(
        "--fail-on",
        choices=tuple(reversed(SEVERITIES)),
        metavar="LEVEL",
        help="exit 1 when any finding (a run's or a comparison's) is at or above LEVEL "
        "(info, warning or critical): a CI gate. Exit 0 otherwise, 2 on unreadable input",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rules:
        return list_rules(args.json)
    if not args.paths and not args.db:
        print("error: give at least one PATH or --db FILE (see --help)", file=sys.stderr)
        return EXIT_USAGE
    if args.run and not args.db:
        print("error: --run needs --db FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        runs = load_all(args.paths, args.db, args.run)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from traindoc.handoff import runner_bounds

    bounds = runner_bounds()
    reports = []
    for i, run in enumerate(runs, 1):
        if len(runs) > 5:
            print(f"[{i}/{len(runs)}] {run.meta.get('source')}", file=sys.stderr)
        reports.append((run, diagnose(run, bounds=bounds)))
    comparisons = compare(runs) if len(runs) > 1 else []
    if args.json:
        print(json.dumps(to_document(reports, comparisons), default=_json_default, allow_nan=False))
    else:
        print(terminal(to_text(reports, comparisons), keep_lines=True))  # names come from users' files
    if args.fail_on:
        every = [f for _, findings in reports for f in findings] + comparisons
        tripped = gate(every, args.fail_on)
        if tripped:
            print(f"--fail-on {args.fail_on}: {len(tripped)} finding(s) at or above it: "
                  + ", ".join(sorted({f.rule for f in tripped})), file=sys.stderr)
            return EXIT_FAILED_GATE
    return 0


def gate(findings: Sequence[Finding], level: str) -> list[Finding]:
    """The findings at or above ``level`` (a lower rank is more severe)."""
    return [f for f in findings if SEVERITY_RANK[f.severity] <= SEVERITY_RANK[level]]


def list_rules(as_json: bool) -> int:
    """The registry, as the README's table or (``--json``) one document: the ids findings carry."""
    from diagnostics.catalog import entries, markdown_table

    if not as_json:
        print(markdown_table())
        return 0
    keys = ("id", "kind", "severity", "title", "order", "parameters_defaults")
    print(json.dumps(_clean({"rules": [{k: e[k] for k in keys} for e in entries()]}), default=_json_default))
    return 0


def load_all(paths: Sequence[str], db: str | None, run_ids: Sequence[int]) -> list[RunData]:
    runs: list[RunData] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_file() and path.suffix.lower() in DB_SUFFIXES:
            runs.extend(_read_db(path, []))
        else:
            runs.extend(_read_logs(path))
    if db:
        runs.extend(_read_db(Path(db), run_ids))
    return runs


def _read_logs(path: Path) -> list[RunData]:
    """Every run in a log file, folder or zip, through the importers (runner.importers)."""
    from runner.importers import ImportFailed, read_path
    from traindoc.handoff import from_imported

    try:
        return [from_imported(run) for run in read_path(path)]
    except ImportFailed as exc:
        raise InputError(str(exc)) from None
    except (OSError, ValueError, MemoryError, RecursionError) as exc:
        raise InputError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # an input no importer foresaw: one line for the user, never a traceback
        raise InputError(f"{path}: cannot be read (unexpected {type(exc).__name__}: {exc}; "
                         "please report this file)") from None


def _read_db(path: Path, run_ids: Sequence[int]) -> list[RunData]:
    if not path.is_file():
        raise InputError(f"{path}: no such database file")
    try:
        with path.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise InputError(f"{path}: not an SQLite database")
        from runner.store import Store  # the store owns the SQL; diagnostics only reads through it
        from traindoc.handoff import load_run

        store = Store(path)
        ids = list(run_ids) or sorted(int(i) for i in store.runs(reconcile=False)["id"])
        if not ids:
            raise InputError(f"{path}: database holds no runs")
        out = []
        for run_id in ids:
            try:
                out.append(load_run(store, run_id))
            except KeyError:
                raise InputError(f"{path}: no run with id {run_id}") from None
        return out
    except (sqlite3.Error, OSError) as exc:
        raise InputError(f"{path}: cannot read the database ({exc})") from None
    except Exception as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: cannot read the database ({type(exc).__name__}: {exc})") from None


def run_document(run: RunData, findings: list[Finding]) -> dict[str, Any]:
    return {
        "source": _source(run),
        "format": run.meta.get("format", "unknown"),
        "name": run.meta.get("name"),
        "run_id": run.meta.get("run_id"),
        "metrics": run.names,
        "notes": list(run.meta.get("notes") or ()),  # how the file was read: guesses and skipped rows
        "findings": [f.to_dict() for f in findings],
    }


def to_document(reports: list[tuple[RunData, list[Finding]]], comparisons: list[Finding]) -> dict[str, Any]:
    """The JSON contract of ARCHITECTURE.md: runs with their findings, then cross-run comparisons."""
    return _clean(
        {"runs": [run_document(r, f) for r, f in reports], "comparisons": [f.to_dict() for f in comparisons]}
    )


def to_text(reports: list[tuple[RunData, list[Finding]]], comparisons: list[Finding]) -> str:
    lines: list[str] = []
    for run, findings in reports:
        lines.append(f"== {_source(run)}  ({run.meta.get('format', 'unknown')}, {len(run.names)} metrics)")
        lines.extend(f"   note: {note}" for note in run.meta.get("notes") or ())
        if not findings:
            lines.append("   no findings")
        for f in findings:
            lines.extend(_finding_lines(f))
        lines.append("")
    if comparisons:
        lines.append("== comparisons")
        for f in comparisons:
            lines.extend(_finding_lines(f))
    return "\n".join(lines).rstrip()


def _finding_lines(f: Finding) -> list[str]:
    out = [f"   {MARK[f.severity]} [{f.rule}] {f.title}", f"      {f.summary}"]
    for i, fix in enumerate(f.fixes[:3], 1):
        patch = (
            f"  (patch: {', '.join(f'{k}={v}' for k, v in fix.config_patch.items())})"
            if fix.config_patch
            else ""
        )
        out.append(f"      fix {i}: {fix.text}{patch}")
    return out


def _source(run: RunData) -> str:
    if run.meta.get("run_id") is not None:
        return f"run {run.meta['run_id']} ({run.meta.get('name')})"
    return str(run.meta.get("source", "?"))


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as strings, so the document stays valid."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _clean(value.item())
    return value


def _json_default(value: Any) -> Any:
    return str(value)
