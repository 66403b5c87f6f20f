"""The upload page under AppTest: empty state, an overfitting Lightning log diagnosed, errors as st.error,
a mapping correction, and two runs grouped like a sweep."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest_ui import ROOT
from import_golden import FIXTURES
from streamlit.testing.v1 import AppTest

from runner.store import Store

pytestmark = pytest.mark.slow  # full dashboard runs (AppTest) importing and diagnosing uploads

LIGHTNING = (FIXTURES / "lightning/version_0/metrics.csv").read_bytes()


def _page(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("TRAINDOC_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/upload.py")
    return at.run()


def _upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def test_empty_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(tmp_path / "t.db", monkeypatch)
    assert not at.exception and "No uploaded runs yet" in at.info[0].value
    assert "Lightning CSVLogger metrics.csv" in at.caption[0].value


def test_overfitting_log_is_diagnosed_and_bad_file_is_an_error(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    at = _upload(_page(tmp_path / "t.db", monkeypatch), ("metrics.csv", LIGHTNING), ("empty.csv", b""))
    assert not at.exception
    assert [re.sub(r"\\(.)", r"\1", e.value) for e in at.error] == ["empty.csv: is empty (0 bytes)"]
    assert any("Overfitting" in m.value for m in at.markdown)  # the finding card's title
    assert len(at.get("plotly_chart")) == 1
    runs = Store(tmp_path / "t.db").runs()
    assert runs["source"].tolist() == ["upload"] and runs["name"].tolist() == ["metrics"]


def test_mapping_correction_renames_the_stored_metric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = b"step,loss,test_loss\n1,.5,.6\n2,.4,\n3,.3,.7\n4,.2,\n"
    at = _upload(_page(tmp_path / "t.db", monkeypatch), ("m.csv", log))
    run_id = int(Store(tmp_path / "t.db").runs()["id"].iloc[0])
    # AppTest cannot type into a data editor; its edits live in session state under the widget key
    at.session_state[f"map-{run_id}"] = {"edited_rows": {1: {"name": "test/loss"}}, "added_rows": [],
                                         "deleted_rows": []}
    at.run()
    assert not at.exception
    assert Store(tmp_path / "t.db").metric_names(run_id) == ["test/loss", "train/loss"]


def test_two_uploads_grouped_by_the_parameter_that_differs(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    at = _upload(_page(tmp_path / "t.db", monkeypatch), ("eps_big.csv", b"step,loss\n1,0.9\n2,0.8\n"),
                 ("eps_small.csv", b"step,loss\n1,0.9\n2,0.2\n"))
    param = next(t for t in at.text_input if t.label.startswith("Hyper"))
    assert param.value == ""  # no made-up key prefilled: the user names the one that differs
    param.input("optim.eps")
    at.session_state["tag-values"] = {"edited_rows": {0: {"value": "0.1"}, 1: {"value": "1e-8"}},
                                      "added_rows": [], "deleted_rows": []}
    at.button[0].click().run()
    assert not at.exception and any("Grouped as comparison" in s.value for s in at.success)
    store = Store(tmp_path / "t.db")
    (group,) = store.groups()["id"].tolist()
    links = [link.proto for link in at.get("page_link")]  # one click to the comparison, not directions
    assert any(link.page == "compare" and link.query_string == f"group={group}" for link in links)
    configs = {r["name"]: store.run(int(r["id"]))["config"]["optim.eps"] for r in store.runs(group_id=group)
               .to_dict("records")}
    assert configs == {"eps_big": 0.1, "eps_small": 1e-8}


def test_a_bad_file_alone_says_nothing_was_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _upload(_page(tmp_path / "t.db", monkeypatch), ("corrupt.csv", bytes(range(256)) * 8))
    assert not at.exception and at.error[0].value.startswith("corrupt\\.csv")
    assert "Nothing was imported from these files" in at.info[0].value  # not "No uploaded runs yet"


class _Slot:
    """A stand-in for ``st.empty()``: records the bar's values and whether it was taken away."""

    def __init__(self) -> None:
        self.values: list[tuple[float, str]] = []
        self.emptied = False

    def progress(self, value: float, text: str = "") -> _Slot:
        self.values.append((value, text))
        return self

    def empty(self) -> None:
        self.emptied = True


def test_the_file_bar_appears_after_a_second_and_follows_the_import(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A file imported within a second shows no bar; a longer one shows its bytes read, then its rows
    written, under the file's name (issue 23)."""
    import numpy as np

    from runner.importers import stream, tabular
    from runner.importers.upload import import_upload
    from traindoc.ui.upload_bar import FileProgress

    now = [0.0]
    quick = _Slot()
    bar = FileProgress(quick, "small.csv", clock=lambda: now[0])
    bar(0.5, "reading small.csv")
    bar.close()
    assert quick.values == [] and quick.emptied

    slow = _Slot()
    bar = FileProgress(slow, "big.csv", clock=lambda: now[0])

    def tick(fraction: float, what: str) -> None:
        now[0] += 0.1  # a tenth of a second per step of the import
        bar(fraction, what)

    lines = "".join(f"{i},{1 / (i + 1):.5f},{np.sin(i):.5f}\n" for i in range(2000))
    monkeypatch.setattr(stream, "STREAM_MIN_BYTES", 0)  # streamed as a big table is, in small chunks
    monkeypatch.setattr(stream, "CHUNK_LINES", 20)
    monkeypatch.setattr(tabular, "READ_CHUNK_ROWS", 100)
    outcome = import_upload(Store(tmp_path / "b.db"), "big.csv", ("step,loss,acc\n" + lines).encode(), progress=tick)
    bar.close()
    assert outcome.error is None and slow.emptied
    fractions = [v for v, _ in slow.values]
    assert len(fractions) > 10 and fractions == sorted(fractions) and fractions[-1] == 1.0
    texts = [t for _, t in slow.values]
    assert all(t.startswith("big\\.csv: ") for t in texts)
    assert any("reading" in t and "MB" in t for t in texts) and any("writing" in t for t in texts)
