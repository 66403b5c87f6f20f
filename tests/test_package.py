"""The package as a user gets it: a wheel, installed outside the checkout, its command and the README snippet."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "requirements.txt", "app.py", "traindoc", "runner",
           "diagnostics", "pages")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (the checkout stays clean) and installed into a folder."""
    base = tmp_path_factory.mktemp("package")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                        if (ROOT / name).is_dir() else {}))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), str(src)],
                   check=True, capture_output=True, timeout=240)
    wheel = next((base / "dist").glob("traindoc-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for wanted in ("traindoc/_dashboard/app.py", "traindoc/_dashboard/pages/run.py", "traindoc/ui/shared.py",
                   "traindoc/cli.py", "runner/store/scripts.py", "diagnostics/rules/divergence.py",
                   "runner/importers/__init__.py", "traindoc/assets/icon.png"):
        assert wanted in names, f"{wanted} missing from the wheel"
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    # the dashboard is the package's: no top-level `app` or `pages` to collide with a user's Streamlit project
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"traindoc", "runner", "diagnostics"}, tops
    target = base / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=240)
    return target


def _env(target: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRAINDOC_DB", "TRAINDOC_RUN_ID", "PYTHONPATH")}
    return {**env, "PYTHONPATH": str(target)}


def test_readme_snippet_runs_from_any_folder(installed: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Your own training script"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "train.py").write_text(snippet)
    out = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=_env(installed), capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr, out.stderr  # the example a user copies runs clean
    assert "Finding(" not in out.stdout and ": " in out.stdout  # findings print as readable lines
    with sqlite3.connect(tmp_path / "traindoc.db") as conn:
        status, source, config = conn.execute("SELECT status, source, config FROM runs").fetchone()
        n = conn.execute("SELECT COUNT(*) FROM metrics WHERE name='train/loss'").fetchone()[0]
    assert (status, source, n) == ("finished", "api", 1000)
    assert '"optim.lr": 0.001' in config


def test_installed_command_uses_the_installed_modules(installed: Path, tmp_path: Path) -> None:
    env = _env(installed)
    (tmp_path / "app.py").write_text("raise SystemExit('a project of the user: not the dashboard')\n")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "run.py").write_text("")
    where = subprocess.run([sys.executable, "-c", "import traindoc, runner; from traindoc.cli import app_path;"
                            "print(traindoc.__file__, runner.__file__, app_path())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert all(p.startswith(str(installed)) for p in where.stdout.split())
    assert where.stdout.split()[-1] == str(installed / "traindoc" / "_dashboard" / "app.py")
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,step,train_loss,val_loss\n" + "".join(
        f"{e},{e * 10},{1 / (e + 1):.4f},{0.5 + 0.05 * e:.4f}\n" for e in range(20)))
    for argv in (["diagnose", str(csv)], ["list", "--db", str(tmp_path / "x.db")], ["presets"]):
        out = subprocess.run([sys.executable, "-m", "traindoc", *argv], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, (argv, out.stderr)
    assert (installed / "bin" / "traindoc").is_file()


def test_the_installed_dashboard_runs_from_any_folder(installed: Path, tmp_path: Path) -> None:
    """``traindoc dashboard`` runs the installed app.py: its pages load and show the runs of this folder's store."""
    from traindoc import start_run

    with start_run("here", db=tmp_path / "traindoc.db") as run:
        run.log({"train/loss": 1.0}, step=0)
    script = ("from streamlit.testing.v1 import AppTest\nfrom traindoc.cli import app_path\n"
              "at = AppTest.from_file(str(app_path()), default_timeout=60).run()\n"
              "assert not at.exception, [e.message for e in at.exception]\n"
              "print(app_path()); print(at.dataframe[0].value.to_string())")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(installed), capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == str(installed / "traindoc" / "_dashboard" / "app.py")
    assert "here" in out.stdout
