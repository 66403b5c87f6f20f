"""Stable-Baselines3 console tables (its ``human`` logger): one boxed block per dump.

    ------------------------------------------
    | rollout/                |              |
    |    ep_len_mean          | 200          |
    |    ep_rew_mean          | -197         |
    | time/                   |              |
    |    total_timesteps      | 4096         |
    | train/                  |              |
    |    loss                 | 0.41         |
    ------------------------------------------

A section row (``rollout/``) prefixes the keys under it, so the names are SB3's own
(``rollout/ep_rew_mean``, ``train/loss``, what its TensorBoard and CSV loggers write). Each
block is one row at its ``time/total_timesteps``, SB3's x-axis, else at its place in the log.
Text between the blocks (``Using cpu device``, evaluation prints) is left out.

Its ``Monitor`` wrapper writes ``monitor.csv``: a ``#{"t_start": ..., "env_id": ...}`` line, then one row
per episode (``r`` reward, ``l`` length, ``t`` seconds since the start, then any info keys). Read
as ``rollout/ep_rew`` and ``rollout/ep_len`` at the environment steps taken so far.
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd

from runner.importers.base import ImportFailed, Limits, Parsed
from runner.importers.console import split_lines

_SECTION = re.compile(r"^\|\s*([A-Za-z_][\w.\-]*/)\s*\|\s*\|\s*$")
_VALUE = re.compile(r"^\|\s+([A-Za-z_][\w.\-]*(?:\.\.\.)?)\s*\|\s*(\S+)\s*\|\s*$")
_RULE = re.compile(r"^-{10,}\s*$")
STEP_KEY = "time/total_timesteps"  # SB3's x-axis: environment steps taken so far
MIN_SECTIONS = 1  # a boxed table with a ``name/`` section row: no other log layout writes that
HEAD_LINES = 400  # enough to pass SB3's start-up prints and reach the first table


def looks_like(text: str) -> bool:
    """A text holding SB3 tables: a ``| rollout/ | |`` section row and a ``|  name | number |`` row."""
    head = split_lines(text[:65536])[:HEAD_LINES]
    sections = sum(1 for line in head if _SECTION.match(line.strip()))
    return sections >= MIN_SECTIONS and any(_VALUE.match(line.strip()) for line in head)


def read(source: str, text: str, limits: Limits) -> Parsed:
    blocks: list[tuple[int, dict[str, float]]] = []
    current: dict[str, float] = {}
    section = ""
    start = 0
    for number, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if _RULE.match(line):
            if current:
                blocks.append((start, current))
            current, section, start = {}, "", number
            continue
        head = _SECTION.match(line)
        if head:
            section = head.group(1)
            continue
        cell = _VALUE.match(line)
        if cell:
            try:
                current[section + cell.group(1)] = float(cell.group(2))
            except ValueError:
                continue  # a text cell (an env id, a device name): not a metric
    if current:
        blocks.append((start, current))
    if not blocks:
        raise ImportFailed(source, "Stable-Baselines3 tables found, but none holds a number")
    rows = []
    for place, (line, values) in enumerate(blocks, 1):
        step = values.get(STEP_KEY, float(place))
        rows += [(step, None, key, value, line) for key, value in values.items() if key != STEP_KEY]
    frame = pd.DataFrame(rows, columns=["step", "epoch", "name", "value", "line"])
    counted = not any(STEP_KEY in values for _, values in blocks)
    return Parsed(frame, counted=counted)


MONITOR_NAMES = {"r": "rollout/ep_rew", "l": "rollout/ep_len", "t": "time/elapsed"}


def looks_like_monitor(text: str) -> bool:
    """SB3's ``monitor.csv``: a ``#`` + JSON line naming ``t_start``, then an ``r,l,t`` header."""
    first, _, rest = text.lstrip("\ufeff").partition("\n")
    header = rest.lstrip("\r\n").split("\n", 1)[0].strip().split(",")
    return first.startswith("#") and "t_start" in first and header[:3] == ["r", "l", "t"]


def read_monitor(source: str, text: str, limits: Limits) -> Parsed:
    first, _, rest = text.lstrip("\ufeff").partition("\n")
    try:
        header = json.loads(first.lstrip("#").strip())
    except json.JSONDecodeError:
        header = {}
    try:
        table = pd.read_csv(io.StringIO(rest.replace("\r", "")), skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ImportFailed(source, f"a Stable-Baselines3 monitor file whose rows do not parse ({exc})") from None
    table = table.apply(pd.to_numeric, errors="coerce")
    steps = table["l"].fillna(0).cumsum()  # environment steps taken when each episode ended
    long = table.rename(columns=MONITOR_NAMES).assign(step=steps).melt(id_vars="step", var_name="name")
    long = long.dropna(subset=["value"]).assign(epoch=None, line=lambda f: f.index % len(table) + 3)
    config = {k: v for k, v in header.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    return Parsed(long[["step", "epoch", "name", "value", "line"]], config=config)
