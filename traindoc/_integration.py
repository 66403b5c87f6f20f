"""What the framework integrations share: hyper-parameters onto canonical keys, names onto canonical
names, and a run opened and closed from callbacks instead of a ``with`` block."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from traindoc.core.configs import config_key, flatten
from traindoc.core.vocabulary import canonical


def canonical_config(params: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten nested hyper-parameters with dots; known names become canonical keys, the rest keep theirs.

    Values that are not numbers, strings or booleans are stored as text; ``None`` and the
    framework's "not set" values (a negative ``max_steps``) are dropped.
    """
    out: dict[str, Any] = {}
    for key, value in flatten(params).items():
        target = config_key(key) or key
        if value is None or (target == "train.max_steps" and isinstance(value, int) and value < 0):
            continue
        if not isinstance(value, bool | int | float | str):
            value = str(value)
        out.setdefault(target, value)
    return out


def is_number(value: Any) -> bool:
    """A scalar a sink can take (a float, an int, or a one-element tensor), not a bool or a text."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    numel = getattr(value, "numel", None)
    return callable(numel) and numel() == 1


class Session:
    """A ``traindoc.start_run`` driven by a framework's begin/log/end callbacks."""

    def __init__(self, name: str, db: str | os.PathLike | None, stop_on: Iterable[str] | str,
                 config: Mapping[str, Any] | None = None, strict: bool | None = None, *,
                 all_ranks: bool = False, rank_zero_only: bool = False) -> None:
        """``strict`` (default: ``TRAINDOC_STRICT``) lets store faults raise into the framework's loop.

        Many processes (``traindoc.start_run``): ``all_ranks`` stores the other ranks' series as
        ``name@rank`` too; ``rank_zero_only`` when the framework calls us on rank 0 alone."""
        self.name = name
        self.all_ranks = all_ranks
        self.rank_zero_only = rank_zero_only
        self.strict = strict
        self.db = db
        self.stop_on = stop_on
        self.config: dict[str, Any] = dict(config or {})
        self.names: dict[str, str] = {}  # canonical → the framework's name, kept in the run's meta
        self._cm: AbstractContextManager | None = None
        self.run: Any = None

    def open(self, config: Mapping[str, Any] | None = None) -> Any:
        """Start the run (once); later hyper-parameters are merged into the stored config."""
        from traindoc.session import start_run

        if config:
            self.config.update(config)
        if self.run is None:
            self._cm = start_run(self.name, self.config, db=self.db, stop_on=self.stop_on, raise_on_stop=False,
                                 strict=self.strict, rank_zero_only=self.rank_zero_only)
            self.run = self._cm.__enter__()
        elif config and self.run.store is not None and self.run.leads:
            with self._tolerated():
                stored = self.run.store.run(self.run.id)["config"]
                self.run.store.set_run_config(self.run.id, {**stored, **dict(config)})
        return self.run

    @contextmanager
    def _tolerated(self) -> Iterator[None]:
        """A store fault in a bookkeeping write (config, names) is a warning, not the end of the fit."""
        from runner.api import strict_mode
        from runner.sink import STORE_FAULTS, StoreFaultWarning

        try:
            yield
        except STORE_FAULTS as exc:
            if strict_mode(self.strict):
                raise
            warnings.warn(StoreFaultWarning(f"traindoc: run {self.run.id}: {exc} — training goes on"), stacklevel=4)

    def log(self, metrics: Mapping[str, Any], step: int, epoch: float | None = None,
            epoch_level: bool = False, skip: Iterable[str] = ()) -> None:
        """Log the numbers among ``metrics`` under canonical names (tensors stay tensors)."""
        run = self.open()
        skip = set(skip)
        out = {}
        for name, value in metrics.items():
            if name in skip or not is_number(value):
                continue
            target = canonical(name, epoch_level)
            if target not in self.names:
                self.names[target] = name
            out[target] = value
        if out:
            run.log(out, step=int(step), epoch=None if epoch is None or not math.isfinite(epoch) else float(epoch),
                    all_ranks=self.all_ranks)

    @property
    def stop_requested(self) -> bool:
        return self.run is not None and self.run.stop_requested

    def close(self, error: BaseException | None = None) -> None:
        """Finish the run (or fail it with ``error``); a second close does nothing."""
        if self._cm is None:
            return
        cm, self._cm = self._cm, None
        if self.names and self.run.store is not None and self.run.leads:
            with self._tolerated():
                self.run.store.update_meta(self.run.id, original_names=self.names)
        if error is None:
            cm.__exit__(None, None, None)
        else:
            cm.__exit__(type(error), error, error.__traceback__)
