"""bench/peers.py's mapping and bookkeeping, without running any peer (no subprocess, milliseconds).

The side-by-side table is only fair if every mapped id lands on a rule the scorer knows,
an unmapped id still counts as an alarm, and an item is unread only when none of its files
could be read; these pin that down with stub peers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import peers
from bench.calibrate import LABEL_RULES, Item, score


def test_every_mapping_lands_on_a_scored_rule() -> None:
    rules = {rule for _, rule in LABEL_RULES}
    for peer, table in peers.MAPPINGS.items():
        assert set(table.values()) <= rules, peer
        assert peers.INFO_ONLY[peer] <= set(table), peer
    assert set(peers.MAPPINGS) == set(peers.PEERS) == set(peers.INFO_ONLY)


def test_unmapped_ids_stay_as_alarms_but_fire_no_label() -> None:
    found = peers.to_rules("losslint", [("loss_spike", "warning"), ("step_backtrack", "warning")])
    assert found == [("divergence", "warning"), ("losslint:step_backtrack", "warning")]
    healthy = Item("h", [Path("h.csv")], {"healthy": True, "divergence": False}, "corpus", "test")
    s = score([healthy], {"h": [("losslint:step_backtrack", "warning")]})
    assert len(s.alarms) == 1 and peers.mapped_alarms(s) == 0 and s.labels["divergence"]["fp"] == 0


def test_info_only_ids_cannot_fire() -> None:
    assert peers.fired_labels("losslint") == 1  # divergence alone
    assert peers.fired_labels(None) == len(LABEL_RULES)


def test_an_item_is_unread_only_when_every_file_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def stub(path: Path, timeout: float) -> list[tuple[str, str]]:
        if path.name.startswith("bad"):
            raise peers.Unreadable("cannot guess format")
        if path.name.startswith("odd"):
            raise KeyError("findings")
        return [("overfitting", "warning")]

    monkeypatch.setitem(peers.PEERS, "trainspotter", stub)
    items = [Item("mixed", [Path("bad1.log"), Path("good.csv")], {"overfitting": True}, "population", "test"),
             Item("unread", [Path("bad2.log")], {"overfitting": True}, "population", "test"),
             Item("odd", [Path("odd.json")], {"overfitting": True}, "population", "test")]
    fired = peers.judge_peer("trainspotter", items, timeout=1, jobs=5)
    assert fired["mixed"] == [("overfitting", "warning")]
    assert fired["unread"] == "cannot guess format"
    assert isinstance(fired["odd"], str) and "KeyError" in fired["odd"]
    s = score(items, fired)
    assert (s.labels["overfitting"]["tp"], s.labels["overfitting"]["fn"], len(s.unreadable)) == (1, 2, 2)


def test_an_empty_set_prints_a_line_not_a_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert peers.main(["--sets", "reallogs,population", "--reallogs", str(tmp_path / "none"),
                       "--population", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert out.count("no labelled files found") == 2 and "|" not in out
