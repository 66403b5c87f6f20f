"""Config keys as everyone reads them: the one flatten of a nested config into dotted keys
(``{"optim": {"lr": 1}}`` → ``{"optim.lr": 1}``), and which keys live on a log scale.

A leaf module like the vocabulary: the importers (hparams files, Keras/TensorBoard/MMEngine
params) and the pages (a run's config as a table) both use it, so a key reads the same
wherever it is shown or compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Keys whose useful values span orders of magnitude: log-spaced in a sweep form, a log axis on a chart.
LOG_KEYS = ("optim.eps", "optim.lr", "optim.weight_decay")
MAX_DEPTH = 8  # deeper than any real config; a hostile file cannot recurse without end
MAX_TEXT = 2000  # a list or an odd value is kept as JSON text, cut to this many characters


def flatten(data: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Nested mappings to dotted keys; lists and deep values kept as JSON text so configs stay flat."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < MAX_DEPTH:
            out.update(flatten(value, f"{name}.", depth + 1))
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[name] = value
        else:
            out[name] = json.dumps(value, default=str)[:MAX_TEXT]
    return out
