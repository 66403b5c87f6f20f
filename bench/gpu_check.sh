#!/usr/bin/env bash
# The GPU proof, in one command, on a machine with a CUDA device:
#
#     bash bench/gpu_check.sh
#
# 1. a preset trained by the runner on CUDA (train.device=cuda), then diagnosed;
# 2. bench/overhead.py on CUDA: bare loop vs traindoc vs TensorBoard, seconds per loop, and the
#    host-device syncs of traindoc's logged loop (torch.cuda.set_sync_debug_mode);
# 3. a Lightning run on the GPU through traindoc's logger;
# 4. torchrun (one process per GPU) with the logging API on the GPU: one run per job, with the
#    CUDA memory the sink samples at its flushes (sys/cuda_alloc_mb).
# It prints one table at the end: each step's status, then the figures (overhead and syncs, each
# stored run's status and its system rows). Without a CUDA device it says so and exits 3, running
# nothing. GPU_CHECK_ON_CPU=1 runs the same steps on the CPU (gloo, two ranks, a quick overhead):
# a check of this script's plumbing where no GPU is lent, not a GPU figure.
# Exit status: 0 when every step passed, 1 when one failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [[ "${GPU_CHECK_ON_CPU:-0}" == 1 ]]; then
  device=cpu accelerator=cpu backend=gloo gpus=2
  overhead=(--quick --reps 1)
else
  if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing was run"
    exit 3
  fi
  device=cuda accelerator=gpu backend=nccl
  overhead=(--reps 3)
  gpus=$(python -c "import torch; print(torch.cuda.device_count())")
fi
export GPU_CHECK_DEVICE=$device GPU_CHECK_ACCELERATOR=$accelerator GPU_CHECK_BACKEND=$backend

work=$(mktemp -d)
db="$work/gpu.db"
results=()
failed=0
overhead_log=/dev/null

step() {  # step NAME COMMAND...: run it, keep its output, record ok/failed and the seconds it took
  local name=$1; shift
  local start=$SECONDS status
  local log="$work/${name//[^A-Za-z0-9]/_}.log"  # a step's name has spaces and parentheses
  if "$@" >"$log" 2>&1; then status=ok; else status=FAILED; failed=1; fi
  results+=("$(printf '%-40s %-7s %5ss  %s' "$name" "$status" $((SECONDS - start)) "$log")")
  [[ "$name" == overhead* ]] && overhead_log=$log
  tail -n 25 "$log"
}

step "preset on $device (healthy, 3 epochs)" \
  python -m runner run --db "$db" --preset healthy --name gpu-preset --set train.device=$device --set train.epochs=3
step "diagnosis of the $device run" python -m diagnostics --db "$db" --run 1

step "overhead on $device (s/loop, syncs)" python bench/overhead.py "${overhead[@]}"

cat >"$work/lightning_gpu.py" <<'EOF'
import os
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
L.Trainer(accelerator=os.environ["GPU_CHECK_ACCELERATOR"], devices=1, max_epochs=3, logger=logger,
          enable_progress_bar=False, default_root_dir=os.path.dirname(sys.argv[1])).fit(Net(), loader, loader)
EOF
step "Lightning on $device" python "$work/lightning_gpu.py" "$db"

cat >"$work/ddp_api.py" <<'EOF'
import os
import sys

import torch
import torch.distributed as dist

import traindoc

rank = int(os.environ["LOCAL_RANK"])
on_cuda = os.environ["GPU_CHECK_DEVICE"] == "cuda"
device = torch.device("cuda", rank) if on_cuda else torch.device("cpu")
if on_cuda:
    torch.cuda.set_device(device)
dist.init_process_group(os.environ["GPU_CHECK_BACKEND"])
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(32, 4).to(device),
                                                  device_ids=[rank] if on_cuda else None)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
with traindoc.start_run("gpu-torchrun", db=sys.argv[1]) as run:
    for step in range(200):
        x, y = torch.randn(64, 32, device=device), torch.randint(0, 4, (64,), device=device)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss}, step=step, all_ranks=True)  # a device tensor: no sync per step
dist.destroy_process_group()
EOF
step "torchrun x${gpus} with the logging API" \
  torchrun --standalone --nproc_per_node "$gpus" "$work/ddp_api.py" "$db"

figures() {  # each stored run: status, steps, world size, and the system rows (the CUDA memory path)
  python - "$db" <<'EOF'
import sys

from runner.store import Store

store = Store(sys.argv[1])
for run_id in sorted(int(i) for i in store.runs(reconcile=False).id):
    run, names = store.run(run_id), store.metric_names(run_id)
    rows = {n: len(store.metric_series(run_id, n)[0]) for n in names if n.startswith("sys/")}
    alloc = store.metric_series(run_id, "sys/cuda_alloc_mb")[1] if "sys/cuda_alloc_mb" in names else []
    print(f"  run {run_id} {run['name']:14s} {run['status']:9s} last step {run['last_step']}, world size "
          f"{run['meta'].get('world_size', 1)}, system rows {rows}"
          + (f", cuda_alloc max {max(alloc):.1f} MB" if len(alloc) else ""))
EOF
}

echo
if [[ $device == cuda ]]; then
  echo "== GPU check on $(python -c "import torch; print(torch.cuda.get_device_name(0))") x${gpus}"
else
  echo "== GPU check's plumbing on the CPU (GPU_CHECK_ON_CPU=1): no GPU figure below"
fi
printf '%s\n' "${results[@]}"
echo "-- overhead (median over the repetitions; host-device syncs are counted on CUDA only)"
grep -E "^(summary:|  host-device syncs)" "$overhead_log" | sed 's/^ */  /'
echo "-- runs stored"
figures
exit $failed
