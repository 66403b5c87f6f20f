"""The integrations under two CPU processes (gloo) give one finished run per job.

Lightning ``strategy="ddp"`` through Lightning's own launcher (it starts the second process
itself): its logger is called on rank 0 alone, so rank 0 makes the run and records that two
ranks trained. The HF Trainer under ``torchrun --nproc_per_node 2``: every rank opens the run at
``on_train_begin`` (rank 0 creates, rank 1 attaches through the process group) and leaves it at
``on_train_end``; with ``all_ranks=True`` rank 1's logs land in the same run as ``name@1``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from runner.store import Store
from tests.ddp import launch, torchrun

pytestmark = pytest.mark.slow  # two torch start-ups per test

STEPS = 8  # 256 rows, batches of 32 split over 2 ranks: 4 steps an epoch, 2 epochs

DATA = """
import sys
from pathlib import Path

import torch

X = torch.randn(256, 8, generator=torch.Generator().manual_seed(0))
Y = X @ torch.linspace(-1, 1, 8).unsqueeze(1)
out = Path(sys.argv[1])
"""

LIGHTNING = DATA + """
import lightning.pytorch as pl

from traindoc.lightning import TraindocLogger


class Regression(pl.LightningModule):
    def __init__(self, lr=0.05):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(8, 1)

    def training_step(self, batch, _idx):
        loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=32)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy="ddp", log_every_n_steps=1,
                         logger=TraindocLogger("lightning-ddp", db=out / "t.db"), enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Regression(), loader)
"""

HF = DATA + """
import transformers

from traindoc.hf import TraindocCallback


class Regression(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8, 1)

    def forward(self, x, labels=None):
        logits = self.net(x)
        return {"loss": torch.nn.functional.mse_loss(logits, labels), "logits": logits}


args = transformers.TrainingArguments(
    output_dir=str(out / "hf"), num_train_epochs=2, per_device_train_batch_size=32, learning_rate=0.05, optim="sgd",
    logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, ddp_backend="gloo")
rows = [{"x": x, "labels": y} for x, y in zip(X, Y)]
transformers.Trainer(model=Regression(), args=args, train_dataset=rows,
                     callbacks=[TraindocCallback("hf-ddp", db=out / "t.db", all_ranks=True)]).train()
"""

KERAS = DATA + """
import os

os.environ["KERAS_BACKEND"] = "torch"
import keras

from traindoc.keras import TraindocCallback

rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
keras.utils.set_random_seed(rank)
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
# each process fits its own shard: Keras on torch has no multi-worker fit
model.fit(X[rank::size].numpy(), Y[rank::size].numpy(), batch_size=32, epochs=2, verbose=0,
          callbacks=[TraindocCallback("keras-ddp", db=out / "t.db", all_ranks=True)])
"""


def _one_run(db: Path) -> tuple[dict, dict[str, int]]:
    store = Store(db)
    runs = store.runs(reconcile=False)
    assert len(runs) == 1, runs[["id", "name", "status"]]  # one run per job, never one per rank
    run_id = int(runs.id.iloc[0])
    return store.run(run_id), {n: len(store.metric_series(run_id, n)[0]) for n in store.metric_names(run_id)
                             if not n.startswith("sys/")}  # system rows follow the clock, not the steps


def test_lightning_ddp_on_two_processes_is_one_finished_run(tmp_path: Path) -> None:
    pytest.importorskip("lightning.pytorch")
    script = tmp_path / "fit.py"
    script.write_text(LIGHTNING)
    launch([sys.executable, str(script), str(tmp_path)])  # Lightning starts rank 1 itself
    run, counts = _one_run(tmp_path / "t.db")
    assert run["status"] == "finished" and run["meta"]["world_size"] == 2
    assert counts == {"train/loss": STEPS}
    assert run["config"]["optim.lr"] == 0.05


def test_hf_trainer_under_torchrun_is_one_finished_run_with_rank_one_beside(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    script = tmp_path / "train.py"
    script.write_text(HF)
    torchrun(script, 2)
    run, counts = _one_run(tmp_path / "t.db")
    assert run["status"] == "finished" and run["meta"]["world_size"] == 2
    assert {r: m["status"] for r, m in run["meta"]["ranks"].items()} == {"0": "finished", "1": "finished"}
    assert counts["train/loss"] == STEPS and counts["train/loss@1"] == STEPS
    assert run["config"]["optim.lr"] == 0.05


def test_keras_fit_under_torchrun_is_one_finished_run_with_rank_one_beside(tmp_path: Path) -> None:
    if importlib.util.find_spec("keras") is None:  # not imported here: it would pick its backend in this process
        pytest.skip("keras is not installed")
    script = tmp_path / "fit.py"
    script.write_text(KERAS)
    torchrun(script, 2)
    run, counts = _one_run(tmp_path / "t.db")  # before: the same, and nothing tested it
    assert run["status"] == "finished" and run["meta"]["world_size"] == 2
    assert {r: m["status"] for r, m in run["meta"]["ranks"].items()} == {"0": "finished", "1": "finished"}
    assert counts["train/loss"] == STEPS and counts["train/loss@1"] == STEPS  # 128 rows a rank: 4 batches x 2
    assert counts["train/loss_epoch"] == 2 and counts["train/loss_epoch@1"] == 2
    assert run["config"]["optim.lr"] == pytest.approx(0.05)  # Keras keeps it as a float32
