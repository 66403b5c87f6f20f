"""The learning-rate range test: the suggestion on literal curves, the CLI on a real tiny run (the run
stays in the store), and the Launch page's button that draws the curve and fills the form's lr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest_ui import app_test, page_text

from runner import lr_find
from runner.cli import main
from runner.store import Store


def _curve(steps: int = 100, blow_up_at: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A loss that is flat at small lr, falls fastest around lr 1e-3, and explodes past ``blow_up_at``."""
    lrs = lr_find.lrs_for(steps)
    x = np.log10(lrs)
    loss = 2.0 - 1.5 / (1 + np.exp(-3 * (x + 3))) + np.where(lrs > blow_up_at, (lrs / blow_up_at) ** 3, 0)
    return lrs, loss


def test_the_suggestion_is_the_steepest_descent_before_the_blow_up() -> None:
    lrs, loss = _curve()
    found = lr_find.suggest(lrs, loss)
    assert found.stopped_at is not None and lrs[found.stopped_at] > 1.0  # the explosion is seen...
    # the suggestion: where the smoothed loss falls fastest, which the EMA puts a little after the raw
    # curve's steepest point (1e-3), within a decade
    assert 1e-3 < found.lr < 1e-2
    assert "falls fastest at lr" in found.reason and "blew up" in found.reason


def test_a_loss_that_never_falls_gets_no_suggestion() -> None:
    lrs = lr_find.lrs_for(50)
    found = lr_find.suggest(lrs, np.linspace(1.0, 1.2, 50))
    assert found.lr is None and "never fell" in found.reason


def test_a_blow_up_at_once_is_too_early_to_judge() -> None:
    lrs = lr_find.lrs_for(30)
    found = lr_find.suggest(lrs, np.r_[1.0, 1.0, 100.0, np.full(27, 1e4)])
    assert found.lr is None and found.stopped_at == 2 and "too few steps" in found.reason


def test_blow_up_is_a_factor_over_the_best_smoothed_loss() -> None:
    assert lr_find.blew_up(np.array([1.0, 0.5, 0.4, 1.5, 1.7])) == 4  # 1.7 > 4 × 0.4
    assert lr_find.blew_up(np.array([1.0, 0.5, np.nan])) == 2
    assert lr_find.blew_up(np.array([1.0, 0.9, 0.8])) is None


def test_lr_find_cli_prints_a_suggestion_in_range_and_keeps_the_run(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "lr.db"
    assert main(["--db", str(db), "lr-find", "--preset", "healthy"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("suggested optim.lr=")
    printed = float(out.split("=")[1].split()[0])
    assert lr_find.MIN_LR <= printed <= lr_find.MAX_LR
    store = Store(db)
    run = store.run(1)
    assert run["status"] == "finished" and store.tags() == {1: ["lr-find"]}
    assert run["meta"]["preset"] == "healthy" and run["meta"]["lr_find"]["lr"] == pytest.approx(printed, rel=1e-2)
    lrs, losses, meta = lr_find.stored_curve(store, 1)
    assert len(lrs) == len(losses) == meta["tested"] and 10 < len(lrs) <= lr_find.DEFAULT_STEPS
    assert np.all(np.diff(lrs) > 0) and lrs[0] == pytest.approx(lr_find.MIN_LR)  # grows every step


def test_lr_find_cli_rejects_an_empty_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "x.db"), "lr-find", "--min-lr", "1", "--max-lr", "0.1"]) == 2
    assert "0 < min-lr < max-lr" in capsys.readouterr().err


@pytest.mark.slow  # a real range test behind the Launch page
def test_launch_page_finds_a_learning_rate_and_fills_the_form(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(tmp_path / "l.db", monkeypatch, "pages/launch.py")
    at.selectbox(key="launch:start").select("preset · healthy").run()
    prefix = "preset · healthy"
    at.text_input(key=f"{prefix}:train.epochs").input("7").run()
    at.button(key=f"{prefix}:lr-find").click().run(timeout=300)
    assert not at.exception
    run = Store(tmp_path / "l.db").run(1)
    suggested = run["meta"]["lr_find"]["lr"]
    assert f"Run #1: the smoothed loss falls fastest at lr {suggested:.3g}" in page_text(at)
    assert at.get("plotly_chart")  # the loss-vs-lr chart
    at.button(key=f"{prefix}:lr-find-use").click().run()
    assert at.text_input(key=f"{prefix}:optim.lr").value == f"{suggested:.3g}"
    assert at.text_input(key=f"{prefix}:train.epochs").value == "7"  # what the user typed stays
    assert not at.warning
