"""Fixtures shared by the dashboard tests: databases holding real (small) runs.

Imported by the AppTest page tests and, through tests/conftest_browser.py, by the
browser tests (not a conftest.py: the lead owns that). Nothing here imports playwright,
so AppTest-only files collect without it. Runs come from the runner's own presets,
trained in-process, so the pages are tested on exactly what a user's database holds.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store
from tests.once import built_once

ROOT = Path(__file__).resolve().parent.parent
FAST_PRESET = "softmax_nll"  # ~1.5 s on a CPU, and it has a pathology for the findings to show


def make_db(path: Path, presets: tuple[str, ...] = (FAST_PRESET,)) -> dict[str, int]:
    """A run that failed on a bad config, then finished preset runs (newest first in the UI); name → id."""
    store = Store(path)
    run_id = store.create_run("bad_lr", {**PRESETS["healthy"].config().to_flat(), "optim.lr": -1.0})
    assert execute(store, run_id) == "failed"
    ids = {"bad_lr": run_id}
    for name in presets:
        run_id = store.create_run(name, PRESETS[name].config().to_flat())
        assert execute(store, run_id) == "finished"
        ids[name] = run_id
    store.close()
    return ids


def real_db_in(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """One failed and one finished real run, built once per session and shared by the UI modules.

    The tests only read it; it is built once for the whole session (every xdist worker reads the
    same file, tests/once.py), so the page tests and the browser tests (separate modules,
    separate fixtures) train the preset only once.
    """
    folder, ids = built_once(tmp_path_factory, "ui-real-db", lambda f: make_db(f / "traindoc.db"))
    return folder / "traindoc.db", ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:  # load 20: a minute+
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def serve(db: Path, **env_extra: str) -> Iterator[str]:
    """`streamlit run app.py` on a free local port over ``db``; always stopped."""
    port = _free_port()
    env = {**os.environ, "TRAINDOC_DB": str(db), **env_extra}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def app_test(db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **query: str) -> Any:
    """The dashboard run once by AppTest on ``db``, optionally on ``page`` with URL ``query`` parameters."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TRAINDOC_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if page:
        at.switch_page(page)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def page_text(at: Any) -> str:
    """Everything the page says, in one string, for "does it tell the user X" checks."""
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "warning", "success", "title",
                                  "subheader", "code") for e in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(p) for p in parts))  # undo md() escaping
