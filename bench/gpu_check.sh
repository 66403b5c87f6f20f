#!/usr/bin/env bash
# The GPU proof, in one command, on a machine with a CUDA device:
#
#     bash bench/gpu_check.sh
#
# 1. a preset trained by the runner on CUDA (train.device=cuda), then diagnosed;
# 2. bench/overhead.py on CUDA: bare loop vs traindoc vs TensorBoard, ms/step, and the
#    host-device syncs per step of traindoc's logged loop (torch.cuda.set_sync_debug_mode);
# 3. a Lightning run on the GPU through traindoc's logger;
# 4. torchrun (one process per GPU) with the logging API on the GPU: one run per job.
# It prints one table at the end. Without a CUDA device it says so and exits 3, running nothing.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing was run"
  exit 3
fi

work=$(mktemp -d)
db="$work/gpu.db"
gpus=$(python -c "import torch; print(torch.cuda.device_count())")
results=()

step() {  # step NAME COMMAND...: run it, keep its output, record ok/failed and the seconds it took
  local name=$1; shift
  local start=$SECONDS
  if "$@" >"$work/$name.log" 2>&1; then status=ok; else status=FAILED; fi
  results+=("$(printf '%-34s %-7s %5ss  %s' "$name" "$status" $((SECONDS - start)) "$work/$name.log")")
  tail -n 25 "$work/$name.log"
}

step "preset on CUDA (healthy, 3 epochs)" \
  python -m runner run --db "$db" --preset healthy --name gpu-preset --set train.device=cuda --set train.epochs=3
step "diagnosis of the CUDA run" python -m diagnostics --db "$db" --run 1

step "overhead on CUDA (ms/step, syncs)" python bench/overhead.py --reps 3

cat >"$work/lightning_gpu.py" <<'EOF'
import sys

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import traindoc.lightning


class Net(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))

    def training_step(self, batch, _):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), 1e-3)


x, y = torch.randn(2048, 32), torch.randint(0, 4, (2048,))
loader = DataLoader(TensorDataset(x, y), batch_size=64)
logger = traindoc.lightning.TraindocLogger("gpu-lightning", db=sys.argv[1])
L.Trainer(accelerator="gpu", devices=1, max_epochs=3, logger=logger, enable_progress_bar=False).fit(
    Net(), loader, loader)
EOF
step "Lightning on the GPU" python "$work/lightning_gpu.py" "$db"

cat >"$work/ddp_api.py" <<'EOF'
import os
import sys

import torch
import torch.distributed as dist

import traindoc

rank = int(os.environ["LOCAL_RANK"])
torch.cuda.set_device(rank)
dist.init_process_group("nccl")
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(32, 4).cuda(), device_ids=[rank])
opt = torch.optim.SGD(model.parameters(), lr=0.1)
with traindoc.start_run("gpu-torchrun", db=sys.argv[1]) as run:
    for step in range(200):
        x, y = torch.randn(64, 32, device="cuda"), torch.randint(0, 4, (64,), device="cuda")
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss}, step=step, all_ranks=True)  # a device tensor: no sync per step
dist.destroy_process_group()
EOF
step "torchrun x${gpus} with the logging API" \
  torchrun --standalone --nproc_per_node "$gpus" "$work/ddp_api.py" "$db"
step "runs stored" python -m runner list --db "$db"

echo
echo "== GPU check on $(python -c "import torch; print(torch.cuda.get_device_name(0))") x${gpus}"
printf '%s\n' "${results[@]}"
