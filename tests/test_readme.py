"""The code examples of the README and of ``docs/*.md``, as written: Python blocks run, shell commands parse.

A shell command is checked by the parser of the command it names (runner, diagnostics, the
``traindoc`` command): a renamed flag or a removed subcommand fails here, before a user finds
it. Commands that install, serve or run the suite (pip, streamlit, bash .ci/run) are left to
the set-up contract; the first Python block (the logging API) runs against an installed wheel
in tests/test_package.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from diagnostics.cli import build_parser as diagnostics_parser
from runner.cli import _parser as runner_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # the README keeps the start; docs/ the depth


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language, code) of each fenced block of one Markdown file."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", path.read_text(), re.S)]


BLOCKS = [block for path in DOCS for block in blocks(path)]
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
RUN_ELSEWHERE = "with traindoc.start_run(\"my-experiment\""  # tests/test_package.py runs it installed
SKIPPED_PROGRAMS = ("pip", "streamlit", "bash")  # install, serve, the suite: the set-up contract


def shell_commands(found: list[tuple[str, str]] = BLOCKS) -> list[str]:
    lines = []
    for lang, code in found:
        if lang not in ("bash", "yaml"):
            continue
        for line in code.splitlines():
            if lang == "yaml":  # a CI snippet: its ``run:`` steps are shell commands
                line = line.strip().removeprefix("- ").removeprefix("run:") if "run:" in line else ""
            command = line.split(" #")[0].strip()
            if command and not command.startswith(SKIPPED_PROGRAMS):
                lines += [part.strip() for part in command.split("&&")]
    return lines


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"{shlex.join(argv)}: {err.getvalue().strip()}") from exc


@pytest.mark.parametrize("command", shell_commands())
def test_readme_shell_command_parses(command: str) -> None:
    argv = shlex.split(command)
    if argv[:3] == ["python", "-m", "runner"]:
        _parse(runner_parser(), argv[3:])
    elif argv[:3] == ["python", "-m", "diagnostics"]:
        _parse(diagnostics_parser(), argv[3:])
    elif argv[0] == "traindoc":
        from traindoc.cli import RUNNER_COMMANDS

        sub = argv[1]
        if sub == "diagnose":
            _parse(diagnostics_parser(), argv[2:])
        elif sub in RUNNER_COMMANDS:
            _parse(runner_parser(), argv[1:])
        else:
            assert sub == "dashboard", f"traindoc has no command {sub!r}"
    elif argv[0] == "ray":  # starting a cluster: checked by Ray's own parser, without running it
        scripts = pytest.importorskip("ray.scripts.scripts")
        scripts.cli.commands[argv[1]].make_context(argv[1], argv[2:])
    else:
        raise AssertionError(f"the README shows a command this test does not know how to check: {command}")


def test_readme_shows_shell_commands_and_python_blocks() -> None:
    readme = blocks(ROOT / "README.md")
    assert len(shell_commands(readme)) >= 6 and sum(lang == "python" for lang, _ in readme) >= 2
    assert len(shell_commands()) >= 20 and len(PYTHON) >= 5  # the checks above really see README and docs/
    assert {"reliability.md", "logging-api.md", "multi-process.md"} <= {p.name for p in DOCS}


def test_readme_is_short_and_links_resolve() -> None:
    """A newcomer reads the README in minutes: 250 lines at most, the depth one link away in docs/."""
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.name} links to a missing {target}"
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("code", [c for c in PYTHON if RUN_ELSEWHERE not in c], ids=lambda c: c.splitlines()[0])
@pytest.mark.slow
def test_readme_python_block_runs_as_written(code: str, tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(code)
    env = {**{k: v for k, v in os.environ.items() if k not in ("TRAINDOC_DB", "TRAINDOC_RUN_ID")},
           "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
