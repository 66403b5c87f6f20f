"""``python -m runner``: presets, run, launch, sweep, lr-find, list, cancel, delete, tag, rename, import.

Errors are turned into one line on stderr and exit code 2 here, at the boundary.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runner import launcher, lr_find, presets, scheduler, scripts, scripts_cli, search, sweep_presets, zoom
from runner.config import ConfigError, RunConfig, coerce, parse_assignments
from runner.executors import EXECUTORS
from runner.plan import Plan, submit
from runner.store import STATUSES, Store, StoreError
from runner.sweep import parse_grid
from runner.textsafe import terminal

if TYPE_CHECKING:
    from runner.lifecycle import WatchFactory


def _parser() -> argparse.ArgumentParser:
    db_help = "SQLite file (default: $TRAINDOC_DB or ./traindoc.db)"
    parser = argparse.ArgumentParser(prog="python -m runner", description="traindoc's training runner")
    parser.add_argument("--db", help=db_help)
    common = argparse.ArgumentParser(add_help=False)  # so --db also works after the command
    common.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    subparsers = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **kw: str) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, parents=[common], **kw)

    add("presets", help="list the built-in presets and what each shows")

    def config_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--preset", default="healthy", help="preset to start from (default: healthy)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key, e.g. --set optim.lr=0.01 (repeatable)")
        p.add_argument("--name", help="run name (default: the preset's name)")

    config_args(add("run", help="train in the foreground, with a progress line"))
    config_args(add("launch", help="train in the background; prints the run id"))
    sweep = add("sweep", help="a group of background runs over a grid of values")
    config_args(sweep)
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="values to sweep, e.g. --grid optim.eps=1e-1,1e-4,1e-8 (repeatable: product)")
    sweep.add_argument("--sweep-preset", choices=list(sweep_presets.SWEEP_PRESETS),
                       help="a built-in sweep (base preset, grid and seeds), e.g. adam_eps")
    sweep.add_argument("--seeds", type=int, default=None, help="repeats of every point over seeds (default 1)")
    sweep.add_argument("--concurrency", type=int, default=2, help="runs of this group at once (default 2)")
    sweep.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local background processes (default) or tasks on a Ray cluster")
    sweep.add_argument("--address", help="Ray cluster address for --executor ray (default: a local Ray)")
    sweep.add_argument("--wait", action="store_true", help="stay in the foreground until all finish")
    search.add_args(sweep)
    zoom = add("zoom", help="the next round of a finished search: new ranges around its best runs")
    zoom.add_argument("group_id", type=int)
    zoom.add_argument("--top", type=int, default=search.ZOOM_TOP, help=f"best runs to zoom around "
                      f"(default {search.ZOOM_TOP})")
    zoom.add_argument("--widen", type=float, default=search.ZOOM_WIDEN,
                      help=f"widen their span by this factor on each key's scale (default {search.ZOOM_WIDEN:g})")
    zoom.add_argument("--trials", type=int, help="trials of the new round (default: as the old one)")
    zoom.add_argument("--dry-run", action="store_true", help="print the proposed ranges, queue nothing")
    zoom.add_argument("--wait", action="store_true", help="stay in the foreground until all finish")

    lr_find.add_parser(add, config_args)
    listing = add("list", help="runs with their status (stale runs are marked crashed)")
    _manage_args(listing, add)
    cancel = add("cancel", help="cancel a queued or running run (its metrics are kept)")
    cancel.add_argument("run_id", type=int)

    imports = add("import", help="import log files (or zips) as runs, as the upload page does")
    imports.add_argument("paths", nargs="+", metavar="PATH")
    imports.add_argument("--again", action="store_true",
                         help="import a file even when the same bytes were imported before (default: show that run)")
    add("recover-spill", help="put rows a logging run spilled (store locked, full, deleted) back into --db")
    hidden = add("_exec")  # the body of a background run
    hidden.add_argument("run_id", type=int)
    scripts_cli.add_parser(add)  # `script add/list/remove/launch/sweep`: registered user scripts
    shared = add("_scheduler")  # the shared scheduler of the whole queue (started on demand)
    shared.add_argument("--max-parallel", type=int, default=scheduler.DEFAULT_MAX_PARALLEL)
    return parser


def _manage_args(listing: argparse.ArgumentParser, add: Any) -> None:
    """``list`` filters and the run-management subcommands (delete, tag, rename)."""
    listing.add_argument("--status", action="append", default=[], choices=STATUSES,
                         help="only runs with this status (repeatable)")
    listing.add_argument("--tag", action="append", default=[], help="only runs with this tag (repeatable: any)")
    listing.add_argument("--group", action="append", default=[], type=int, help="only runs of this group id")
    listing.add_argument("--archived", action="store_true", help="list the archived runs instead")
    delete = add("delete", help="delete finished runs with all their metrics and tags (asks first)")
    delete.add_argument("run_ids", type=int, nargs="+")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    tag = add("tag", help="add or remove tags on runs")
    tag.add_argument("run_ids", type=int, nargs="+")
    tag.add_argument("--add", action="append", default=[], metavar="TAG", help="tag to add (repeatable)")
    tag.add_argument("--remove", action="append", default=[], metavar="TAG", help="tag to remove (repeatable)")
    rename = add("rename", help="give a run a new name")
    rename.add_argument("run_id", type=int)
    rename.add_argument("name")


def _config(args: argparse.Namespace) -> RunConfig:
    return presets.get(args.preset).config(parse_assignments(args.set))


def _cmd_presets(_store: Store | None, _args: argparse.Namespace) -> int:
    for preset in presets.PRESETS.values():
        shows = f"  [shows: {', '.join(preset.shows)}; fixed by: {preset.twin}]" if preset.shows else ""
        print(f"{preset.name:28s} {preset.description}{shows}")
    return 0


def _cmd_run(store: Store, args: argparse.Namespace) -> int:
    from runner.execute import execute  # torch import only for commands that train

    run_id = store.create_run(args.name or args.preset, _config(args).to_flat(), meta={"preset": args.preset})
    print(f"run {run_id}: {args.name or args.preset}", file=sys.stderr)
    status = execute(store, run_id, progress=_progress_line(run_id), watch=args.watch)
    run = store.run(run_id)
    print(f"\nrun {run_id} {status}" + (f": {run['error']}" if run["error"] else ""), file=sys.stderr)
    print(run_id)
    return 0 if status == "finished" else 1


def _progress_line(run_id: int):  # noqa: ANN202 - a small closure
    started = time.monotonic()

    def show(fraction: float, step: int, metrics: dict[str, float]) -> None:
        shown = "  ".join(f"{k}={metrics[k]:.4g}" for k in ("train/loss_epoch", "val/loss", "val/acc")
                          if k in metrics)
        bar = "#" * int(fraction * 20)
        print(f"\r[run {run_id}] [{bar:20s}] {fraction:4.0%} step {step}  {shown}  "
              f"{time.monotonic() - started:.1f}s", end="", file=sys.stderr, flush=True)

    return show


def _cmd_launch(store: Store, args: argparse.Namespace) -> int:
    run_id = store.create_run(args.name or args.preset, _config(args).to_flat(), meta={"preset": args.preset})
    launcher.launch(store, run_id)
    print(run_id)
    return 0


def _cmd_sweep(store: Store, args: argparse.Namespace) -> int:
    """Queue a group in the database; the shared scheduler (started if needed) runs it."""
    found = search.from_args(args, coerce)
    if found is not None:
        if args.sweep_preset:
            raise ConfigError("--sweep-preset is a grid: give --sample with --preset instead")
        plan = Plan.search(args.name or f"{args.preset} search", _config(args).to_flat(), found,
                           seeds=args.seeds or 1, concurrency=args.concurrency, executor=args.executor,
                           address=args.address)
        return _submit_and_wait(store, plan, args.wait)
    if args.sweep_preset:
        chosen = sweep_presets.get(args.sweep_preset)
        base = presets.get(chosen.preset).config({**chosen.overrides, **parse_assignments(args.set)})
        grid, seeds, name = {**chosen.grid, **parse_grid(args.grid)}, chosen.seeds, chosen.name
    elif args.grid:
        base, grid, seeds, name = _config(args), parse_grid(args.grid), 1, f"{args.preset} sweep"
    else:
        raise ConfigError("give --grid KEY=V1,V2,... or --sweep-preset NAME")
    plan = Plan(args.name or name, base.to_flat(), grid, seeds=args.seeds or seeds, concurrency=args.concurrency,
                executor=args.executor, address=args.address)
    return _submit_and_wait(store, plan, args.wait)


def _submit_and_wait(store: Store, plan: Any, wait: bool) -> int:
    group_id, run_ids = submit(store, plan) if isinstance(plan, Plan) else scripts.submit(store, plan)
    print(f"group {group_id}: {len(run_ids)} runs queued ({', '.join(map(str, run_ids))})", file=sys.stderr)
    if wait:
        scheduler.wait_for(store, group_id)
    print(group_id)
    return 0


def _cmd_zoom(store: Store, args: argparse.Namespace) -> int:
    """Propose the next round's ranges around the best trials; queue it in a linked group."""
    plan, proposal = zoom.plan(store, args.group_id, top=args.top, widen=args.widen, trials=args.trials)
    for key, (old, new) in proposal.items():
        print(f"{key}: {old} -> {new}", file=sys.stderr)
    if args.dry_run:
        return 0
    return _submit_and_wait(store, plan, args.wait)


