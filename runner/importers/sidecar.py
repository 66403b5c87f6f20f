"""Hyper-parameters beside a log become the run's config (ARCHITECTURE: "Hyper-parameters beside a log").

Sources, most specific first: ``<logfile>.hparams.json``, then in the log's folder
``hparams.json``, Lightning's ``hparams.yaml``, Ultralytics' ``args.yaml``, and beside a
``trainer_state.json`` HF's ``training_args.json`` and ``config.json``. Nested keys are
flattened to dotted paths; well-known foreign keys also get the traindoc key
(``adam_epsilon`` → ``optim.eps``) so uploaded runs compare with runner runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from runner.importers.base import Entry, ImportFailed, Limits
from runner.importers.text import decode
from traindoc.core.configs import config_key, flatten

FOLDER_SIDECARS = ("hparams.json", "hparams.yaml", "args.yaml")
HF_SIDECARS = ("training_args.json", "config.json")


def is_sidecar(name: str) -> bool:
    low = name.lower()
    return low in FOLDER_SIDECARS or low in HF_SIDECARS or low.endswith(".hparams.json")


class _LenientLoader(yaml.SafeLoader):
    """safe_load that reads ``!!python/object`` tags (old Lightning hparams) as plain data, never objects."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_LenientLoader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)
_LenientLoader.add_multi_constructor("!", _plain)


def load(entry: Entry, limits: Limits) -> dict[str, Any]:
    """A sidecar's flat config; ImportFailed naming the sidecar when it cannot be read."""
    text = decode(entry.path, entry.data)
    try:
        if entry.name.lower().endswith((".yaml", ".yml")):
            data = yaml.load(text, Loader=_LenientLoader)  # noqa: S506 - a SafeLoader subclass
        else:
            data = load_json(entry.path, text, limits)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ImportFailed(entry.path, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                           mark.line + 1 if mark else None) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ImportFailed(entry.path, f"expected a mapping of hyper-parameters, found {type(data).__name__}")
    return with_aliases(flatten(data))


def load_json(source: str, text: str, limits: Limits) -> Any:
    """json.loads with the size cap, and a line number and a sentence instead of a parser traceback."""
    if len(text) > limits.max_json_bytes:
        raise ImportFailed(source, f"JSON document of {len(text) / 1024 / 1024:.0f} MB is over the "
                                   f"{limits.max_json_bytes // 1024 // 1024} MB limit for one JSON document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(source, f"not valid JSON ({exc.msg}, column {exc.colno})", exc.lineno) from None
    except RecursionError:
        raise ImportFailed(source, "JSON nested too deeply to read (hundreds of levels); not a training log") from None


def with_aliases(config: dict[str, Any]) -> dict[str, Any]:
    """Add the traindoc key for well-known foreign ones (never overriding a key that is there)."""
    out = dict(config)
    for key, value in config.items():
        target = config_key(key)
        if target is None or target in out:
            continue
        wanted = str if target.endswith(".name") else (int, float)
        if isinstance(value, wanted) and not isinstance(value, bool):
            out[target] = value
    return out


def for_log(log: Entry, siblings: Mapping[str, Entry], limits: Limits, hf: bool = False) -> dict[str, Any]:
    """The config of the run logged in ``log``: every sidecar that applies, most specific last (wins)."""
    folder = f"{log.folder}/" if log.folder else ""
    names = [*(HF_SIDECARS[::-1] if hf else ()), "args.yaml", "hparams.yaml", "hparams.json"]
    config: dict[str, Any] = {}
    for name in [*names, f"{log.name}.hparams.json"]:
        entry = siblings.get(f"{folder}{name}")
        if entry is not None:
            config.update(load(entry, limits))
    return config
