"""Your own training script as a traindoc run: registered once, then launched, swept and fix-verified.

A registered script is a path, an interpreter, a working folder, fixed arguments and a
default config. Queueing one writes ordinary queued runs (source ``script``) whose config
is the default config plus the sweep point or the fix's patch, so the one scheduler starts
them like presets. The background runner (``python -m runner _exec ID``) starts the script
as a child process from an argument list (never a shell) with ``TRAINDOC_RUN_ID`` and
``TRAINDOC_DB`` set; ``traindoc.start_run()`` in the script then attaches to the queued run
instead of creating one, and ``run.config`` gives the queued values. The runner forwards a
cancel (SIGTERM) to the script and settles the run if the script ends without doing so.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.config import ConfigError, coerce, schema
from runner.launcher import child_env
from runner.search import trial_meta
from runner.store import ACTIVE, Store
from runner.sweep import expand

ENV_RUN_ID = "TRAINDOC_RUN_ID"
ENV_DB = "TRAINDOC_DB"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_RUNS = 200
LOG_TAIL_LINES = 15


# -- registration -----------------------------------------------------------
def register(store: Store, name: str, path: str | os.PathLike, interpreter: str | None = None,
             cwd: str | os.PathLike | None = None, args: Iterable[str] = (),
             config: Mapping[str, Any] | None = None) -> int:
    """Validate and store a script; paths are stored absolute so any process can launch it."""
    if not NAME_RE.match(name):
        raise ConfigError(f"script name {name!r}: use letters, digits, '_', '.', '-' (at most 64)")
    script = Path(path).expanduser().resolve()
    if not script.is_file():
        raise ConfigError(f"{path}: no such file")
    exe = resolve_interpreter(interpreter)
    folder = Path(cwd).expanduser().resolve() if cwd else script.parent
    if not folder.is_dir():
        raise ConfigError(f"working folder {cwd}: no such folder")
    args = [str(a) for a in args]
    config = {str(k): _jsonable(k, v) for k, v in dict(config or {}).items()}
    return store.add_script(name, str(script), exe, str(folder), args, config)


def resolve_interpreter(interpreter: str | None) -> str:
    """An absolute path to an executable: this Python by default, else a path or a name on PATH."""
    if not interpreter:
        return sys.executable
    found = shutil.which(interpreter)
    if found is None:
        raise ConfigError(f"interpreter {interpreter!r}: not an executable file (nor a command on PATH)")
    return str(Path(found).resolve())


def _jsonable(key: str, value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    raise ConfigError(f"config {key}: a number, a string or a boolean, got {type(value).__name__}")


def parse_value(defaults: Mapping[str, Any], key: str, raw: Any) -> Any:
    """A CLI/form value for a script's config key: the default's type, else runner's schema, else a literal."""
    if not isinstance(raw, str):
        return _jsonable(key, raw)
    default = defaults.get(key)
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            as_float = float(raw)
            if not as_float.is_integer():
                raise ValueError
            return int(as_float)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, str):
            return raw
    except ValueError:
        raise ConfigError(f"{key}={raw!r}: expected {type(default).__name__}") from None
    if key in schema():
        return coerce(key, raw)
    try:
        return _jsonable(key, json.loads(raw))
    except (ValueError, ConfigError):
        return raw


