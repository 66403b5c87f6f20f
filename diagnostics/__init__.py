"""traindoc diagnostics: a ``RunData`` in, findings out. Pure: no Streamlit, no SQL, no runner.

from diagnostics import RunData, diagnose, compare
findings = diagnose(RunData.from_frame(frame, config, meta))   # the caller reads the frame
(``traindoc.handoff.load_run(store, run_id)`` reads one from the store.)
"""

import diagnostics.rules  # noqa: F401  (registers every rule)
from diagnostics.compare import compare
from diagnostics.engine import diagnose, sort_findings
from diagnostics.findings import Evidence, Finding, Fix, worst
from diagnostics.rundata import RunData, Series

__all__ = ["Evidence", "Finding", "Fix", "RunData", "Series", "compare", "diagnose", "sort_findings", "worst"]
