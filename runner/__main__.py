"""``python -m runner``: the entry point of the runner's commands, of every background run and of the
scheduler. As the program that starts the runs it composes the floors: it hands the live doctor
(``traindoc.live_doctor``, store + diagnostics) to the training loop, which never imports it."""

import sys

from runner import boot

boot.prepare(sys.argv[1:])  # a background run beats, a scheduler takes its lock: before heavy imports

from runner.cli import main  # noqa: E402 - deliberately after the cheap entry
from traindoc.live_doctor import for_run  # noqa: E402 - the watcher of each run trained here

raise SystemExit(main(watch=for_run))