def parse_pairs(defaults: Mapping[str, Any], pairs: Iterable[str]) -> dict[str, Any]:
    """``["optim.lr=0.01", ...]`` into typed values (see :func:`parse_value`)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{pair!r}: expected key=value, e.g. optim.lr=0.01")
        out[key.strip()] = parse_value(defaults, key.strip(), value.strip())
    return out


def parse_grid(defaults: Mapping[str, Any], specs: Iterable[str]) -> dict[str, list[Any]]:
    """``["optim.lr=1e-3,1e-2"]`` into typed value lists."""
    grid = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not items:
            raise ConfigError(f"{spec!r}: expected key=v1,v2,..., e.g. optim.lr=1e-3,1e-2")
        grid[key.strip()] = list(dict.fromkeys(parse_value(defaults, key.strip(), v) for v in items))
    return grid


# -- queueing ---------------------------------------------------------------
@dataclass(frozen=True)
class ScriptPlan:
    """A group of runs of one registered script: a grid or (label, patch) variants, times seeds."""

    script: str
    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    variants: tuple[tuple[str, dict[str, Any]], ...] = ()
    seeds: int = 1
    concurrency: int = 2
    kind: str = "sweep"
    parent_run_id: int | None = None
    stop_on: tuple[str, ...] = ()
    extra_spec: dict[str, Any] = field(default_factory=dict)

    def points(self) -> list[tuple[str, dict[str, Any], str]]:
        items = list(self.variants) or [(_label(p), p) for p in expand(self.grid)] or [("", {})]
        if self.seeds <= 1:
            return [(label, patch, label) for label, patch in items]
        return [(f"{label}, seed {s}" if label else f"seed {s}", {**patch, "train.seed": s}, label)
                for label, patch in items for s in range(self.seeds)]


def submit(store: Store, plan: ScriptPlan, start_scheduler: bool = True) -> tuple[int, list[int]]:
    """Queue the plan's runs in one group (source ``script``) and make sure the scheduler is up."""
    from runner.stop_on import check_stop_on

    script = store.script(plan.script)
    stop_on = check_stop_on(plan.stop_on)
    points = plan.points()
    if not 1 <= plan.concurrency <= 64 or not 1 <= plan.seeds <= 20:
        raise ConfigError("concurrency: 1 to 64; seeds: 1 to 20")
    if len(points) > MAX_RUNS:
        raise ConfigError(f"{len(points)} runs: at most {MAX_RUNS} per group")
    base = {**script["config"], **plan.overrides}
    spec = {"grid": plan.grid, "seeds": plan.seeds, "concurrency": plan.concurrency, "executor": "local",
            "address": None, "script": plan.script,
            "variants": [{"label": label, "patch": patch} for label, patch in plan.variants], **plan.extra_spec}
    group_id = store.create_group(plan.name, kind=plan.kind, spec=spec, parent_run_id=plan.parent_run_id)
    ids = []
    for label, patch, variant in points:
        meta = {"script": plan.script, "argv": argv(script), "cwd": script["cwd"], "label": label,
                "variant": variant, "swept": {k: v for k, v in patch.items() if k != "train.seed"}}
        if stop_on:
            meta["stop_on"] = list(stop_on)
        meta.update(trial_meta(plan.extra_spec.get("search"), len(ids), plan.seeds))
        ids.append(store.create_run(f"{plan.name} [{label}]" if label else plan.name, {**base, **patch},
                                    source="script", group_id=group_id, parent_id=plan.parent_run_id, meta=meta))
    if start_scheduler:
        from runner.scheduler import ensure_running

        ensure_running(store)
    return group_id, ids


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def argv(script: Mapping[str, Any]) -> list[str]:
    """The argument list that starts a script: no shell, so nothing in it is interpreted."""
    return [script["interpreter"], script["path"], *script["args"]]


def is_script_run(run: Mapping[str, Any]) -> bool:
    return run.get("source") == "script" and bool(run.get("meta", {}).get("argv"))


# -- the background body of a script run ------------------------------------
def execute_script(store: Store, run_id: int) -> str:
    """Start the run's script as a child (same log file), forward SIGTERM, settle what it left open."""
    run = store.run(run_id)
    if run["status"] not in ACTIVE:
        return run["status"]
    meta = run["meta"]
    command, cwd = list(meta["argv"]), meta["cwd"]
    if not Path(command[1]).is_file() or not Path(cwd).is_dir():
        store.finish(run_id, "failed", error=f"script {command[1]} or its folder {cwd} no longer exists")
        return "failed"
    # traindoc last on the path: the script's own environment wins, else it imports the traindoc that launched it
    env = {**child_env(), ENV_RUN_ID: str(run_id), ENV_DB: str(store.path.resolve()), "PYTHONUNBUFFERED": "1"}
    sys.stdout.flush()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    cancelled = threading.Event()

    def forward(*_: Any) -> None:
        cancelled.set()
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, forward)
    # The run is alive while its script is, even before the script reaches start_run (imports, data
    # loading): this process keeps beating for it (runner/boot.py's beat runs until a sink takes over,
    # and this process opens none), so a slow-starting script is never taken for crashed.
    code = proc.wait()
    if store.run(run_id)["status"] in ACTIVE:  # the script never attached, or died without finishing
        if cancelled.is_set():
            store.finish(run_id, "cancelled", error="cancelled by user (SIGTERM)")
        elif code == 0:
            store.finish(run_id, "failed", error="the script exited without calling traindoc.start_run()")
        else:
            store.finish(run_id, "failed", error=f"the script exited with code {code}" + _log_tail(store, run_id))
    return store.run(run_id)["status"]


def _log_tail(store: Store, run_id: int) -> str:
    from runner.launcher import log_path

    with contextlib.suppress(OSError):
        lines = log_path(store, run_id).read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        return ":\n" + "\n".join(lines) if lines else ""
    return ""


# -- inside the script: attach to the queued run ----------------------------
def attach_or_create(name: str, config: Mapping[str, Any] | None, db: str | os.PathLike | None,
                     group_id: int | None, job_key: str | None = None,
                     meta: Mapping[str, Any] | None = None) -> tuple[Store, int]:
    """The run a ``start_run`` call writes to: the queued run traindoc launched this script for
    (``TRAINDOC_RUN_ID``, read once), else a new ``api`` run. The queued values win over the
    script's own defaults, and the stored config becomes their union. ``job_key`` and ``meta``:
    a many-process job's (``runner.job``), put on the run either way."""
    run_id = os.environ.pop(ENV_RUN_ID, None)
    if run_id:
        store = Store(os.environ.get(ENV_DB) or db)
        run = store.run(int(run_id))
        if run["status"] in ACTIVE:
            store.set_run_config(int(run_id), {**dict(config or {}), **run["config"]})
            if meta:
                store.update_meta(int(run_id), **meta)
            return store, int(run_id)
    store = Store(db)
    return store, store.create_run(name, dict(config or {}), source="api", group_id=group_id,
                                   meta=dict(meta or {}) or None, job_key=job_key)
