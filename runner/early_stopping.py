"""Early stopping in the Keras/Lightning sense: ``monitor``, ``mode``, ``patience``, ``min_delta``, ``restore_best``.

The one implementation the training loop uses. Which way is better comes from the shared
vocabulary (``Monitor``: ``mode="auto"`` reads it from the name, ``val/acc`` max, ``val/loss``
min). With ``restore_best`` the best evaluation's weights are kept (a copy of the state
dict, on the device) and put back when training ends: the model you keep is the best one
seen, as the overfitting fix promises (Keras ``restore_best_weights=True``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from traindoc.core.vocabulary import Monitor


@dataclass
class EarlyStopping:
    monitor: Monitor
    patience: int = 0  # evaluations without improvement before stopping; 0 watches without stopping
    min_delta: float = 0.0  # an improvement must be larger than this
    restore_best: bool = True
    best: float | None = None
    best_step: int | None = None
    since_best: int = 0
    _best_state: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, cfg: Any) -> EarlyStopping:
        """From ``RunConfig.early_stopping`` (monitor, mode, patience, min_delta, restore_best)."""
        return cls(Monitor(cfg.monitor, cfg.mode), cfg.patience, cfg.min_delta, cfg.restore_best)

    def update(self, metrics: dict[str, float], step: int, model: nn.Module) -> str | None:
        """Record one evaluation; returns why to stop now, or None to go on."""
        value = metrics.get(self.monitor.name)
        if value is None or not math.isfinite(value):
            return None
        if self.best is None or self.monitor.signed(value - self.best) > self.min_delta:
            self.best, self.best_step, self.since_best = value, step, 0
            if self.restore_best and self.patience:
                self._best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return None
        self.since_best += 1
        if self.patience and self.since_best >= self.patience:
            return (f"early stopping: {self.monitor.name} did not improve for {self.since_best} evaluations "
                    f"(best {self.best:.4g} at step {self.best_step})")
        return None

    def restore(self, model: nn.Module) -> int | None:
        """Put the best weights back (when kept); returns the step they come from."""
        if self._best_state is None:
            return None
        model.load_state_dict(self._best_state)
        return self.best_step
