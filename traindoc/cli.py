"""The ``traindoc`` command: ``dashboard``, the runner's commands, and ``diagnose FILE...``.

    traindoc dashboard [--db FILE] [--port 8501]
    traindoc run|launch|sweep|list|cancel|presets|script ...   (python -m runner ...)
    traindoc diagnose FILE... [--json] [--fail-on LEVEL]       (python -m diagnostics ...)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

RUNNER_COMMANDS = ("run", "launch", "sweep", "lr-find", "list", "cancel", "delete", "tag", "rename", "zoom",
                   "presets", "script")
USAGE = ("usage: traindoc {dashboard,diagnose," + ",".join(RUNNER_COMMANDS) + "} ...\n"
         "  dashboard [--db FILE] [--port N]   the Streamlit dashboard, on 127.0.0.1 only\n"
         "  diagnose FILE... [--json] [--fail-on LEVEL]   findings for log files; exit 1 at LEVEL (CI gate)\n"
         "  " + "/".join(RUNNER_COMMANDS) + "   the runner (python -m runner COMMAND --help)")


PACKAGE = Path(__file__).resolve().parent
# where the dashboard lives: installed, inside the package (setup.py copies it there); in a checkout
# (or an editable install), at the top of the checkout beside traindoc/, as the design card has it
DASHBOARD_HOMES = (PACKAGE / "_dashboard", PACKAGE.parent)


def app_path() -> Path:
    """The dashboard's main script, found beside this package: never a top-level ``app`` on the path,
    which could be any project's (the folder the command runs in, another Streamlit app)."""
    for home in DASHBOARD_HOMES:
        if (home / "app.py").is_file() and (home / "pages" / "run.py").is_file():
            return home / "app.py"
    raise RuntimeError("traindoc's dashboard (app.py and its pages/) is not installed; reinstall traindoc")


def dashboard_command(db: str | None, port: int) -> list[str]:
    """``streamlit run app.py`` with the checkout's safety settings as flags (an installed app has no
    .streamlit/config.toml beside it): loopback only, headless, no file watcher over site-packages."""
    command = [sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.address", "127.0.0.1",
               "--server.port", str(port), "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false", "--server.runOnSave", "false",
               "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal", "--theme.base", "light"]
    return command + (["--", "--db", db] if db else [])


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in RUNNER_COMMANDS:
        from runner.cli import main as runner_main
        from traindoc.live_doctor import for_run

        return runner_main([command, *rest], watch=for_run)  # the live doctor watches what trains here
    if command == "diagnose":
        from diagnostics.cli import main as diagnostics_main

        return diagnostics_main(rest)
    if command == "dashboard":
        parser = argparse.ArgumentParser(prog="traindoc dashboard")
        parser.add_argument("--db", help="SQLite file (default: $TRAINDOC_DB or ./traindoc.db)")
        parser.add_argument("--port", type=int, default=8501)
        opts = parser.parse_args(rest)
        command = dashboard_command(opts.db, opts.port)
        os.execv(command[0], command)  # become streamlit: a Ctrl-C or a kill reaches the server itself
    print(f"error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
