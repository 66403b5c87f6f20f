import sys

from runner import boot

boot.prepare(sys.argv[1:])  # a background run beats, a scheduler takes its lock: before heavy imports

from runner.cli import main  # noqa: E402 - deliberately after the cheap entry

raise SystemExit(main())
