"""Sweep values: one parser for the CLI's ``--grid key=...`` and the launch page, and the grid expansion.

A key's values are a list (``1e-1,1e-4,1e-8``) or log-spaced (``log 1e-8 1e-1 3``); either
way each value passes ``coerce`` (refused with its allowed range) and a repeated value is
dropped, order kept: repeats of a setting are what ``--seeds`` is for.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from runner.config import ConfigError, coerce, schema


def log_spaced(lo: float, hi: float, n: int) -> list[float]:
    """``n`` values from ``lo`` to ``hi``, evenly spaced in log10, rounded to 3 significant digits."""
    if lo <= 0 or hi <= 0:
        raise ConfigError(f"log-spaced values need positive bounds, got {lo:g} and {hi:g}")
    if n < 1:
        raise ConfigError(f"{n} values: ask for at least 1")
    if n == 1:
        return [float(lo)]
    a, b = math.log10(lo), math.log10(hi)
    return [float(f"{10 ** (a + (b - a) * i / (n - 1)):.3g}") for i in range(n)]


def parse_values(key: str, text: str) -> list[Any]:
    """``"1e-1, 1e-4"`` (a list) or ``"log 1e-8 1e-1 8"`` (log-spaced) into validated values, no repeats."""
    text = text.strip()
    if text.lower().startswith("log"):
        parts = text[3:].replace(",", " ").split()
        if len(parts) != 3:
            raise ConfigError(f"{key}: write log-spaced values as 'log LOW HIGH COUNT', e.g. 'log 1e-8 1e-1 8'")
        try:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ConfigError(f"{key}: 'log LOW HIGH COUNT' needs two numbers and a count") from None
        raw: list[Any] = log_spaced(lo, hi, n)
    else:
        raw = [v.strip() for v in text.split(",") if v.strip()]
    if not raw:
        choices = schema()[key].metadata.get("choices") if key in schema() else None
        if choices:
            raise ConfigError(f"{key}: pick one or more of {', '.join(choices)}")
        raise ConfigError(f"{key}: give values separated by commas, e.g. 1e-1, 1e-4, 1e-8")
    return list(dict.fromkeys(coerce(key, v) for v in raw))


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """``["optim.eps=1e-1,1e-8", "optim.lr=log 1e-4 1e-1 4"]`` (the CLI's ``--grid``) into value lists."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not values.strip():
            raise ConfigError(f"{spec!r}: expected key=v1,v2,... or key=log LOW HIGH COUNT, "
                              "e.g. optim.eps=1e-1,1e-8")
        grid[key.strip()] = parse_values(key.strip(), values)
    return grid


def expand(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the cartesian product), in a stable order."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]
