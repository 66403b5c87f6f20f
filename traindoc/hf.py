"""Hugging Face: ``Trainer(..., callbacks=[traindoc.hf.TraindocCallback("exp")])`` streams into the store.

The run's config is the ``TrainingArguments`` on canonical keys (``learning_rate`` →
``optim.lr``, ``adam_epsilon`` → ``optim.eps``, ``per_device_train_batch_size`` →
``train.batch_size``, ...). ``on_log`` receives what the Trainer already turned into floats
at ``logging_steps``; the callback adds no sync. The live doctor (``stop_on``) ends training
through ``control.should_training_stop``.

Under ``torchrun`` the job is one run (``traindoc.start_run``): every rank opens it at
``on_train_begin`` (rank 0 creates, the others attach) and leaves it at ``on_train_end``; rank 0's
logs are the run's. ``all_ranks=True`` stores the other ranks' logs as ``name@rank`` as well
(the Trainer's logged loss is already averaged over the ranks: these series tell when each rank
logged, rather than a different loss).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from traindoc._integration import Session, canonical_config

# The Trainer's end-of-training summary and bookkeeping: not curves.
SUMMARY_KEYS = ("epoch", "total_flos", "train_loss", "train_runtime", "train_samples_per_second",
                "train_steps_per_second", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second")
# TrainingArguments that say how to run, not what is trained: left out of the config.
NOT_CONFIG = ("output_dir", "logging_dir", "run_name", "hub_token", "push_to_hub_token", "report_to")


class TraindocCallback(TrainerCallback):
    """A ``TrainerCallback`` whose run is a traindoc run (source ``api``)."""

    def __init__(self, name: str = "hf-trainer", db: str | os.PathLike | None = None,
                 stop_on: Iterable[str] | str = (), config: Mapping[str, Any] | None = None,
                 strict: bool | None = None, all_ranks: bool = False) -> None:
        self._session = Session(name, db, stop_on, config, strict, all_ranks=all_ranks)

    @property
    def run(self) -> Any:
        return self._session.run

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        # every rank: rank 0 creates the job's run, the others attach (a collective under a process group)
        params = {k: v for k, v in args.to_dict().items() if k not in NOT_CONFIG}
        self._session.open(canonical_config(params))

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or not (state.is_world_process_zero or self._session.all_ranks):
            return
        evaluation = any(k.startswith("eval_") for k in logs)
        self._session.log(logs, step=state.global_step, epoch=state.epoch if evaluation else None,
                          epoch_level=evaluation, skip=SUMMARY_KEYS)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        if self._session.stop_requested:
            control.should_training_stop = True

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs: Any) -> None:
        self._session.close()  # every rank: the run ends once all of them left
