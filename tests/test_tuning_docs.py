"""docs/tuning-tools.md as written: its shell commands parse with the real CLIs, its Python blocks run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from test_readme import _parse

from diagnostics.cli import build_parser as diagnostics_parser
from runner.cli import _parser as runner_parser

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "tuning-tools.md").read_text()
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", DOC, re.S)]
COMMANDS = [line for lang, code in BLOCKS if lang == "bash" for line in code.splitlines() if line.strip()]
PYTHON = [code for lang, code in BLOCKS if lang == "python"]


def test_the_page_shows_commands_and_code() -> None:
    assert len(COMMANDS) >= 5 and len(PYTHON) >= 2


@pytest.mark.parametrize("command", COMMANDS)
def test_doc_command_parses(command: str) -> None:
    argv = shlex.split(command)
    parsers = {"runner": runner_parser, "diagnostics": diagnostics_parser}
    assert argv[:2] == ["python", "-m"] and argv[2] in parsers, command
    _parse(parsers[argv[2]](), argv[3:])


@pytest.mark.parametrize("code", PYTHON, ids=lambda c: c.splitlines()[0])
@pytest.mark.slow
def test_doc_python_block_runs(code: str, tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(code)
    env = {**{k: v for k, v in os.environ.items() if k not in ("TRAINDOC_DB", "TRAINDOC_RUN_ID")},
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
