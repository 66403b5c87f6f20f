"""``python -m traindoc``: the same as the ``traindoc`` command."""

from traindoc.cli import main

raise SystemExit(main())
