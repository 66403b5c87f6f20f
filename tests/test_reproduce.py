"""The honest fix loop: only reproducible runs are re-launched; an upload gets code changes and a tagged re-run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_ui import ROOT
from streamlit.testing.v1 import AppTest

from diagnostics import diagnose
from diagnostics.verify import group_verdicts
from runner import reproduce
from runner.importers import read_path, save
from runner.store import Store
from traindoc.handoff import fix_group, load_run


def _upload(store: Store, tmp_path: Path, name: str, overfit: bool) -> int:
    """A Lightning-style metrics.csv: the training loss falls; the validation loss turns up when ``overfit``."""
    lines = ["epoch,step,train_loss,val_loss"]
    for e in range(30):
        val = 1.0 / (e + 1) + (0.02 * max(0, e - 8) if overfit else 0.0) + 0.3
        lines.append(f"{e},{(e + 1) * 10},{1.0 / (e + 1):.5f},{val:.5f}")
    path = tmp_path / name / "metrics.csv"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    (run_id,) = save(store, read_path(path))
    return run_id


def test_an_uploaded_run_is_never_relaunched_and_its_reupload_is_the_after_run(store: Store, tmp_path: Path) -> None:
    before = _upload(store, tmp_path, "before", overfit=True)
    run = store.run(before)
    assert "uploaded" in reproduce.why_not_reproducible(store, run)
    finding = next(f for f in diagnose(load_run(store, before)) if f.rule == "overfitting")
    patched = [(f.text, dict(f.config_patch)) for f in finding.fixes if f.config_patch]
    with pytest.raises(ValueError, match="cannot be re-run"):
        reproduce.submit_fix(store, run, finding.rule, finding.severity, patched)
    assert store.groups().empty and len(store.runs()) == 1  # nothing queued, no verdict against another model
    after = _upload(store, tmp_path, "after", overfit=False)
    group_id = reproduce.tag_after(store, before, after, finding.rule, finding.severity, finding.fixes[0].text)
    assert [int(i) for i in store.runs(group_id=group_id).id] == [after]
    (verdict,) = group_verdicts(*fix_group(store, group_id))
    assert verdict.verdict == "verified", verdict.reason  # the user's own before and after, compared
    assert reproduce.launchable_from(store.runs()).empty


def test_run_page_offers_code_changes_not_a_launch_for_an_upload(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "t.db"
    store = Store(db)
    before = _upload(store, tmp_path, "before", overfit=True)
    after = _upload(store, tmp_path, "after", overfit=False)
    monkeypatch.setenv("TRAINDOC_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.switch_page("pages/run.py")
    at.query_params["run"] = str(before)
    at.run()
    assert not at.exception
    labels = [b.label for b in at.button]
    assert not any("Try" in label for label in labels), labels
    said = "\n".join(str(m.value) for m in [*at.markdown, *at.caption])
    assert "cannot re-run this training" in said and "in your training code" in said
    assert store.groups().empty
    at.selectbox(key=f"after-{before}-overfitting").set_value(after).run()
    at.button(key=f"after-{before}-overfitting-tag").click().run()
    assert not at.exception
    (group,) = store.groups_of_parent(before)
    assert [int(i) for i in store.runs(group_id=int(group["id"])).id] == [after]
    assert "verified" in "\n".join(str(m.value) for m in at.markdown)