def _cmd_list(store: Store, args: argparse.Namespace) -> int:
    filtered = bool(args.status or args.tag or args.group or args.archived)
    runs = store.find_runs(status=args.status, tag=args.tag, group_id=args.group, archived=args.archived)
    try:
        scheduler.revive(store)  # a reader restarts a killed scheduler when runs wait
    except StoreError as exc:  # a list must work on a database it cannot write (a full disk)
        print(f"warning: the scheduler could not be restarted: {exc}", file=sys.stderr)
    if store.unsaved_verdicts:
        why = next(iter(store.unsaved_verdicts.values()))[2]
        print(f"warning: {len(store.unsaved_verdicts)} run verdict(s) shown but not saved ({why});"
              " the next read tries again", file=sys.stderr)
    if runs.empty:
        print("no runs match these filters" if filtered else "no runs yet: try `python -m runner run --preset healthy`",
              file=sys.stderr)
        return 0
    print(f"{'id':>4}  {'status':9s} {'progress':>8}  {'group':>5}  {'device':12s} name")
    runs = runs.astype(object).where(runs.notna(), "")
    for run in runs.itertuples():
        group = int(run.group_id) if run.group_id != "" else ""
        line = f"{run.id:>4}  {run.status:9s} {run.progress:8.0%}  {group!s:>5}  {run.device:12s} {run.name}"
        if run.error and run.status in ("failed", "crashed"):
            line += f"  ({run.error[:80]})"
        print(terminal(line))
    return 0


