"""A plain PyTorch MLP on scikit-learn's digits, logged with traindoc: run it, or let traindoc launch it.

    python examples/digits_mlp.py                          # a run of its own (./traindoc.db)
    python -m runner script add digits examples/digits_mlp.py
    python -m runner script sweep digits --grid optim.lr=1e-3,3e-1

Every hyper-parameter is read from ``run.config``: the defaults below when run by hand,
the swept or patched values when traindoc launched it.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import traindoc

DEFAULTS = {"optim.name": "adam", "optim.lr": 1e-3, "optim.eps": 1e-8, "optim.weight_decay": 0.0,
            "model.hidden": 64, "train.epochs": 15, "train.batch_size": 64, "train.seed": 0}


def main() -> None:
    with traindoc.start_run("digits-mlp", config=DEFAULTS, stop_on=("divergence",)) as run:
        cfg = run.config
        torch.manual_seed(int(cfg["train.seed"]))
        x, y = load_digits(return_X_y=True)
        x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
        x_tr, x_va = torch.tensor(x_tr, dtype=torch.float32), torch.tensor(x_va, dtype=torch.float32)
        y_tr, y_va = torch.tensor(y_tr), torch.tensor(y_va)
        model = torch.nn.Sequential(torch.nn.Linear(64, int(cfg["model.hidden"])), torch.nn.ReLU(),
                                    torch.nn.Linear(int(cfg["model.hidden"]), 10))
        opt = torch.optim.Adam(model.parameters(), lr=float(cfg["optim.lr"]), eps=float(cfg["optim.eps"]),
                               weight_decay=float(cfg["optim.weight_decay"]))
        epochs, batch = int(cfg["train.epochs"]), int(cfg["train.batch_size"])
        step = 0
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(x_tr))
            total = torch.zeros(())
            for i in range(0, len(order), batch):
                idx = order[i:i + batch]
                loss = torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
                opt.zero_grad()
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
                opt.step()
                step += 1
                total += loss.detach() * len(idx)
                run.log({"train/loss": loss.detach(), "grad_norm": grad_norm, "lr": opt.param_groups[0]["lr"]},
                        step=step)
            model.eval()
            with torch.no_grad():
                logits = model(x_va)
                val_loss = torch.nn.functional.cross_entropy(logits, y_va)
                val_acc = (logits.argmax(1) == y_va).float().mean()
                train_acc = (model(x_tr).argmax(1) == y_tr).float().mean()
            run.log({"train/loss_epoch": total / len(x_tr), "val/loss": val_loss, "val/acc": val_acc,
                     "train/acc": train_acc}, step=step, epoch=epoch)
            run.set_progress(epoch / epochs)


if __name__ == "__main__":
    main()
