"""Lightning: ``Trainer(logger=traindoc.lightning.TraindocLogger("exp"))`` streams into the store.

The run's config is the module's (and datamodule's) ``hparams`` on canonical keys
(``lr`` → ``optim.lr``, ``batch_size`` → ``train.batch_size``, ...). Lightning hands loggers
floats at its ``log_every_n_steps`` cadence (its own conversion, not one per step); the
logger adds no sync and no transaction per step. ``callbacks=[logger.stopper()]`` lets the
live doctor stop the fit (``stop_on=("divergence",)``) through ``trainer.should_stop``.

Under ``strategy="ddp"`` (Lightning's launcher or ``torchrun``) Lightning calls a logger on rank
0 only, so the job is one run made by rank 0, its meta saying how many ranks trained; per-rank
series are not logged from here (``run.log(..., all_ranks=True)`` in your module does that).
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Iterable, Mapping
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from traindoc._integration import Session, canonical_config


class TraindocLogger(Logger):
    """A Lightning logger whose run is a traindoc run (source ``api``)."""

    def __init__(self, name: str = "lightning", db: str | os.PathLike | None = None,
                 stop_on: Iterable[str] | str = (), config: Mapping[str, Any] | None = None,
                 strict: bool | None = None) -> None:
        super().__init__()
        self._session = Session(name, db, stop_on, config, strict, rank_zero_only=True)

    @property
    def name(self) -> str:
        return self._session.name

    @property
    def version(self) -> int | None:
        return None if self._session.run is None else self._session.run.id

    @property
    def run(self) -> Any:
        """The traindoc run (started on first use)."""
        return self._session.open()

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        self._session.open(canonical_config(params))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        # Lightning logs an epoch's aggregates (``*_epoch``, validation) in one call, with the epoch index
        keys = [k for k in metrics if k != "epoch"]
        epoch_level = not any(k.endswith("_step") for k in keys) and \
            any(k.endswith("_epoch") or k.startswith(("val", "valid")) for k in keys)
        epoch = metrics.get("epoch") if epoch_level else None
        self._session.log(metrics, step=0 if step is None else step,
                          epoch=None if epoch is None else float(epoch) + 1, epoch_level=epoch_level, skip=("epoch",))

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self._session.close(None if status == "success" else RuntimeError(f"Lightning fit ended: {status}"))

    def stopper(self) -> Callback:
        """A callback that ends the fit once the live doctor stopped the run."""
        return _Stopper(self._session)


class _Stopper(Callback):
    def __init__(self, session: Session) -> None:
        self._session = session

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if self._session.stop_requested:
            trainer.should_stop = True
