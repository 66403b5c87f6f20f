"""``python -m runner script add|list|remove|launch|sweep``: registered user scripts from the terminal."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from runner import scheduler, scripts, search
from runner.store import Store


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``script`` command and its subcommands, on runner's CLI (``add`` makes a subparser with --db)."""
    parser = add("script", help="register your own training script, then launch or sweep it")
    sub = parser.add_subparsers(dest="script_command", required=True)
    reg = sub.add_parser("add", help="register a script once (path, interpreter, folder, default config)")
    reg.add_argument("name")
    reg.add_argument("path")
    reg.add_argument("--interpreter", help="executable that runs it (default: this Python)")
    reg.add_argument("--cwd", help="working folder (default: the script's folder)")
    reg.add_argument("--arg", action="append", default=[], dest="args", help="a fixed argument (repeatable)")
    reg.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                     help="a default config value, e.g. --config optim.lr=0.01 (repeatable)")
    sub.add_parser("list", help="the registered scripts")
    rm = sub.add_parser("remove", help="forget a registered script (its runs stay)")
    rm.add_argument("name")
    for cmd, text in (("launch", "one background run of the script"), ("sweep", "a group of runs over a grid")):
        p = sub.add_parser(cmd, help=text)
        p.add_argument("name")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
        p.add_argument("--run-name", help="run or group name (default: the script's name)")
        p.add_argument("--stop-on", action="append", default=[], metavar="RULE",
                       help="stop the run when this critical finding fires (divergence, exploding_gradients)")
        if cmd == "sweep":
            p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...")
            p.add_argument("--seeds", type=int, default=1)
            p.add_argument("--concurrency", type=int, default=2)
            p.add_argument("--wait", action="store_true", help="stay in the foreground until all finish")
            search.add_args(p)


def command(store: Store, args: argparse.Namespace) -> int:
    if args.script_command == "add":
        defaults = scripts.parse_pairs({}, args.config)
        scripts.register(store, args.name, args.path, args.interpreter, args.cwd, args.args, defaults)
        print(f"script {args.name} registered: {' '.join(scripts.argv(store.script(args.name)))}")
        return 0
    if args.script_command == "list":
        for s in store.scripts():
            print(f"{s['name']:20s} {' '.join(scripts.argv(s))}  (in {s['cwd']})  {json.dumps(s['config'])}")
        return 0
    if args.script_command == "remove":
        print(f"script {args.name}: {'removed' if store.remove_script(args.name) else 'not registered'}")
        return 0
    defaults = store.script(args.name)["config"]
    overrides = scripts.parse_pairs(defaults, args.set)
    if args.script_command == "sweep":
        found = search.from_args(args, lambda key, value: scripts.parse_value(defaults, key, str(value)))
        if found is not None:
            plan = scripts.ScriptPlan(args.name, args.run_name or f"{args.name} search", overrides=overrides,
                                      variants=search.trial_variants(found), seeds=args.seeds,
                                      concurrency=args.concurrency, stop_on=tuple(args.stop_on),
                                      extra_spec={"search": found.to_spec()})
            return _queued(store, plan, args.wait)
        if not args.grid:
            raise ValueError("give --grid KEY=V1,V2,... or --sample KEY=DIST")
    grid = scripts.parse_grid(defaults, args.grid) if args.script_command == "sweep" else {}
    plan = scripts.ScriptPlan(args.name, args.run_name or (f"{args.name} sweep" if grid else args.name),
                              overrides=overrides, grid=grid, seeds=getattr(args, "seeds", 1),
                              concurrency=getattr(args, "concurrency", 1), stop_on=tuple(args.stop_on))
    if grid:
        return _queued(store, plan, args.wait)
    _, run_ids = scripts.submit(store, plan)
    print(run_ids[0])
    return 0


def _queued(store: Store, plan: scripts.ScriptPlan, wait: bool) -> int:
    group_id, _ = scripts.submit(store, plan)
    if wait:
        scheduler.wait_for(store, group_id)
    print(group_id)
    return 0
