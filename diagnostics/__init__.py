"""traindoc diagnostics: a ``RunData`` in, findings out. Pure: no Streamlit, no SQL, no runner.

from diagnostics import RunData, diagnose, compare
findings = diagnose(RunData.from_frame(frame, config, meta))   # the caller reads the frame
(``traindoc.handoff.load_run(store, run_id)`` reads one from the store.)
"""

import sys

if sys.argv[:1] == ["-m"] and "pandas" not in sys.modules:
    # ``python -m diagnostics``: Python sets argv[0] to "-m" while it locates the module (documented in
    # sys.argv). A diagnosis is a short-lived process over a few thousand rows: it does without pyarrow,
    # which pandas would load for Arrow-backed strings (38 MiB and ~0.3 s; the output is the same).
    sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]

import diagnostics.rules  # noqa: E402, F401  (registers every rule)
from diagnostics.compare import compare  # noqa: E402
from diagnostics.engine import diagnose, sort_findings, worst  # noqa: E402
from diagnostics.findings import Evidence, Finding, Fix  # noqa: E402
from diagnostics.rundata import RunData, Series  # noqa: E402

__all__ = ["Evidence", "Finding", "Fix", "RunData", "Series", "compare", "diagnose", "sort_findings", "worst"]
