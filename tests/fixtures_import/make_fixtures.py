"""Write the importer fixtures: real writers on a real run where the writer exists, hand-made samples otherwise.

``python tests/fixtures_import/make_fixtures.py`` trains the ``overfitting`` preset (~10 s on a
CPU) and writes its curves as TensorBoard's ``SummaryWriter`` (with ``add_hparams`` and
``add_scalars``), as Lightning's ``CSVLogger`` layout (sparse rows + ``hparams.yaml``) and as
Keras' ``CSVLogger``/``History`` layouts with pandas/json. The hand-made samples (HF,
Ultralytics, MMEngine, console logs, generic tables) are literal files in this folder.
Rerun it only on purpose: the golden files (tests/golden/import) are derived from these.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))


def overfitting_run() -> tuple[pd.DataFrame, dict]:
    from runner.execute import execute
    from runner.presets import PRESETS
    from runner.store import Store

    store = Store(Path(tempfile.mkdtemp()) / "fixtures.db")
    config = PRESETS["overfitting"].config().to_flat()
    run_id = store.create_run("overfitting", config)
    assert execute(store, run_id) == "finished"
    return store.metrics(run_id), config


def wide(metrics: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    sub = metrics[metrics["name"].isin(names)].assign(name=lambda f: f["name"].map(names))
    return sub.pivot_table(index=["step", "epoch"], columns="name", values="value", sort=True).reset_index()


def lightning(metrics: pd.DataFrame, config: dict, out: Path) -> None:
    """CSVLogger: one row per log call group, sparse; epoch 0-based; keys sorted after epoch/step."""
    steps = wide(metrics, {"train/loss": "train_loss_step", "lr": "lr-Adam"})
    epochs = wide(metrics, {"train/loss_epoch": "train_loss_epoch", "val/loss": "val_loss", "val/acc": "val_acc"})
    frame = pd.concat([steps, epochs], ignore_index=True).sort_values(["step"], kind="stable")
    frame["epoch"] = (np.ceil(frame["epoch"]).astype(int) - 1).clip(lower=0)  # Lightning counts from 0
    frame = frame[["epoch", "step", *sorted(c for c in frame.columns if c not in ("epoch", "step"))]]
    folder = out / "lightning" / "version_0"
    folder.mkdir(parents=True)
    frame.to_csv(folder / "metrics.csv", index=False)
    hparams = {"lr": config["optim.lr"], "weight_decay": config["optim.weight_decay"],
               "batch_size": config["train.batch_size"], "model": {"width": config["model.width"]}}
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams))


def keras(metrics: pd.DataFrame, out: Path) -> None:
    names = {"train/loss_epoch": "loss", "train/acc": "accuracy", "val/loss": "val_loss", "val/acc": "val_accuracy"}
    frame = wide(metrics, names).drop(columns="step")
    frame["epoch"] = frame["epoch"].astype(int) - 1
    folder = out / "keras"
    folder.mkdir()
    frame[["epoch", *sorted(names.values())]].to_csv(folder / "training.log", index=False)
    history = {k: frame[k].tolist() for k in sorted(names.values())}
    (folder / "history.json").write_text(json.dumps(history))


def tensorboard(metrics: pd.DataFrame, config: dict, out: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out / "tensorboard" / "overfit"))
    for row in metrics[metrics["name"] == "train/loss"].itertuples():
        writer.add_scalar("Loss/train", row.value, row.step)
    for row in metrics[metrics["name"] == "val/loss"].itertuples():
        writer.add_scalar("Loss/val", row.value, row.step)
        writer.add_scalar("Accuracy/val", metrics[(metrics["name"] == "val/acc") & (metrics["step"] == row.step)]
                          ["value"].iloc[0], row.step, new_style=True)  # TF2-style tensor scalar
    for row in metrics[metrics["name"] == "lr"].itertuples():
        writer.add_scalars("lr", {"group0": row.value}, row.step)
    final = metrics[metrics["name"] == "val/loss"]["value"].iloc[-1]
    writer.add_hparams({"optim.lr": config["optim.lr"], "optim.name": config["optim.name"], "model.width": 512},
                       {"hparam/val_loss": final}, run_name="hparams")
    writer.close()


def main() -> None:
    metrics, config = overfitting_run()
    for name in ("lightning", "keras", "tensorboard"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    lightning(metrics, config, HERE)
    keras(metrics, HERE)
    tensorboard(metrics, config, HERE)
    print(f"wrote fixtures under {HERE}")


if __name__ == "__main__":
    main()
