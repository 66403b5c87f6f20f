"""Keras 3: ``model.fit(..., callbacks=[traindoc.keras.TraindocCallback("exp")])`` streams into the store.

The run's config is the optimizer's ``get_config()`` on canonical keys (``learning_rate`` →
``optim.lr``, ``epsilon`` → ``optim.eps``, ``weight_decay``, the optimizer's name) plus
``epochs`` from ``fit``. The callback is ``async_safe``: Keras then calls the batch hooks on
its worker threads, so turning the batch's tensors into numbers never waits on the training
thread. The live doctor (``stop_on``) ends the fit through ``model.stop_training``.

Many processes: Keras 3's own distribution API is JAX-only; on the torch backend ``model.fit``
has no multi-worker strategy, so under ``torchrun`` each process fits its own copy of the model
on what it is given (Keras's guide wraps the model in DDP with a hand-written loop instead). The
callback reads the launcher's environment like the other integrations: the job is one run,
created by rank 0 and joined by the others through the job's key (``runner.ranks``); rank 0's
logs are the run's, and ``all_ranks=True`` adds each other rank's as ``name@rank``. A stop
(the doctor on rank 0, a cancel) ends every rank's fit after the same batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")  # traindoc is a PyTorch doctor; set it first to choose another

import keras  # noqa: E402

from traindoc._integration import Session, canonical_config


class TraindocCallback(keras.callbacks.Callback):
    """A Keras callback whose run is a traindoc run (source ``api``)."""

    async_safe = True  # our batch hook only appends to the sink's buffer (under a lock)

    def __init__(self, name: str = "keras", db: str | os.PathLike | None = None,
                 stop_on: Iterable[str] | str = (), config: Mapping[str, Any] | None = None,
                 batch_size: int | None = None, strict: bool | None = None, all_ranks: bool = False) -> None:
        super().__init__()
        self._session = Session(name, db, stop_on, config, strict, all_ranks=all_ranks)
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._epoch_start = 0  # steps before this epoch: Keras numbers batches from 0 in each epoch
        self._last_step = 0

    @property
    def run(self) -> Any:
        return self._session.run

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        optimizer = self.model.optimizer
        params: dict[str, Any] = {k: v for k, v in optimizer.get_config().items() if k != "name"}
        params["optimizer"] = type(optimizer).__name__.lower()
        params["epochs"] = self.params.get("epochs")
        if self._batch_size is not None:
            params["batch_size"] = self._batch_size
        self._session.open(canonical_config(params))

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        step = self._epoch_start + batch + 1
        with self._lock:  # batch hooks may run on several Keras worker threads at once
            self._last_step = max(self._last_step, step)
            self._session.log(logs or {}, step=step)  # Keras reports running means over the epoch so far
        if self._session.stop_requested:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        with self._lock:  # Keras has waited for every batch hook of the epoch before this one
            self._epoch_start = self._last_step
            self._session.log(logs or {}, step=self._last_step, epoch=epoch + 1, epoch_level=True,
                              skip=("learning_rate",))

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._session.close()
