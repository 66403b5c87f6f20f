"""traindoc diagnostics: a ``RunData`` in, findings out. Pure: no Streamlit, no SQL.

from diagnostics import RunData, diagnose, compare
findings = diagnose(RunData.from_store(store, run_id))
"""

import diagnostics.rules  # noqa: F401  (registers every rule)
from diagnostics.compare import compare
from diagnostics.engine import diagnose, sort_findings
from diagnostics.findings import Evidence, Finding, Fix, worst
from diagnostics.rundata import RunData, Series

__all__ = ["Evidence", "Finding", "Fix", "RunData", "Series", "compare", "diagnose", "sort_findings", "worst"]
