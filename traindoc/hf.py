"""Hugging Face: ``Trainer(..., callbacks=[traindoc.hf.TraindocCallback("exp")])`` streams into the store.

The run's config is the ``TrainingArguments`` on canonical keys (``learning_rate`` →
``optim.lr``, ``adam_epsilon`` → ``optim.eps``, ``per_device_train_batch_size`` →
``train.batch_size``, ...). ``on_log`` receives what the Trainer already turned into floats
at ``logging_steps``; the callback adds no sync. The live doctor (``stop_on``) ends training
through ``control.should_training_stop``.
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
                 strict: bool | None = None) -> None:
        self._session = Session(name, db, stop_on, config, strict)

    @property
    def run(self) -> Any:
        return self._session.run

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        if state.is_world_process_zero:
            params = {k: v for k, v in args.to_dict().items() if k not in NOT_CONFIG}
            self._session.open(canonical_config(params))

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
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
        if state.is_world_process_zero:
            self._session.close()
