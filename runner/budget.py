"""Does a run fit this machine? A config's memory estimate, checked before anything is allocated.

Why: the config's ranges are per key, so ``model.width=8192`` with ``model.depth=64`` (16 GiB
of weights) or a million samples of 4096 features (30 GiB) were accepted and failed only at
allocation, minutes later or with the machine swapping. The estimate is deliberately simple:
parameters x 4 bytes, times 4 for weights, gradients and two optimizer moments, plus the data
(float64 from scikit-learn, then a float32 copy), against half the machine's memory.
"""

from __future__ import annotations

import os
from typing import Any

# features of the built-in datasets that have a fixed shape (the synthetic ones take n_features)
_FIXED_FEATURES = {"digits": 64, "breast_cancer": 30, "wine": 13, "moons": 2}
_SYNTHETIC = ("classification", "moons")
_FIXED_SAMPLES = 1797  # digits, the largest bundled dataset
_MAX_CLASSES = 10
_GIB = 1024**3


def machine_bytes() -> int:
    """Physical memory of this machine (``TRAINDOC_MEMORY_GB`` overrides, e.g. for a smaller container)."""
    if os.environ.get("TRAINDOC_MEMORY_GB"):
        return int(float(os.environ["TRAINDOC_MEMORY_GB"]) * _GIB)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * _GIB


def estimate(cfg: Any) -> tuple[int, int]:
    """``(model_bytes, data_bytes)`` a run needs at least: weights+grads+2 moments, data twice."""
    features = cfg.data.n_features if cfg.data.name == "classification" else _FIXED_FEATURES.get(cfg.data.name, 64)
    samples = cfg.data.n_samples if cfg.data.name in _SYNTHETIC else _FIXED_SAMPLES
    width, depth = cfg.model.width, cfg.model.depth
    if depth == 0:
        params = features * _MAX_CLASSES
    else:
        params = features * width + (depth - 1) * width * (width + 1) + width * _MAX_CLASSES
    return params * 4 * 4, samples * features * (8 + 4)


def check_fits(cfg: Any) -> None:
    """Raise ``ValueError`` with the estimate when a run would need more than half this machine's memory."""
    model, data = estimate(cfg)
    budget = machine_bytes() // 2
    if model + data > budget:
        raise ValueError(
            f"this run needs about {(model + data) / _GIB:.1f} GiB (model {model / _GIB:.1f} GiB for weights,"
            f" gradients and optimizer state; data {data / _GIB:.1f} GiB), more than half of this machine's"
            f" {machine_bytes() / _GIB:.0f} GiB; make model.width/model.depth or data.n_samples/n_features smaller")
