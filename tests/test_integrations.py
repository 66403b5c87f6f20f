"""The integrations against the real libraries: a tiny real model trained with each, rows and diagnosis checked.

Each trains a linear regression with plain SGD twice: at a sane learning rate (the rows, the
config taken from the framework) and at one so large that the loss blows up (the doctor
names the divergence). Seconds each on a CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from runner.store import Store
from traindoc import diagnose

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

X = torch.randn(256, 8, generator=torch.Generator().manual_seed(0))
Y = X @ torch.linspace(-1, 1, 8).unsqueeze(1) + 0.1 * torch.randn(256, 1, generator=torch.Generator().manual_seed(1))


def _stored(db: Path) -> tuple[dict, dict[str, int], list[str]]:
    store = Store(db)
    run_id = int(store.runs().id.max())
    run = store.run(run_id)
    counts = {name: len(store.metric_series(run_id, name)[0]) for name in store.metric_names(run_id)}
    return run, counts, [f.rule for f in diagnose(db, run_id=run_id)]


# -- Lightning ---------------------------------------------------------------
def _lightning_fit(db: Path, lr: float, epochs: int = 4) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from traindoc.lightning import TraindocLogger

    class Regression(pl.LightningModule):
        def __init__(self, lr: float, batch_size: int = 32) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(8, 1)

        def training_step(self, batch, _idx):  # noqa: ANN001, ANN201
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _idx):  # noqa: ANN001, ANN201
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def configure_optimizers(self):  # noqa: ANN201
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    data = torch.utils.data.TensorDataset(X, Y)
    loader = torch.utils.data.DataLoader(data, batch_size=32)
    logger = TraindocLogger("lightning-test", db=db)
    trainer = pl.Trainer(max_epochs=epochs, logger=logger, callbacks=[logger.stopper()], accelerator="cpu",
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         log_every_n_steps=1)
    trainer.fit(Regression(lr), loader, torch.utils.data.DataLoader(data, batch_size=64))


def test_lightning_logger_streams_rows_and_hparams(tmp_path: Path) -> None:
    _lightning_fit(tmp_path / "t.db", lr=0.05)
    run, counts, rules = _stored(tmp_path / "t.db")
    assert "divergence" not in rules
    assert run["status"] == "finished" and run["source"] == "api"
    assert run["config"]["optim.lr"] == 0.05 and run["config"]["train.batch_size"] == 32
    assert counts["train/loss"] == 4 * 8  # every step (log_every_n_steps=1), 8 batches x 4 epochs
    assert counts["val/loss"] == 4 and counts["train/loss_epoch"] == 4
    assert run["meta"]["original_names"]["val/loss"] == "val_loss"


def test_lightning_divergence_is_diagnosed(tmp_path: Path) -> None:
    _lightning_fit(tmp_path / "t.db", lr=5.0)
    _run, _counts, rules = _stored(tmp_path / "t.db")
    assert "divergence" in rules


# -- Hugging Face --------------------------------------------------------------
def _hf_train(tmp_path: Path, lr: float, epochs: int = 3) -> None:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from traindoc.hf import TraindocCallback

    class Regression(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(8, 1)

        def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
            out = self.net(x)
            return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}

    rows = [{"x": x, "labels": y} for x, y in zip(X, Y, strict=True)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=epochs, per_device_train_batch_size=32,
        learning_rate=lr, weight_decay=0.01, adam_epsilon=1e-6, optim="sgd", lr_scheduler_type="constant",
        logging_steps=1, eval_strategy="epoch", save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
        max_grad_norm=1e9)
    trainer = transformers.Trainer(model=Regression(), args=args, train_dataset=rows, eval_dataset=rows,
                                   callbacks=[TraindocCallback("hf-test", db=tmp_path / "t.db")])
    trainer.train()


def test_hf_callback_streams_rows_and_training_arguments(tmp_path: Path) -> None:
    _hf_train(tmp_path, lr=0.05)
    run, counts, rules = _stored(tmp_path / "t.db")
    assert "divergence" not in rules
    assert run["status"] == "finished"
    cfg = run["config"]
    assert (cfg["optim.lr"], cfg["optim.eps"], cfg["optim.weight_decay"]) == (0.05, 1e-6, 0.01)
    assert (cfg["train.batch_size"], cfg["train.epochs"], cfg["optim.name"]) == (32, 3, "sgd")
    assert counts["train/loss"] == 3 * 8 and counts["val/loss"] == 3 and counts["lr"] == 3 * 8


def test_hf_divergence_is_diagnosed(tmp_path: Path) -> None:
    _hf_train(tmp_path, lr=5.0)
    assert "divergence" in _stored(tmp_path / "t.db")[2]


# -- Keras 3 (torch backend) -----------------------------------------------------
def _keras_fit(db: Path, lr: float, epochs: int = 4) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    from traindoc.keras import TraindocCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, weight_decay=1e-4), loss="mse")
    model.fit(X.numpy(), Y.numpy(), batch_size=32, epochs=epochs, validation_split=0.25, verbose=0,
              callbacks=[TraindocCallback("keras-test", db=db, batch_size=32)])


def test_keras_callback_streams_rows_and_optimizer_config(tmp_path: Path) -> None:
    _keras_fit(tmp_path / "t.db", lr=0.05)
    run, counts, rules = _stored(tmp_path / "t.db")
    assert "divergence" not in rules
    assert run["status"] == "finished"
    cfg = run["config"]
    assert cfg["optim.lr"] == pytest.approx(0.05) and cfg["optim.weight_decay"] == pytest.approx(1e-4)
    assert (cfg["optim.name"], cfg["train.epochs"], cfg["train.batch_size"]) == ("sgd", 4, 32)
    assert counts["train/loss"] == 4 * 6  # 192 training rows / 32 per batch, 4 epochs
    assert counts["val/loss"] == 4 and counts["train/loss_epoch"] == 4


def test_keras_divergence_is_diagnosed(tmp_path: Path) -> None:
    _keras_fit(tmp_path / "t.db", lr=5.0)
    assert "divergence" in _stored(tmp_path / "t.db")[2]
