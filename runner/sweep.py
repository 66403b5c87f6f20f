"""Sweep grids: ``--grid key=v1,v2`` parsed and validated, and expanded into every combination."""

from __future__ import annotations

import itertools
from typing import Any

from runner.config import coerce


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """``["optim.eps=1e-1,1e-8", "optim.lr=0.1,0.01"]`` into validated value lists."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not values.strip():
            raise ValueError(f"{spec!r}: expected key=v1,v2,..., e.g. optim.eps=1e-1,1e-8")
        grid[key.strip()] = [coerce(key.strip(), v.strip()) for v in values.split(",") if v.strip()]
    return grid


def expand(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the cartesian product), in a stable order."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]
