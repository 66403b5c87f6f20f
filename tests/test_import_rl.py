"""Reinforcement-learning logs as Stable-Baselines3 prints them (its ``human`` logger's boxed tables)."""

from __future__ import annotations

from runner.importers import read_upload, sb3
from traindoc.handoff import from_imported

SB3_CONSOLE = b"""Using cpu device
Logging to ./ppo_tensorboard/PPO_2
---------------------------------
| rollout/           |          |
|    ep_len_mean     | 200      |
|    ep_rew_mean     | -198     |
| time/              |          |
|    fps             | 975      |
|    iterations      | 1        |
|    time_elapsed    | 2        |
|    total_timesteps | 2048     |
---------------------------------
------------------------------------------
| rollout/                |              |
|    ep_len_mean          | 200          |
|    ep_rew_mean          | -197         |
| time/                   |              |
|    total_timesteps      | 4096         |
| train/                  |              |
|    entropy_loss         | -2.8         |
|    loss                 | 12.3         |
|    policy_gradient_loss | -0.00162     |
|    value_loss           | 99.9         |
|    env                  | Pendulum-v1  |
------------------------------------------
Eval num_timesteps=5000, episode_reward=-150.00 +/- 3.10
------------------------------------------
| rollout/                |              |
|    ep_rew_mean          | -1.2e+02     |
| time/                   |              |
|    total_timesteps      | 6144         |
| train/                  |              |
|    loss                 | 8.56         |
|    value_loss           | 54.2         |
------------------------------------------
Training complete
"""


def test_sb3_console_tables_are_rows_at_their_total_timesteps() -> None:
    (run,) = read_upload("output.log", SB3_CONSOLE)
    assert run.format == "sb3"
    rd = from_imported(run)
    loss = rd.series["train/loss"]
    assert loss.steps.tolist() == [4096, 6144]
    assert loss.values.tolist() == [12.3, 8.56]
    names = set(run.mapping)
    assert {"rollout/ep_rew_mean", "train/value_loss", "train/entropy_loss"} <= names
    assert "train/env" not in names  # a text cell is not a metric
    assert "time/total_timesteps" not in names  # it is the x-axis
    reward = run.frame[run.frame.name == "rollout/ep_rew_mean"]
    assert reward.value.tolist() == [-198.0, -197.0, -120.0]


def test_a_pipe_table_without_section_rows_is_not_taken_for_sb3() -> None:
    assert not sb3.looks_like("| epoch | loss |\n|-------|------|\n| 1 | 0.9 |\n| 2 | 0.7 |\n")


MONITOR = (b'#{"t_start": 1713454733.7462618, "env_id": "CartPole-v1"}\r\n'
           b"r,l,t,is_success\r\n9.0,9,0.012,0\r\n22.0,22,0.04,0\r\n48.0,48,0.1,1\r\n")


def test_sb3_monitor_csv_is_reward_and_length_at_the_environment_steps_taken() -> None:
    (run,) = read_upload("monitor.csv", MONITOR)
    assert run.format == "sb3_monitor"
    reward = run.frame[run.frame.name == "rollout/ep_rew"]
    assert reward.step.tolist() == [9, 31, 79]
    assert reward.value.tolist() == [9.0, 22.0, 48.0]
    assert "is_success" in set(run.mapping)
    assert run.config.get("env_id") == "CartPole-v1"