def _cmd_cancel(store: Store, args: argparse.Namespace) -> int:
    status = launcher.cancel(store, args.run_id)
    print(f"run {args.run_id}: {status}")
    return 0


def _cmd_delete(store: Store, args: argparse.Namespace) -> int:
    names = [f"#{i} {store.run(i)['name']}" for i in args.run_ids]  # a missing id fails before asking
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValueError("not deleting without confirmation: pass --yes")
        answer = input(f"Delete {len(names)} run(s) with their metrics ({', '.join(names)})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 1
    print(f"deleted {store.delete_runs(args.run_ids)} run(s)")
    return 0


def _cmd_tag(store: Store, args: argparse.Namespace) -> int:
    if not args.add and not args.remove:
        raise ValueError("give --add TAG and/or --remove TAG")
    store.tag(args.run_ids, add=args.add, remove=args.remove)
    tags = store.tags()
    for run_id in args.run_ids:
        print(f"run {run_id}: {', '.join(tags.get(run_id, [])) or '(no tags)'}")
    return 0


def _cmd_rename(store: Store, args: argparse.Namespace) -> int:
    store.rename_run(args.run_id, args.name)
    print(f"run {args.run_id}: {store.run(args.run_id)['name']}")
    return 0


def _cmd_import(store: Store, args: argparse.Namespace) -> int:
    """Each file through the upload path: new runs, or the runs the same bytes made before; 2 if any failed."""
    from pathlib import Path

    from runner.importers.upload import import_upload

    failed = False
    for path in map(Path, args.paths):
        if not path.is_file():
            print(f"error: {terminal(str(path))}: not a file (give a log file or a zip)", file=sys.stderr)
            failed = True
            continue
        outcome = import_upload(store, path.name, path.read_bytes(), again=args.again)
        if outcome.error:
            print(f"error: {terminal(outcome.error)}", file=sys.stderr)
            failed = True
            continue
        for run_id in outcome.run_ids:
            what = "already imported" if outcome.existing else "imported"
            print(f"run {run_id}: {terminal(store.run(run_id)['name'])} ({what} from {terminal(str(path))})")
        for note in outcome.notes:
            print(f"note: {terminal(note)}")
    return 2 if failed else 0


def _cmd_exec(store: Store, args: argparse.Namespace) -> int:
    from runner.execute import execute

    return 0 if execute(store, args.run_id, watch=args.watch) == "finished" else 1


def _cmd_scheduler(store: Store, args: argparse.Namespace) -> int:
    scheduler.Scheduler(store, max_parallel=args.max_parallel, watch=args.watch).serve()
    return 0


def _cmd_recover_spill(store: Store, args: argparse.Namespace) -> int:
    """Opening the store already recovers; this says what came back (and what is still held by a live run)."""
    from runner import spill

    for done in store.recovered:
        where = "into its run" if done["same_run"] else "as a new run (its database was deleted or replaced)"
        print(f"run {done['run_id']}: {done['rows']} rows put back {where} from {terminal(done['file'])}")
    left = spill.spill_files(store.path)
    for path in left:
        print(f"still in use by a live process: {terminal(str(path))}")
    if not store.recovered and not left:
        print(f"no spilled rows for {terminal(str(store.path))}")
    return 0


COMMANDS = {"presets": _cmd_presets, "run": _cmd_run, "launch": _cmd_launch, "sweep": _cmd_sweep,
            "list": _cmd_list, "cancel": _cmd_cancel, "delete": _cmd_delete, "tag": _cmd_tag,
            "rename": _cmd_rename, "zoom": _cmd_zoom, "import": _cmd_import, "recover-spill": _cmd_recover_spill,
            "_exec": _cmd_exec, "_scheduler": _cmd_scheduler, "script": scripts_cli.command,
            "lr-find": lr_find.command}


def main(argv: Sequence[str] | None = None, watch: WatchFactory | None = None) -> int:
    """The commands; ``watch`` makes the watcher of each run trained here or by Ray (the live doctor,
    handed in by the entry point: ``runner/__main__.py``, ``traindoc.cli``); None trains unwatched."""
    args = _parser().parse_args(argv)
    args.watch = watch
    try:
        store = None if args.command == "presets" else Store(args.db)
        return COMMANDS[args.command](store, args)
    except (ConfigError, KeyError, ValueError, RuntimeError, StoreError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
