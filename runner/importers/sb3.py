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
"""

from __future__ import annotations

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
