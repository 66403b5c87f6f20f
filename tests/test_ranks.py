"""One run per many-process job, without a launcher: the environment read, the job key, the
``name@rank`` vocabulary, and two ranks played by two threads of this process (seconds).

The real launches (torchrun with the logging API, Lightning ddp, the HF Trainer) are in
``test_ddp_logging.py`` and ``test_ddp_integrations.py``.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from diagnostics.engine import diagnose
from runner import api
from runner.ranks import Ranks, from_env, job_key
from runner.store import Store
from tests.diag_curves import falling, make_run
from traindoc.core.vocabulary import canonical, per_rank, rank_name, reads_as_train_loss, role

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
SLURM = {"SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_JOB_ID": "4242",
         "SLURM_STEP_ID": "0"}


# -- the launcher's environment ------------------------------------------------
def test_ranks_come_from_torchrun_then_slurm_else_one_process() -> None:
    assert from_env(TORCHRUN) == Ranks(1, 2, 1, "torchrun")
    assert from_env(SLURM) == Ranks(3, 8, 1, "slurm")
    assert from_env({**SLURM, **TORCHRUN}).launcher == "torchrun"  # torchrun inside an srun step: its ranks
    assert from_env({}) == Ranks() and not Ranks().many
    assert from_env({"RANK": "0", "WORLD_SIZE": "1"}) == Ranks(0, 1, 0, "torchrun")
    assert from_env({"RANK": "5", "WORLD_SIZE": "2"}) == Ranks()  # a broken environment: alone, not rank 5
    assert from_env({"RANK": "x", "WORLD_SIZE": "2", **{k: v for k, v in SLURM.items()}}).launcher == "slurm"


def test_job_key_prefers_the_rendezvous_id_then_slurm_then_the_master_address() -> None:
    assert job_key({**TORCHRUN, "TORCHELASTIC_RUN_ID": "ab-12"}) == "torchelastic:ab-12"
    assert job_key({**TORCHRUN, "TORCHELASTIC_RUN_ID": "ab-12", "TORCHELASTIC_RESTART_COUNT": "2"}) == \
        "torchelastic:ab-12#2"  # a restarted worker group is a new attempt, a new run
    assert job_key(SLURM) == "slurm:4242.0"
    # torchrun's default id "none" is no id: the rendezvous address, plus the shared launcher on one node
    assert job_key({**TORCHRUN, "TORCHELASTIC_RUN_ID": "none"}, parent_pid=77) == "master:127.0.0.1:29500/77"
    multi_node = {**TORCHRUN, "WORLD_SIZE": "4"}  # 2 of 4 ranks here: the others have another parent
    assert job_key(multi_node, parent_pid=77) == "master:127.0.0.1:29500"
    assert job_key({"RANK": "1", "WORLD_SIZE": "2"}) is None


# -- name@rank in the vocabulary ---------------------------------------------------
def test_a_per_rank_series_is_not_read_as_the_runs_loss() -> None:
    assert rank_name("train/loss", 1) == "train/loss@1" and per_rank("train/loss@1") == ("train/loss", 1)
    assert per_rank("train/loss") is None and per_rank("email@host") is None
    for name in ("train/loss@1", "loss@3", "val/loss@1", "val/acc@2"):
        assert canonical(name, False) == name and canonical(name, True) == name
        assert role(name).kind == "rank" and role(name).better == ""
        assert not reads_as_train_loss(name)
    assert role("val/loss@1").split == "val" and role("train/loss").kind == "loss"


def test_a_diverging_rank_series_does_not_make_the_run_diverge() -> None:
    healthy, blown = falling(120), np.concatenate([falling(60), np.full(60, np.nan)])
    quiet = make_run(**{"train/loss": healthy, "train/loss@1": blown})
    assert "divergence" not in [f.rule for f in diagnose(quiet)]
    loud = make_run(**{"train/loss": blown, "train/loss@1": healthy})  # the same curves, rank 0 blown
    assert "divergence" in [f.rule for f in diagnose(loud)]


# -- the store's job key -----------------------------------------------------------
def test_a_job_key_is_unique_and_a_later_job_takes_it_over(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    first = store.create_run("a", source="api", status="running", job_key="torchelastic:x")
    assert store.job_run("torchelastic:x") == first
    second = store.create_run("b", source="api", status="running", job_key="torchelastic:x")
    assert store.job_run("torchelastic:x") == second and store.run(first)["job_key"] is None
    store.finish(second, "finished")
    assert store.job_run("torchelastic:x") is None  # only an active run is joined
    assert store.register_rank(second, 1, host="b", status="running") == {"1": {"host": "b", "status": "running"}}
    store.register_rank(second, 0, host="a")
    assert store.run(second)["meta"]["hosts"] == ["a", "b"]


# -- two ranks played by two threads -------------------------------------------------
def _job(db: Path, bodies: dict[int, object], **log_kw: bool) -> dict[int, BaseException | None]:
    """Run ``bodies[rank](run)`` inside ``api.open_run`` on one thread per rank (a job of two ranks);
    what each raised."""
    raised: dict[int, BaseException | None] = {}

    def rank(r: int) -> None:
        try:
            with api.open_run("job", db=db, ranks=Ranks(r, 2)) as run:
                for step in range(5):
                    run.log({"train/loss": 1.0 / (step + 1)}, step=step, **log_kw)
                bodies[r](run)
            raised[r] = None
        except BaseException as exc:  # noqa: BLE001 - what the rank's block raised, for the test
            raised[r] = exc

    threads = [threading.Thread(target=rank, args=(r,)) for r in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return raised


def _one_run(db: Path) -> tuple[dict, dict[str, int]]:
    store = Store(db)
    runs = store.runs(reconcile=False)
    assert len(runs) == 1, runs  # never a second run
    run_id = int(runs.id.iloc[0])
    return store.run(run_id), {n: len(store.metric_series(run_id, n)[0]) for n in store.metric_names(run_id)
                             if not n.startswith("sys/")}  # system rows follow the clock, not the steps


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "threads")
    monkeypatch.setenv("TRAINDOC_RANK_WAIT", "1")


def _nothing(run: object) -> None:
    return None


def test_two_ranks_make_one_finished_run_with_rank_zero_rows(tmp_path: Path, job_env: None) -> None:
    raised = _job(tmp_path / "t.db", {0: _nothing, 1: _nothing})
    run, counts = _one_run(tmp_path / "t.db")
    assert raised == {0: None, 1: None}
    assert run["status"] == "finished" and counts == {"train/loss": 5}  # rank 1's log(): a no-op
    assert run["meta"]["world_size"] == 2 and set(run["meta"]["ranks"]) == {"0", "1"}
    assert all(m["status"] == "finished" for m in run["meta"]["ranks"].values())


def test_all_ranks_stores_rank_ones_series_beside_the_runs(tmp_path: Path, job_env: None) -> None:
    _job(tmp_path / "t.db", {0: _nothing, 1: _nothing}, all_ranks=True)
    run, counts = _one_run(tmp_path / "t.db")
    assert run["status"] == "finished" and counts == {"train/loss": 5, "train/loss@1": 5}


def test_a_rank_that_raises_fails_the_run_with_its_reason(tmp_path: Path, job_env: None) -> None:
    rank_zero_in = threading.Event()  # rank 1 breaks mid-training, once rank 0 is training too (a loaded
    # machine may start rank 0's thread late; a run that ended before a rank began is test_log_faults')

    def in_block(run: object) -> None:
        rank_zero_in.set()

    def boom(run: object) -> None:
        rank_zero_in.wait(60)
        raise ValueError("rank one broke")

    raised = _job(tmp_path / "t.db", {0: in_block, 1: boom})
    run, _counts = _one_run(tmp_path / "t.db")
    assert isinstance(raised[1], ValueError) and raised[0] is None  # rank 0's own block ended well
    assert run["status"] == "failed" and run["error"].startswith("rank 1: ValueError: rank one broke")
    assert run["meta"]["ranks"]["1"]["status"] == "failed" and run["meta"]["ranks"]["0"]["status"] == "finished"


def test_a_rank_that_never_leaves_ends_the_run_crashed(tmp_path: Path, job_env: None) -> None:
    def stays_until_judged(run: object) -> None:  # rank 1 outlives rank 0's bounded wait (1 s)
        store = Store(tmp_path / "t.db")
        for _ in range(600):
            if store.run(run.id)["status"] == "crashed":
                return
            threading.Event().wait(0.1)

    raised = _job(tmp_path / "t.db", {0: _nothing, 1: stays_until_judged})
    run, _counts = _one_run(tmp_path / "t.db")
    assert raised == {0: None, 1: None}
    assert run["status"] == "crashed" and run["error"] == "rank 1 did not leave the block within 1 s"


def test_ranks_that_never_attach_are_noted_not_a_crash(tmp_path: Path, job_env: None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raised = _job(tmp_path / "t.db", {0: _nothing})  # rank 0 of 2 alone: an `if rank == 0:` script
    run, counts = _one_run(tmp_path / "t.db")
    assert raised == {0: None} and run["status"] == "finished" and counts == {"train/loss": 5}
    assert run["meta"]["absent_ranks"] == [1] and run["meta"]["world_size"] == 2
    assert any("rank_zero_only=True" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with api.open_run("alone", db=tmp_path / "t.db", ranks=Ranks(0, 2), rank_zero_only=True):
            pass
    assert not [w for w in caught if "never attached" in str(w.message)]  # said, so nobody is awaited


def test_a_rank_without_a_job_makes_no_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with api.open_run("job", db=tmp_path / "t.db", ranks=Ranks(1, 2)) as run:
            run.log({"train/loss": 1.0}, step=0, all_ranks=True)
    assert run.id is None and len(Store(tmp_path / "t.db").runs()) == 0
    assert any("rank 1 found no run of its job" in str(w.message) for w in caught)
    with pytest.raises(RuntimeError, match="found no run"), \
            api.open_run("job", db=tmp_path / "t.db", ranks=Ranks(1, 2), strict=True):
        pass


# -- a stop reaches every rank -------------------------------------------------
STOP_AT = 20  # the step at which the stop comes (from rank 0's thread, as a user's click would)
NO_STOP = 3000  # a rank that logs this many steps never saw the stop


def _stopped_job(db: Path, stop: object) -> tuple[dict[int, int], dict[int, BaseException | None]]:
    """Two ranks log steps until their run says stop; ``stop(store, run_id)`` ends the run at ``STOP_AT``.
    The last step each rank logged."""
    last: dict[int, int] = {}
    rank_one_in = threading.Event()  # a loaded machine may start rank 1 late: stop a run it has joined
    all_reduce = threading.Barrier(2)  # DDP's lockstep: a rank that left early breaks the other's wait

    def body(r: int) -> object:
        def loop(run: object) -> None:
            for step in range(5, NO_STOP):
                all_reduce.wait(timeout=60)
                run.log({"train/loss": 1.0 / (step + 1)}, step=step, all_ranks=True)
                last[r] = step
                if run.stop_requested:
                    return
                if r == 1:
                    rank_one_in.set()
                if r == 0 and step == STOP_AT:
                    rank_one_in.wait(60)
                    stop(Store(db), run.id)
                threading.Event().wait(0.005)  # a training step
        return loop

    raised = _job(db, {0: body(0), 1: body(1)})
    return last, raised


def test_a_cancel_takes_every_rank_out_after_the_same_step(tmp_path: Path, job_env: None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from runner import launcher

    signalled: list[int] = []
    monkeypatch.setattr(launcher.os, "kill", lambda pid, sig: signalled.append(pid))
    last, raised = _stopped_job(tmp_path / "t.db", launcher.cancel)
    run, counts = _one_run(tmp_path / "t.db")
    assert raised == {0: None, 1: None} and not signalled  # no rank is signalled: each reads the cancel
    stop_step = run["meta"]["stop_step"]
    assert STOP_AT < stop_step < NO_STOP - 1 and last == {0: stop_step, 1: stop_step}
    assert run["status"] == "cancelled" and run["error"] == "cancelled by user"
    assert {r: m["status"] for r, m in run["meta"]["ranks"].items()} == {"0": "stopped", "1": "stopped"}
    assert run["meta"]["ranks"]["1"]["error"] == "cancelled: cancelled by user"
    # every step up to the stop step is kept: rank 0's from 0, rank 1's from 5 (where all_ranks begins)
    assert counts["train/loss"] == stop_step + 1 and counts["train/loss@1"] == stop_step + 1 - 5


def test_a_doctors_stop_ends_the_run_stopped_with_its_reason_once_every_rank_left(
        tmp_path: Path, job_env: None) -> None:
    reason = "stopped by the doctor: divergence: the loss went non-finite"

    def doctor(store: Store, run_id: int) -> None:  # what traindoc.live_doctor writes on rank 0
        store.finish(run_id, "stopped", error=reason)

    last, raised = _stopped_job(tmp_path / "t.db", doctor)
    run, _counts = _one_run(tmp_path / "t.db")
    assert raised == {0: None, 1: None} and last[0] == last[1] == run["meta"]["stop_step"]
    assert run["status"] == "stopped" and run["error"] == reason
    assert all(m["status"] == "stopped" and m["error"] == f"stopped: {reason}" for m in run["meta"]["ranks"].values())


def test_a_follower_whose_rank_zero_left_without_a_stop_step_leaves_at_once(tmp_path: Path) -> None:
    from runner.job import JobStop

    store = Store(tmp_path / "t.db")
    run_id = store.create_run("job", {})
    store.register_rank(run_id, 0, status="running")
    stop = JobStop(store, run_id, 1)
    try:
        stop.logged(7)
        assert not stop.look() and not stop.requested  # running: nothing to do
        store.finish(run_id, "cancelled", error="cancelled by user")
        assert not stop.look()  # rank 0 is still in its loop: it will write the step
        store.register_rank(run_id, 0, status="failed", error="killed")
        assert stop.look() and stop.requested and stop.stop_step == 7
    finally:
        stop.close()
